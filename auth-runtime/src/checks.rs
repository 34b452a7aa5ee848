//! The compile-time checks of a `SecureRouter`, as `const fn`s the derive evaluates in one
//! standalone `const` item per handler, spanned on the handler's name in `routes(...)`: a
//! handler without a route, two routes axum would refuse to build together, names missing from
//! the registry. Each check returns the problem as a message; the emitted item panics with it,
//! which is the compile error. O(n) items per router, each comparing one handler with the ones
//! before it.

use auth_grammar::{PathPiece, RouteConflict, path_pieces, route_conflict};

use crate::route::HandlerSpec;
use crate::route::{GroupRequirement, RouteInfo};

/// A fixed-size string buffer usable in `const fn`, for compile error messages.
#[derive(Clone, Copy)]
pub struct Message {
    bytes: [u8; 1024],
    len: usize,
}

impl Message {
    const fn new() -> Self {
        Message {
            bytes: [0; 1024],
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

    /// The message.
    pub const fn as_str(&self) -> &str {
        let (head, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(head) {
            Ok(s) => s,
            Err(_) => "a `SecureRouter` check failed",
        }
    }
}

const NO_ROUTE: RouteInfo = RouteInfo {
    handler: "",
    summary: "",
    module_path: "",
    method: "",
    path: "",
    login_types: &[],
    roles: &[],
    scopes: crate::scope::ScopeRequirement::None,
    policy: None,
    public: false,
    group: GroupRequirement {
        login_types: &[],
        scopes: &[],
    },
};

/// The route table of a router. A handler without a route gets an empty method and path (its
/// compile error comes from [`handler_problem`]; `add_route` skips it).
pub const fn route_infos<const N: usize>(
    specs: &[HandlerSpec; N],
    group: GroupRequirement,
) -> [RouteInfo; N] {
    let mut out = [NO_ROUTE; N];
    let mut i = 0;
    while i < N {
        let spec = &specs[i];
        out[i] = RouteInfo {
            handler: spec.handler,
            summary: spec.summary,
            module_path: spec.module,
            method: match spec.method {
                Some(m) => m,
                None => "",
            },
            path: match spec.path {
                Some(p) => p,
                None => "",
            },
            login_types: spec.login_types,
            roles: spec.roles,
            scopes: spec.scopes,
            policy: spec.policy,
            public: spec.public,
            group,
        };
        i += 1;
    }
    out
}

/// How many capture positions of a path the screen remembers; a path with more is compared in
/// full with every other route (exact, only slower).
const MAX_CAPTURES: usize = 8;

/// A route reduced to hashes, so that a router compares its routes cheaply at compile time and
/// runs the exact comparison only where the hashes say two routes may conflict.
#[derive(Clone, Copy)]
struct RouteKey {
    /// The method.
    method: u64,
    /// The path with every capture reduced to its kind (`{id}` and `{name}` hash the same).
    shape: u64,
    /// The hash of the normalized path before each capture, the last bit saying whether the
    /// capture is a wildcard.
    captures: [u64; MAX_CAPTURES],
    count: usize,
    /// More captures than `captures` holds.
    overflow: bool,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

const fn fnv(hash: u64, byte: u8) -> u64 {
    (hash ^ byte as u64).wrapping_mul(FNV_PRIME)
}

const fn hash_str(s: &str) -> u64 {
    hash_more(FNV_OFFSET, s)
}

const fn hash_more(mut hash: u64, s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        hash = fnv(hash, bytes[i]);
        i += 1;
    }
    hash
}

const EMPTY_KEY: RouteKey = RouteKey {
    method: 0,
    shape: 0,
    captures: [0; MAX_CAPTURES],
    count: 0,
    overflow: false,
};

const fn route_key(method: &str, path: &str) -> RouteKey {
    let mut key = EMPTY_KEY;
    key.method = hash_str(method);
    let mut hash = FNV_OFFSET;
    let mut pieces = path_pieces(path);
    while let Some(piece) = pieces.next_piece() {
        match piece {
            PathPiece::Literal(text) => hash = hash_more(hash, text),
            PathPiece::Capture(capture) => {
                let wildcard = capture.wildcard;
                if key.count < MAX_CAPTURES {
                    key.captures[key.count] = (hash & !1) | wildcard as u64;
                    key.count += 1;
                } else {
                    key.overflow = true;
                }
                // Bytes no literal holds (a path has no control characters).
                hash = fnv(hash, if wildcard { 2 } else { 1 });
            }
            // Not in a valid path (a handler's invalid route never reaches the screen).
            PathPiece::Unbalanced(brace) => hash = fnv(hash, brace as u8),
        }
    }
    key.shape = hash;
    key
}

/// Whether two routes may conflict (never misses one; a hash collision only costs an exact
/// comparison).
const fn may_conflict(a: &RouteKey, b: &RouteKey) -> bool {
    if a.shape == b.shape || a.overflow || b.overflow {
        return true;
    }
    let mut i = 0;
    while i < a.count {
        let mut j = 0;
        while j < b.count {
            if (a.captures[i] | 1) == (b.captures[j] | 1) && a.captures[i] != b.captures[j] {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

/// Which handlers of a router may have a problem: computed once per router from hashes of
/// the routes, so that each handler's check ([`handler_problem`]) runs its exact comparisons
/// only when one is likely. Never misses a problem.
pub const fn problem_screen<const N: usize>(
    specs: &[HandlerSpec; N],
    group: GroupRequirement,
) -> [bool; N] {
    let mut keys = [EMPTY_KEY; N];
    let mut flagged = [false; N];
    let mut i = 0;
    while i < N {
        let spec = &specs[i];
        match (spec.method, spec.path) {
            (Some(m), Some(p)) if !spec.invalid => keys[i] = route_key(m, p),
            _ => flagged[i] = !spec.invalid,
        }
        if !spec.invalid && (spec.public || !spec.login_types.is_empty()) && !group.is_empty() {
            flagged[i] = true;
        }
        let mut j = 0;
        while j < i && !flagged[i] {
            if may_conflict(&keys[j], &keys[i]) && specs[j].method.is_some() {
                flagged[i] = true;
            }
            j += 1;
        }
        i += 1;
    }
    flagged
}

/// The first problem of handler `i` of a router: no route, or a route that cannot share the
/// router with an earlier handler's. `None` for a handler whose attributes already failed to
/// compile (one mistake, one error).
pub const fn handler_problem<const N: usize>(
    specs: &[HandlerSpec; N],
    group: GroupRequirement,
    i: usize,
) -> Option<Message> {
    let spec = &specs[i];
    if spec.invalid {
        return None;
    }
    if spec.public && !group.is_empty() {
        return Some(
            Message::new()
                .push("handler `")
                .push(spec.handler)
                .push("` is `#[public]`, but this router requires a signed-in caller for every handler it lists\n\nhelp: list the public handler in another `SecureRouter`, or remove `#[public]`"),
        );
    }
    if !spec.login_types.is_empty()
        && !group.login_types.is_empty()
        && !any_shared(spec.login_types, group.login_types)
    {
        return Some(
            Message::new()
                .push("handler `")
                .push(spec.handler)
                .push("` accepts none of the login types this router allows, so no token could call it\n\nhelp: give the handler a login type the router lists, or list it in another `SecureRouter`"),
        );
    }
    let (Some(method), Some(path)) = (spec.method, spec.path) else {
        return Some(
            Message::new()
                .push("handler `")
                .push(spec.handler)
                .push("` is listed in a `SecureRouter` but has no route\n\nhelp: add `#[route(METHOD, \"/path\")]` to it, as in `#[route(GET, \"/reports/{id}\")]`"),
        );
    };
    let mut j = 0;
    while j < i {
        let earlier = &specs[j];
        if let (false, Some(m), Some(p)) = (earlier.invalid, earlier.method, earlier.path)
            && let Some(conflict) = route_conflict(m, p, method, path)
        {
            let both = Message::new()
                .push("handlers `")
                .push(earlier.handler)
                .push("` and `")
                .push(spec.handler)
                .push("` ");
            return Some(match conflict {
                RouteConflict::Duplicate => both
                    .push("are both routed to `")
                    .push(method)
                    .push(" ")
                    .push(path)
                    .push("`\n\nhelp: change the method or the path of one of them; captures match by position, so `/a/{id}` and `/a/{name}` are the same path"),
                RouteConflict::CaptureNames => both
                    .push("name the captures of one path differently (`")
                    .push(p)
                    .push("` and `")
                    .push(path)
                    .push("`); axum would panic when building the router\n\nhelp: use the same capture names for the path under every method"),
                RouteConflict::CaptureAndWildcard => both
                    .push("put a capture and a wildcard at the same place (`")
                    .push(p)
                    .push("` and `")
                    .push(path)
                    .push("`); axum would panic when building the router\n\nhelp: give one of them a literal segment there, such as `/files/by-id/{id}` next to `/files/{*rest}`"),
            });
        }
        j += 1;
    }
    None
}

const fn any_shared(a: &[&str], b: &[&str]) -> bool {
    let mut i = 0;
    while i < a.len() {
        let mut j = 0;
        while j < b.len() {
            if auth_grammar::str_eq(a[i], b[j]) {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

/// The first name of a router's own requirement (its login types, then its scopes) that is
/// not declared in the registry.
pub const fn undeclared_in_group(
    registry: &RegistryNames,
    group: GroupRequirement,
) -> Option<Message> {
    let mut i = 0;
    while i < group.login_types.len() {
        if let Some(m) = check_declared(
            registry,
            "(router)",
            NameKind::LoginType,
            group.login_types[i],
        ) {
            return Some(m);
        }
        i += 1;
    }
    let mut i = 0;
    while i < group.scopes.len() {
        if let Some(m) = check_declared(registry, "(router)", NameKind::Scope, group.scopes[i]) {
            return Some(m);
        }
        i += 1;
    }
    None
}

/// The `k`-th name handler `spec` uses (login types, scopes, roles, policy action, policy
/// resource, in this order), with its kind; `None` past the last.
const fn nth_name(spec: &HandlerSpec, k: usize) -> Option<(NameKind, &'static str)> {
    let mut k = k;
    if k < spec.login_types.len() {
        return Some((NameKind::LoginType, spec.login_types[k]));
    }
    k -= spec.login_types.len();
    let scopes = spec.scopes.scopes();
    if k < scopes.len() {
        return Some((NameKind::Scope, scopes[k]));
    }
    k -= scopes.len();
    if k < spec.roles.len() {
        return Some((NameKind::Role, spec.roles[k]));
    }
    k -= spec.roles.len();
    match (spec.policy, k) {
        (Some(p), 0) => Some((NameKind::Action, p.action)),
        (Some(p), 1) => Some((NameKind::Resource, p.resource)),
        _ => None,
    }
}

/// The names a [`Registry`](crate::Registry) declares, read once per router.
#[derive(Clone, Copy)]
pub struct RegistryNames {
    /// `Registry::LOGIN_TYPES`.
    pub login_types: &'static [&'static str],
    /// `Registry::SCOPES`.
    pub scopes: &'static [&'static str],
    /// `Registry::ACTIONS`.
    pub actions: &'static [&'static str],
    /// `Registry::RESOURCES`.
    pub resources: &'static [&'static str],
    /// `Registry::ROLES`.
    pub roles: &'static [&'static str],
}

/// Whether the `k`-th name of a handler is declared in the registry (with `rest`, every name
/// from the `k`-th on: the router emits a few checks per handler, one name each, and the last
/// covers whatever remains); the message says which is not, with "did you mean".
pub const fn undeclared(
    registry: &RegistryNames,
    spec: &HandlerSpec,
    k: usize,
    rest: bool,
) -> Option<Message> {
    if spec.invalid {
        return None;
    }
    let mut index = k;
    while let Some((kind, name)) = nth_name(spec, index) {
        if let Some(message) = check_declared(registry, spec.handler, kind, name) {
            return Some(message);
        }
        if !rest {
            break;
        }
        index += 1;
    }
    None
}

/// Which list of a [`Registry`](crate::Registry) a name belongs to.
#[derive(Clone, Copy)]
enum NameKind {
    LoginType,
    Scope,
    Action,
    Resource,
    Role,
}

/// `None` if `name` is declared; otherwise the message.
const fn check_declared(
    registry: &RegistryNames,
    handler: &str,
    kind: NameKind,
    name: &str,
) -> Option<Message> {
    let (declared, what, key) = match kind {
        NameKind::LoginType => (registry.login_types, "login type", "login_types"),
        NameKind::Scope => (registry.scopes, "scope", "scopes"),
        NameKind::Action => (registry.actions, "policy action", "actions"),
        NameKind::Resource => (registry.resources, "policy resource", "resources"),
        NameKind::Role => (registry.roles, "role", "roles"),
    };
    let mut best: Option<&str> = None;
    let mut best_distance = usize::MAX;
    let mut i = 0;
    while i < declared.len() {
        if auth_grammar::str_eq(declared[i], name) {
            return None;
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
        .push("` of handler `")
        .push(handler)
        .push("` is not declared in the registry");
    Some(match best {
        Some(b) if best_distance <= limit => {
            msg.push("\n\nhelp: did you mean `").push(b).push("`?")
        }
        _ => msg
            .push("\n\nhelp: add it to `")
            .push(key)
            .push("` in `registry!` if it is meant to exist"),
    })
}
