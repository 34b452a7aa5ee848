//! The optional registry of an application's login types, scopes, policy actions and resources.
//!
//! Declare it once with [`registry!`](crate::registry) and name it in the router:
//! `#[secure_router(registry = AppRegistry, routes(...))]`. Every literal in the `requires`,
//! `login_type` and `policy` attributes of the listed handlers must then be declared, or the
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
}

/// Which list of a [`Registry`] a name belongs to.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum NameKind {
    LoginType,
    Scope,
    Action,
    Resource,
}

/// Panics (a compile error, in `const` evaluation) if `name` is not declared in `R`.
#[doc(hidden)]
pub const fn check_declared<R: Registry>(kind: NameKind, name: &str) {
    let (declared, what, key) = match kind {
        NameKind::LoginType => (R::LOGIN_TYPES, "login type", "login_types"),
        NameKind::Scope => (R::SCOPES, "scope", "scopes"),
        NameKind::Action => (R::ACTIONS, "policy action", "actions"),
        NameKind::Resource => (R::RESOURCES, "policy resource", "resources"),
    };
    let mut best: Option<&str> = None;
    let mut best_distance = usize::MAX;
    let mut i = 0;
    while i < declared.len() {
        if eq(declared[i], name) {
            return;
        }
        let d = distance(declared[i].as_bytes(), name.as_bytes());
        if d < best_distance {
            best_distance = d;
            best = Some(declared[i]);
        }
        i += 1;
    }
    let limit = {
        let third = name.len().div_ceil(3);
        if third < 1 {
            1
        } else if third > 3 {
            3
        } else {
            third
        }
    };
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

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const MAX: usize = auth_grammar::MAX_NAME_LEN + 1;

/// Levenshtein distance on bytes; names longer than the grammar allows count as far apart.
const fn distance(a: &[u8], b: &[u8]) -> usize {
    if a.len() >= MAX || b.len() >= MAX {
        return usize::MAX;
    }
    let mut prev = [0usize; MAX];
    let mut cur = [0usize; MAX];
    let mut j = 0;
    while j <= b.len() {
        prev[j] = j;
        j += 1;
    }
    let mut i = 0;
    while i < a.len() {
        cur[0] = i + 1;
        let mut j = 0;
        while j < b.len() {
            let cost = if a[i] == b[j] { 0 } else { 1 };
            let mut best = prev[j] + cost;
            if prev[j + 1] + 1 < best {
                best = prev[j + 1] + 1;
            }
            if cur[j] + 1 < best {
                best = cur[j] + 1;
            }
            cur[j + 1] = best;
            j += 1;
        }
        let mut k = 0;
        while k <= b.len() {
            prev[k] = cur[k];
            k += 1;
        }
        i += 1;
    }
    prev[b.len()]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance(b"reports:raed", b"reports:read"), 2);
        assert_eq!(distance(b"", b"abc"), 3);
        assert_eq!(distance(b"same", b"same"), 0);
    }
}
