//! The grammar of scopes, login types, policy names, HTTP methods and route paths.
//!
//! This crate is shared by `auth-macros` (which checks every literal at compile time) and
//! `auth-runtime` (which checks configuration and tokens at run time), so the two can never
//! disagree about what a valid scope or route is. It has no dependencies.
//!
//! ```
//! use auth_grammar::{validate_scope, ScopeError};
//!
//! assert!(validate_scope("reports:read").is_ok());
//! assert_eq!(validate_scope("reports"), Err(ScopeError::MissingSeparator));
//! ```

use std::fmt;

mod pieces;

pub use pieces::{Capture, PathPiece, PathPieces, captures, path_pieces};

/// The longest scope, login type, action or resource name accepted (bytes).
pub const MAX_NAME_LEN: usize = 128;

/// Why a scope string is not a valid scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeError {
    /// The scope is the empty string.
    Empty,
    /// The scope has no `:` separating resource and action (e.g. `"reports"`).
    MissingSeparator,
    /// A segment between `:` separators is empty (e.g. `"reports:"`, `":read"`, `"a::b"`).
    EmptySegment,
    /// The scope contains whitespace; scopes are space-delimited inside a token.
    Whitespace,
    /// The scope contains a character outside `A-Z a-z 0-9 _ - .` (and `*` as a whole segment).
    InvalidChar(char),
    /// `*` appears inside a segment (`"rep*:read"`); it may only stand for a whole segment.
    PartialWildcard,
    /// The scope contains a wildcard where only concrete scopes are allowed (a required scope).
    Wildcard,
    /// The scope is longer than [`MAX_NAME_LEN`] bytes.
    TooLong,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Empty => f.write_str("a scope cannot be empty"),
            ScopeError::MissingSeparator => {
                f.write_str("a scope has the form `resource:action`, with at least one `:`")
            }
            ScopeError::EmptySegment => {
                f.write_str("a scope cannot have an empty part before, between or after `:`")
            }
            ScopeError::Whitespace => f.write_str(
                "a scope cannot contain whitespace (scopes are space-delimited in tokens)",
            ),
            ScopeError::InvalidChar(c) => write!(
                f,
                "a scope cannot contain `{}`: use letters, digits, `_`, `-`, `.` and `:`",
                c.escape_default()
            ),
            ScopeError::PartialWildcard => {
                f.write_str("`*` can only stand for a whole part of a scope, as in `reports:*`")
            }
            ScopeError::Wildcard => f.write_str(
                "a required scope cannot contain `*`: wildcards belong in granted scopes",
            ),
            ScopeError::TooLong => write!(f, "a scope is at most {MAX_NAME_LEN} bytes long"),
        }
    }
}

impl std::error::Error for ScopeError {}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Checks a scope as it may appear in a token (`*` allowed as a whole segment).
///
/// ```
/// assert!(auth_grammar::validate_scope("reports:*").is_ok());
/// assert!(auth_grammar::validate_scope("reports:x:y").is_ok());
/// assert!(auth_grammar::validate_scope("reports:").is_err());
/// ```
pub fn validate_scope(scope: &str) -> Result<(), ScopeError> {
    if scope.is_empty() {
        return Err(ScopeError::Empty);
    }
    if scope.len() > MAX_NAME_LEN {
        return Err(ScopeError::TooLong);
    }
    if scope.chars().any(char::is_whitespace) {
        return Err(ScopeError::Whitespace);
    }
    if !scope.contains(':') {
        // A bare `*` is a valid grant only where the app opts in; the runtime checks that.
        return if scope == "*" {
            Ok(())
        } else {
            match scope.chars().find(|c| !is_name_char(*c) && *c != '*') {
                Some(c) => Err(ScopeError::InvalidChar(c)),
                None => Err(ScopeError::MissingSeparator),
            }
        };
    }
    for segment in scope.split(':') {
        if segment.is_empty() {
            return Err(ScopeError::EmptySegment);
        }
        if segment == "*" {
            continue;
        }
        if let Some(c) = segment.chars().find(|c| !is_name_char(*c)) {
            return Err(if c == '*' {
                ScopeError::PartialWildcard
            } else {
                ScopeError::InvalidChar(c)
            });
        }
    }
    Ok(())
}

/// Checks a scope that a handler requires: a valid scope without wildcards.
///
/// ```
/// assert!(auth_grammar::validate_required_scope("reports:read").is_ok());
/// assert_eq!(
///     auth_grammar::validate_required_scope("reports:*"),
///     Err(auth_grammar::ScopeError::Wildcard)
/// );
/// ```
pub fn validate_required_scope(scope: &str) -> Result<(), ScopeError> {
    validate_scope(scope)?;
    if scope == "*" || scope.split(':').any(|s| s == "*") {
        return Err(ScopeError::Wildcard);
    }
    Ok(())
}

/// Why a name (login type, policy resource) is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name is the empty string.
    Empty,
    /// The name contains a character outside `A-Z a-z 0-9 _ - .`.
    InvalidChar(char),
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    TooLong,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name cannot be empty"),
            NameError::InvalidChar(c) => write!(
                f,
                "the name cannot contain `{}`: use letters, digits, `_`, `-` and `.`",
                c.escape_default()
            ),
            NameError::TooLong => write!(f, "the name is at most {MAX_NAME_LEN} bytes long"),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a login type name such as `user` or `admin`.
///
/// ```
/// assert!(auth_grammar::validate_login_type("admin").is_ok());
/// assert!(auth_grammar::validate_login_type("").is_err());
/// assert!(auth_grammar::validate_login_type("ad min").is_err());
/// ```
pub fn validate_login_type(name: &str) -> Result<(), NameError> {
    validate_name(name)
}

/// Checks a policy resource name such as `users` or `billing` (segments may be joined by `:`).
///
/// ```
/// assert!(auth_grammar::validate_resource("users").is_ok());
/// assert!(auth_grammar::validate_resource("billing:invoices").is_ok());
/// assert!(auth_grammar::validate_resource("").is_err());
/// ```
pub fn validate_resource(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    name.split(':').try_for_each(validate_name)
}

fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    match name.chars().find(|c| !is_name_char(*c)) {
        Some(c) => Err(NameError::InvalidChar(c)),
        None => Ok(()),
    }
}

/// Checks a policy action such as `users:ban`: the same grammar as a required scope.
///
/// ```
/// assert!(auth_grammar::validate_action("users:ban").is_ok());
/// assert!(auth_grammar::validate_action("ban").is_err());
/// ```
pub fn validate_action(action: &str) -> Result<(), ScopeError> {
    validate_required_scope(action)
}

/// The HTTP methods a route may use, in their canonical spelling.
pub const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

/// Returns the canonical method name for `name` if it is one of [`METHODS`] (exact, upper case).
///
/// ```
/// assert_eq!(auth_grammar::parse_method("GET"), Some("GET"));
/// assert_eq!(auth_grammar::parse_method("get"), None);
/// assert_eq!(auth_grammar::parse_method("FETCH"), None);
/// ```
pub fn parse_method(name: &str) -> Option<&'static str> {
    METHODS.iter().copied().find(|m| *m == name)
}

/// Why a route path would be rejected by axum at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    MissingLeadingSlash,
    /// A segment uses the pre-0.8 `:name` capture syntax.
    OldCaptureSyntax(String),
    /// A segment uses the pre-0.8 `*name` wildcard syntax.
    OldWildcardSyntax(String),
    /// A `{` or `}` is unbalanced, nested, or the capture is not a whole segment.
    BadBraces,
    /// A capture has no name (`{}` or `{*}`).
    EmptyCapture,
    /// A capture name is not an identifier.
    BadCaptureName(String),
    /// The same capture name appears twice.
    DuplicateCapture(String),
    /// A `{*rest}` wildcard capture is not the last segment.
    WildcardNotLast,
    /// Text follows a capture in its segment (`{id}.png`): axum allows a capture only at the
    /// end of a segment.
    TextAfterCapture,
    /// The path contains whitespace, a `?` or a `#`.
    InvalidChar(char),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::MissingLeadingSlash => f.write_str("a route path must start with `/`"),
            PathError::OldCaptureSyntax(name) => write!(
                f,
                "`:{name}` is the capture syntax of axum 0.7 and earlier: write `{{{name}}}`"
            ),
            PathError::OldWildcardSyntax(name) => write!(
                f,
                "`*{name}` is the wildcard syntax of axum 0.7 and earlier: write `{{*{name}}}`"
            ),
            PathError::BadBraces => f.write_str(
                "braces must enclose a capture such as `{id}`; write `{{` and `}}` for literal braces",
            ),
            PathError::TextAfterCapture => f.write_str(
                "a capture must end its path segment (axum allows text before it, as in `img-{id}`, but not after)",
            ),
            PathError::EmptyCapture => f.write_str("a capture needs a name, as in `{id}`"),
            PathError::BadCaptureName(name) => {
                write!(f, "capture name `{name}` is not a valid identifier")
            }
            PathError::DuplicateCapture(name) => {
                write!(f, "capture `{{{name}}}` appears twice in the path")
            }
            PathError::WildcardNotLast => {
                f.write_str("a wildcard capture `{*name}` must be the last segment of the path")
            }
            PathError::InvalidChar(c) => {
                write!(f, "a route path cannot contain `{}`", c.escape_default())
            }
        }
    }
}

impl std::error::Error for PathError {}

/// Checks a route path the way axum 0.8 would when the router is built (where it panics).
///
/// A segment is literal text, a capture `{name}` or a wildcard `{*name}` (the last segment
/// only); a capture may follow literal text in its segment (`/img-{id}`) but nothing may follow
/// it (`/{id}.png` is refused by axum). `{{` and `}}` are a literal `{` and `}`.
///
/// ```
/// use auth_grammar::{validate_route_path, PathError};
///
/// assert!(validate_route_path("/reports/{id}").is_ok());
/// assert!(validate_route_path("/files/{*rest}").is_ok());
/// assert!(validate_route_path("/img-{id}").is_ok());
/// assert!(validate_route_path("/{{literal}}").is_ok());
/// assert_eq!(
///     validate_route_path("/reports/:id"),
///     Err(PathError::OldCaptureSyntax("id".into()))
/// );
/// assert_eq!(validate_route_path("/{id}.png"), Err(PathError::TextAfterCapture));
/// assert_eq!(validate_route_path("reports"), Err(PathError::MissingLeadingSlash));
/// ```
pub fn validate_route_path(path: &str) -> Result<(), PathError> {
    if !path.starts_with('/') {
        return Err(PathError::MissingLeadingSlash);
    }
    if let Some(c) = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err(PathError::InvalidChar(c));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut names: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix(':') {
            return Err(PathError::OldCaptureSyntax(name.to_owned()));
        }
        if let Some(name) = segment.strip_prefix('*') {
            return Err(PathError::OldWildcardSyntax(name.to_owned()));
        }
        let Some(Capture { name, wildcard }) = segment_capture(segment)? else {
            continue;
        };
        if name.is_empty() {
            return Err(PathError::EmptyCapture);
        }
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PathError::BadCaptureName(name.to_owned()));
        }
        if names.contains(&name) {
            return Err(PathError::DuplicateCapture(name.to_owned()));
        }
        names.push(name);
        if wildcard && i + 1 != segments.len() {
            return Err(PathError::WildcardNotLast);
        }
    }
    Ok(())
}

/// The capture of one segment, after any literal text; `None` for a literal segment.
fn segment_capture(segment: &str) -> Result<Option<Capture<'_>>, PathError> {
    let mut capture = None;
    for piece in path_pieces(segment) {
        if capture.is_some() {
            return Err(PathError::TextAfterCapture);
        }
        match piece {
            PathPiece::Literal(_) => {}
            PathPiece::Unbalanced(_) => return Err(PathError::BadBraces),
            PathPiece::Capture(c) => capture = Some(c),
        }
    }
    Ok(capture)
}

/// Why two routes cannot be in one router (axum would panic when it is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteConflict {
    /// The same method and the same path once capture names are ignored.
    Duplicate,
    /// Different methods on the same path whose captures are named differently
    /// (`GET /a/{id}` and `DELETE /a/{name}`).
    CaptureNames,
    /// A capture and a wildcard at the same place (`/files/{id}` and `/files/{*rest}`), whatever
    /// the methods.
    CaptureAndWildcard,
}

/// Whether two routes can share one axum router; usable in `const` items.
///
/// The paths are compared piece by piece ([`path_pieces`]): their literal text must be equal
/// and their captures at the same places; `{{` and `}}` are literal braces, never a capture.
/// Both paths are expected to pass [`validate_route_path`].
///
/// ```
/// use auth_grammar::{route_conflict, RouteConflict};
///
/// assert_eq!(route_conflict("GET", "/a/{id}", "GET", "/a/{name}"), Some(RouteConflict::Duplicate));
/// assert_eq!(route_conflict("GET", "/a/{id}", "DELETE", "/a/{name}"), Some(RouteConflict::CaptureNames));
/// assert_eq!(
///     route_conflict("GET", "/files/{id}", "POST", "/files/{*rest}"),
///     Some(RouteConflict::CaptureAndWildcard)
/// );
/// assert_eq!(route_conflict("GET", "/a/{id}", "POST", "/a/{id}"), None);
/// assert_eq!(route_conflict("GET", "/a/{id}/b", "POST", "/a/{name}/c"), None);
/// // Literal braces: `/{{x}}` is the path `/{x}`, not a capture.
/// assert_eq!(route_conflict("GET", "/{{x}}", "GET", "/{{y}}"), None);
/// ```
pub const fn route_conflict(
    method_a: &str,
    path_a: &str,
    method_b: &str,
    path_b: &str,
) -> Option<RouteConflict> {
    let (mut a, mut b) = (path_pieces(path_a), path_pieces(path_b));
    let mut names_differ = false;
    loop {
        match (a.next_piece(), b.next_piece()) {
            (None, None) => break,
            (Some(PathPiece::Capture(x)), Some(PathPiece::Capture(y))) => {
                if x.wildcard != y.wildcard {
                    return Some(RouteConflict::CaptureAndWildcard);
                }
                if !str_eq(x.name, y.name) {
                    names_differ = true;
                }
            }
            (Some(PathPiece::Literal(x)), Some(PathPiece::Literal(y))) if str_eq(x, y) => {}
            (Some(PathPiece::Unbalanced(x)), Some(PathPiece::Unbalanced(y))) if x == y => {}
            // Different text, a capture against text, or one path longer: different routes.
            _ => return None,
        }
    }
    if str_eq(method_a, method_b) {
        Some(RouteConflict::Duplicate)
    } else if names_differ {
        Some(RouteConflict::CaptureNames)
    } else {
        None
    }
}

/// Whether two routes would collide in one axum router: the same method and the same path once
/// capture names are ignored (`/a/{id}` and `/a/{name}` collide). Usable in `const` items.
///
/// ```
/// use auth_grammar::routes_collide;
///
/// assert!(routes_collide("GET", "/a/{id}", "GET", "/a/{name}"));
/// assert!(!routes_collide("GET", "/a/{id}", "POST", "/a/{id}"));
/// assert!(!routes_collide("GET", "/a/{id}", "GET", "/a/{id}/b"));
/// ```
pub const fn routes_collide(method_a: &str, path_a: &str, method_b: &str, path_b: &str) -> bool {
    matches!(
        route_conflict(method_a, path_a, method_b, path_b),
        Some(RouteConflict::Duplicate)
    )
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
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

/// The edit distance between two strings, on bytes (names here are ASCII), for "did you mean"
/// suggestions. Usable in `const` items (the registry check runs in `const` evaluation); strings
/// longer than [`MAX_NAME_LEN`] count as infinitely far apart.
///
/// ```
/// assert_eq!(auth_grammar::edit_distance("reports:raed", "reports:read"), 2);
/// assert_eq!(auth_grammar::edit_distance("", "abc"), 3);
/// ```
pub const fn edit_distance(a: &str, b: &str) -> usize {
    const ROW: usize = MAX_NAME_LEN + 1;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() >= ROW || b.len() >= ROW {
        return usize::MAX;
    }
    let mut prev = [0usize; ROW];
    let mut cur = [0usize; ROW];
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
            let substitute = prev[j] + if a[i] == b[j] { 0 } else { 1 };
            let delete = prev[j + 1] + 1;
            let insert = cur[j] + 1;
            cur[j + 1] = min(min(substitute, delete), insert);
            j += 1;
        }
        prev = cur;
        i += 1;
    }
    prev[b.len()]
}

const fn min(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

/// Whether two strings are equal; usable in `const` items.
///
/// ```
/// assert!(auth_grammar::str_eq("a:b", "a:b"));
/// ```
pub const fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// How many edits a suggestion may be away from `word`: a third of its length, rounded up,
/// between 1 and 3.
pub const fn suggestion_limit(word: &str) -> usize {
    let third = word.len().div_ceil(3);
    if third < 1 {
        1
    } else if third > 3 {
        3
    } else {
        third
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (at most a third of its length, rounded up, and never more than 3 edits).
///
/// ```
/// let known = ["reports:read", "reports:write"];
/// assert_eq!(auth_grammar::closest("reports:raed", known), Some("reports:read"));
/// assert_eq!(auth_grammar::closest("billing:read", known), None);
/// ```
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = suggestion_limit(word);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Whether a wildcard pattern covers a name: the one matcher behind granted scopes and policy
/// action and resource patterns, so that `*:read` means the same everywhere.
///
/// Names are `:`-separated parts. In a pattern, a bare `*` covers every name; a `*` part in the
/// middle stands for exactly one part; a leading `*` (as in `*:read`) stands for one or more
/// leading parts and a trailing `*` (as in `reports:*`) for one or more trailing parts. Matching
/// is case-sensitive, never by string prefix, and allocates nothing.
///
/// ```
/// use auth_grammar::pattern_matches;
///
/// assert!(pattern_matches("reports:*", "reports:read"));
/// assert!(pattern_matches("reports:*", "reports:x:read"));
/// assert!(pattern_matches("*:read", "reports:x:read"));
/// assert!(pattern_matches("reports:*:read", "reports:x:read"));
/// assert!(!pattern_matches("reports:*", "reports"));
/// assert!(!pattern_matches("reports:rea", "reports:read"));
/// ```
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == name || pattern == "*" {
        return true;
    }
    match pattern.split_once(':') {
        Some(("*", rest)) => {
            // The leading `*` takes one or more parts; the rest of the pattern the remainder.
            let mut remaining = name;
            while let Some((_, tail)) = remaining.split_once(':') {
                if parts_match(rest, tail) {
                    return true;
                }
                remaining = tail;
            }
            false
        }
        _ => parts_match(pattern, name),
    }
}

/// Part by part: `*` stands for one part, except as the pattern's last part (one or more).
fn parts_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once(':') {
        None if pattern == "*" => !name.is_empty(),
        None => pattern == name,
        Some((p, p_rest)) => match name.split_once(':') {
            Some((n, n_rest)) => (p == "*" || p == n) && parts_match(p_rest, n_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wildcard_matcher() {
        for (pattern, name) in [
            ("a:b", "a:b"),
            ("*", "a"),
            ("*", "a:b:c"),
            ("a:*", "a:b"),
            ("a:*", "a:b:c"),
            ("*:c", "a:c"),
            ("*:c", "a:b:c"),
            ("*:*", "a:b"),
            ("*:*", "a:b:c"),
            ("a:*:c", "a:b:c"),
            ("*:b:*", "x:a:b:c:d"),
            ("a:b:*", "a:b:c"),
        ] {
            assert!(
                pattern_matches(pattern, name),
                "{pattern} should cover {name}"
            );
        }
        for (pattern, name) in [
            ("a:b", "a:c"),
            ("a:*", "a"),
            ("a:*", "ab:c"),
            ("*:c", "c"),
            ("*:c", "a:c:d"),
            ("*:*", "a"),
            ("a:*:c", "a:b:x:c"),
            ("a:b", "a:b:c"),
            ("a:b:c", "a:b"),
            ("a:re", "a:read"),
            ("A:b", "a:b"),
            ("", "a:b"),
        ] {
            assert!(
                !pattern_matches(pattern, name),
                "{pattern} should not cover {name}"
            );
        }
    }

    #[test]
    fn scopes() {
        for ok in [
            "a:b",
            "reports:read",
            "reports:x:y",
            "*:read",
            "reports:*",
            "*:*",
            "*",
            "a-b.c_d:e",
        ] {
            assert_eq!(validate_scope(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_scope(""), Err(ScopeError::Empty));
        assert_eq!(validate_scope("reports"), Err(ScopeError::MissingSeparator));
        assert_eq!(validate_scope("reports:"), Err(ScopeError::EmptySegment));
        assert_eq!(validate_scope(":read"), Err(ScopeError::EmptySegment));
        assert_eq!(validate_scope("a::b"), Err(ScopeError::EmptySegment));
        assert_eq!(validate_scope("a b:c"), Err(ScopeError::Whitespace));
        assert_eq!(validate_scope("a/b:c"), Err(ScopeError::InvalidChar('/')));
        assert_eq!(validate_scope("re*:read"), Err(ScopeError::PartialWildcard));
        assert_eq!(validate_scope(&"a:".repeat(100)), Err(ScopeError::TooLong));
        assert_eq!(validate_required_scope("*:read"), Err(ScopeError::Wildcard));
        assert_eq!(validate_required_scope("*"), Err(ScopeError::Wildcard));
    }

    #[test]
    fn paths() {
        for ok in [
            "/",
            "/health",
            "/reports/{id}",
            "/a/{x}/b/{y}",
            "/f/{*rest}",
            "/a/",
            "/img-{id}",
            "/f/x{*rest}",
            "/{{literal}}/{id}",
            "/a{{b}}c",
        ] {
            assert_eq!(validate_route_path(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_route_path(""), Err(PathError::MissingLeadingSlash));
        assert_eq!(
            validate_route_path("/f/*rest"),
            Err(PathError::OldWildcardSyntax("rest".into()))
        );
        assert_eq!(validate_route_path("/a/{id"), Err(PathError::BadBraces));
        assert_eq!(validate_route_path("/a/x}"), Err(PathError::BadBraces));
        assert_eq!(validate_route_path("/a/{x{y}}"), Err(PathError::BadBraces));
        assert_eq!(
            validate_route_path("/a/{id}.png"),
            Err(PathError::TextAfterCapture)
        );
        assert_eq!(
            validate_route_path("/a/{id}-{n}"),
            Err(PathError::TextAfterCapture)
        );
        assert_eq!(validate_route_path("/a/{}"), Err(PathError::EmptyCapture));
        assert_eq!(
            validate_route_path("/a/{1x}"),
            Err(PathError::BadCaptureName("1x".into()))
        );
        assert_eq!(
            validate_route_path("/a/{x}/{x}"),
            Err(PathError::DuplicateCapture("x".into()))
        );
        assert_eq!(
            validate_route_path("/a/{*x}/b"),
            Err(PathError::WildcardNotLast)
        );
        assert_eq!(
            validate_route_path("/a b"),
            Err(PathError::InvalidChar(' '))
        );
    }

    #[test]
    fn collisions() {
        use RouteConflict::*;
        for (a, b, expected) in [
            (("GET", "/a"), ("GET", "/a"), Some(Duplicate)),
            (("GET", "/a"), ("GET", "/b"), None),
            (
                ("GET", "/a/{x}"),
                ("GET", "/a/{*x}"),
                Some(CaptureAndWildcard),
            ),
            (
                ("GET", "/a/{x}/b"),
                ("POST", "/a/{*x}"),
                Some(CaptureAndWildcard),
            ),
            (("GET", "/a/{*x}"), ("GET", "/a/{*y}"), Some(Duplicate)),
            (("GET", "/a/{*x}"), ("POST", "/a/{*y}"), Some(CaptureNames)),
            (("GET", "/a/{x}"), ("GET", "/a/b"), None),
            (("GET", "/a/{x}"), ("POST", "/a/{y}"), Some(CaptureNames)),
            (("GET", "/a/{x}/b"), ("POST", "/a/{y}/c"), None),
            (
                ("GET", "/img-{x}"),
                ("POST", "/img-{*r}"),
                Some(CaptureAndWildcard),
            ),
            (("GET", "/x/img-{x}"), ("POST", "/x/{*r}"), None),
            (("GET", "/{{x}}"), ("GET", "/{x}"), None),
            (("GET", "/{{x}}"), ("GET", "/{{x}}"), Some(Duplicate)),
            // Doubled braces are literal text, never a capture.
            (("GET", "/{{x}}"), ("GET", "/{{y}}"), None),
            (("GET", "/{{x}}"), ("POST", "/{{y}}"), None),
            (("GET", "/{{x}}"), ("POST", "/{{*y}}"), None),
            (("GET", "/a/{{x}}"), ("GET", "/a/{x}"), None),
            (("GET", "/a/}}"), ("GET", "/a/}}"), Some(Duplicate)),
            (("GET", "/a/}}{x}"), ("GET", "/a/}}{y}"), Some(Duplicate)),
            (
                ("GET", "/a/}}{x}"),
                ("POST", "/a/}}{y}"),
                Some(CaptureNames),
            ),
            (
                ("GET", "/a/{{{x}"),
                ("POST", "/a/{{{*y}"),
                Some(CaptureAndWildcard),
            ),
            (
                ("GET", "/a/{{{x}"),
                ("POST", "/a/{{{y}"),
                Some(CaptureNames),
            ),
            (("GET", "/a/{{{x}"), ("GET", "/a/{x}"), None),
        ] {
            assert_eq!(route_conflict(a.0, a.1, b.0, b.1), expected, "{a:?} {b:?}");
            assert_eq!(route_conflict(b.0, b.1, a.0, a.1), expected, "{b:?} {a:?}");
        }
        assert!(routes_collide("GET", "/a/{x}", "GET", "/a/{y}"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("admni", ["user", "admin"]), Some("admin"));
        assert_eq!(closest("x", ["user", "admin"]), None);
        assert_eq!(parse_method("DELETE"), Some("DELETE"));
    }
}
