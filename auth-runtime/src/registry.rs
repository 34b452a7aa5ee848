//! The optional registry of an application's login types, scopes, roles, policy actions and
//! resources.
//!
//! Declare it once with [`registry!`](crate::registry) and name it in the router:
//! `#[secure_router(registry = AppRegistry, routes(...))]`. Every literal in the `requires`,
//! `login_type`, `roles` and `policy` attributes of the listed handlers must then be declared, or the
//! crate does not compile (with a "did you mean" where one is close). The check runs in `const`
//! evaluation, so it costs nothing at run time.

/// The names an application declares. Implemented by [`registry!`](crate::registry).
pub trait Registry: 'static {
    /// The login types.
    const LOGIN_TYPES: &'static [&'static str];
    /// The scopes handlers may require.
    const SCOPES: &'static [&'static str];
    /// The policy actions.
    const ACTIONS: &'static [&'static str];
    /// The policy resources.
    const RESOURCES: &'static [&'static str];
    /// The roles of `#[roles(...)]`.
    const ROLES: &'static [&'static str];
}

/// Which list of a [`Registry`] a name belongs to.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum NameKind {
    LoginType,
    Scope,
    Action,
    Resource,
    Role,
}

/// Panics (a compile error, in `const` evaluation) if `name` is not declared in `R`.
#[doc(hidden)]
pub const fn check_declared<R: Registry>(kind: NameKind, name: &str) {
    let (declared, what, key) = match kind {
        NameKind::LoginType => (R::LOGIN_TYPES, "login type", "login_types"),
        NameKind::Scope => (R::SCOPES, "scope", "scopes"),
        NameKind::Action => (R::ACTIONS, "policy action", "actions"),
        NameKind::Resource => (R::RESOURCES, "policy resource", "resources"),
        NameKind::Role => (R::ROLES, "role", "roles"),
    };
    let mut best: Option<&str> = None;
    let mut best_distance = usize::MAX;
    let mut i = 0;
    while i < declared.len() {
        if auth_grammar::str_eq(declared[i], name) {
            return;
        }
        let d = auth_grammar::edit_distance(declared[i], name);
        if d < best_distance {
            best_distance = d;
            best = Some(declared[i]);
        }
        i += 1;
    }
    let limit = auth_grammar::suggestion_limit(name);
    let msg = Message::new()
        .push(what)
        .push(" `")
        .push(name)
        .push("` is not declared in the registry");
    let msg = match best {
        Some(b) if best_distance <= limit => msg.push("; did you mean `").push(b).push("`?"),
        _ => msg
            .push("; add it to `")
            .push(key)
            .push("` in `registry!` if it is meant to exist"),
    };
    panic!("{}", msg.as_str())
}

/// A fixed-size string buffer usable in `const fn`, for the compile error message.
struct Message {
    bytes: [u8; 512],
    len: usize,
}

impl Message {
    const fn new() -> Self {
        Message {
            bytes: [0; 512],
            len: 0,
        }
    }

    const fn push(mut self, s: &str) -> Self {
        let s = s.as_bytes();
        let mut i = 0;
        while i < s.len() && self.len < self.bytes.len() {
            self.bytes[self.len] = s[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    const fn as_str(&self) -> &str {
        let (head, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(head) {
            Ok(s) => s,
            Err(_) => "a name is not declared in the registry",
        }
    }
}
