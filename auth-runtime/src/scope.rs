//! Scope matching: which granted scopes satisfy which required scope.
//!
//! Scopes are `resource:action` strings (more `:`-separated parts are allowed, as in
//! `reports:x:y`; the last part is the action). Matching is case-sensitive, never by string
//! prefix (`reports:rea` grants nothing), and allocates nothing.

use std::fmt;

/// The granted scopes of a token: its space-delimited `scope` claim.
///
/// ```
/// use auth_runtime::GrantedScopes;
///
/// let granted = GrantedScopes::new("reports:read  billing:*");
/// assert_eq!(granted.iter().collect::<Vec<_>>(), ["reports:read", "billing:*"]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GrantedScopes<'a>(&'a str);

impl<'a> GrantedScopes<'a> {
    /// Wraps a space-delimited scope string.
    pub fn new(scope_claim: &'a str) -> Self {
        GrantedScopes(scope_claim)
    }

    /// Iterates over the granted scopes.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.split_ascii_whitespace()
    }
}

/// Decides whether granted scopes satisfy a required scope.
///
/// Implement it for custom matching and pass it to
/// [`AuthManagerBuilder::scope_validator`](crate::AuthManagerBuilder::scope_validator).
///
/// ```
/// use auth_runtime::{GrantedScopes, ScopeValidator};
///
/// /// Grants everything to holders of `root:all`, exact matching otherwise.
/// struct RootOrExact;
/// impl ScopeValidator for RootOrExact {
///     fn has_scope(&self, required: &str, granted: GrantedScopes<'_>) -> bool {
///         granted.iter().any(|g| g == "root:all" || g == required)
///     }
/// }
/// assert!(RootOrExact.has_scope("a:b", GrantedScopes::new("root:all")));
/// ```
pub trait ScopeValidator: Send + Sync + 'static {
    /// Whether `granted` satisfies `required` (a concrete scope, without wildcards).
    fn has_scope(&self, required: &str, granted: GrantedScopes<'_>) -> bool;
}

/// Exact matching: a required scope is satisfied only by the same string.
///
/// ```
/// use auth_runtime::{GrantedScopes, ScopeValidator, SimpleScopes};
///
/// assert!(SimpleScopes.has_scope("reports:read", GrantedScopes::new("reports:read")));
/// assert!(!SimpleScopes.has_scope("reports:read", GrantedScopes::new("reports:*")));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleScopes;

impl ScopeValidator for SimpleScopes {
    fn has_scope(&self, required: &str, granted: GrantedScopes<'_>) -> bool {
        granted.iter().any(|g| g == required)
    }
}

/// Actions that imply other actions, such as `edit ⇒ read`. Transitive: with `admin ⇒ edit`
/// and `edit ⇒ read`, `admin` implies `read`.
///
/// ```
/// use auth_runtime::ActionHierarchy;
///
/// let h = ActionHierarchy::new().implies("admin", ["edit"]).implies("edit", ["read"]);
/// assert!(h.covers("admin", "read"));
/// assert!(!h.covers("read", "edit"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ActionHierarchy {
    /// Each action with every action it implies (transitively closed).
    implied: Vec<(String, Vec<String>)>,
}

impl ActionHierarchy {
    /// An empty hierarchy: every action implies only itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares that `action` implies each of `implied`.
    pub fn implies<I, S>(mut self, action: &str, implied: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let implied: Vec<String> = implied.into_iter().map(Into::into).collect();
        match self.implied.iter_mut().find(|(a, _)| a == action) {
            Some((_, list)) => list.extend(implied),
            None => self.implied.push((action.to_owned(), implied)),
        }
        self.close();
        self
    }

    /// Computes the transitive closure, so that matching is one lookup.
    fn close(&mut self) {
        loop {
            let mut changed = false;
            for i in 0..self.implied.len() {
                let mut extra = Vec::new();
                for implied in &self.implied[i].1 {
                    if let Some((_, further)) = self.implied.iter().find(|(a, _)| a == implied) {
                        extra.extend(
                            further
                                .iter()
                                .filter(|f| !self.implied[i].1.contains(f))
                                .cloned(),
                        );
                    }
                }
                extra.retain(|e| e != &self.implied[i].0);
                extra.sort();
                extra.dedup();
                if !extra.is_empty() {
                    self.implied[i].1.extend(extra);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Whether granted action `granted` covers required action `required`.
    pub fn covers(&self, granted: &str, required: &str) -> bool {
        granted == required
            || self
                .implied
                .iter()
                .find(|(a, _)| a == granted)
                .is_some_and(|(_, list)| list.iter().any(|i| i == required))
    }
}

/// The default validator: wildcards and an action hierarchy.
///
/// - `reports:*` covers every action on `reports` and below (`reports:read`, `reports:x:y`);
/// - `*:read` covers `read` on every resource; `*:*` covers everything;
/// - a bare `*` covers everything only after [`allow_bare_wildcard`](Self::allow_bare_wildcard);
/// - the [`ActionHierarchy`] is empty by default (least privilege: `reports:edit` does not grant
///   `reports:read` until you declare `edit ⇒ read`).
///
/// ```
/// use auth_runtime::{ActionHierarchy, GrantedScopes, HierarchicalScopes, ScopeValidator};
///
/// let v = HierarchicalScopes::new().hierarchy(ActionHierarchy::new().implies("edit", ["read"]));
/// let has = |req, granted| v.has_scope(req, GrantedScopes::new(granted));
/// assert!(has("reports:read", "reports:*"));
/// assert!(has("reports:read", "*:read"));
/// assert!(has("reports:read", "reports:edit"));
/// assert!(!has("reports:read", "reports:rea"));
/// assert!(!has("reports:read", "*"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HierarchicalScopes {
    allow_bare_wildcard: bool,
    hierarchy: ActionHierarchy,
}

impl HierarchicalScopes {
    /// Wildcards, no action hierarchy, bare `*` not honoured.
    pub fn new() -> Self {
        Self::default()
    }

    /// Honour a bare `*` as "every scope". Off by default: a bare `*` is too easy to grant by
    /// mistake.
    pub fn allow_bare_wildcard(mut self, allow: bool) -> Self {
        self.allow_bare_wildcard = allow;
        self
    }

    /// Sets the action hierarchy.
    pub fn hierarchy(mut self, hierarchy: ActionHierarchy) -> Self {
        self.hierarchy = hierarchy;
        self
    }

    /// Whether one granted scope covers one required scope: the wildcard grammar of
    /// [`auth_grammar::pattern_matches`] (shared with policy rules), then the action hierarchy.
    pub fn covers(&self, granted: &str, required: &str) -> bool {
        if granted == "*" {
            return self.allow_bare_wildcard;
        }
        if auth_grammar::pattern_matches(granted, required) {
            return true;
        }
        let (Some((g_res, g_act)), Some((r_res, r_act))) =
            (granted.rsplit_once(':'), required.rsplit_once(':'))
        else {
            return false;
        };
        g_act != "*"
            && self.hierarchy.covers(g_act, r_act)
            && auth_grammar::pattern_matches(g_res, r_res)
    }
}

impl ScopeValidator for HierarchicalScopes {
    fn has_scope(&self, required: &str, granted: GrantedScopes<'_>) -> bool {
        granted.iter().any(|g| self.covers(g, required))
    }
}

/// The scopes a handler requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRequirement {
    /// No scope is required.
    None,
    /// Every listed scope must be granted.
    All(&'static [&'static str]),
    /// At least one listed scope must be granted.
    AnyOf(&'static [&'static str]),
}

impl ScopeRequirement {
    /// The listed scopes.
    pub const fn scopes(&self) -> &'static [&'static str] {
        match self {
            ScopeRequirement::None => &[],
            ScopeRequirement::All(s) | ScopeRequirement::AnyOf(s) => s,
        }
    }
}

impl fmt::Display for ScopeRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeRequirement::None => f.write_str("no scope"),
            ScopeRequirement::All(s) => write!(f, "all of {}", s.join(", ")),
            ScopeRequirement::AnyOf(s) => write!(f, "any of {}", s.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> HierarchicalScopes {
        HierarchicalScopes::new().hierarchy(ActionHierarchy::new().implies("edit", ["read"]))
    }

    #[test]
    fn wildcards() {
        let v = h();
        assert!(v.covers("reports:*", "reports:read"));
        assert!(v.covers("reports:*", "reports:x:y"));
        assert!(!v.covers("reports:*", "reportsx:read"));
        assert!(!v.covers("reports:*", "billing:read"));
        assert!(v.covers("*:read", "reports:read"));
        assert!(v.covers("*:read", "reports:x:read"));
        assert!(!v.covers("*:read", "reports:write"));
        assert!(v.covers("*:*", "reports:x:y"));
        assert!(v.covers("reports:x:*", "reports:x:y"));
        assert!(!v.covers("reports:x:*", "reports:y:z"));
        assert!(v.covers("reports:*:read", "reports:x:read"));
        assert!(!v.covers("*", "reports:read"));
        assert!(
            HierarchicalScopes::new()
                .allow_bare_wildcard(true)
                .covers("*", "a:b")
        );
    }

    #[test]
    fn no_prefix_or_case_matching() {
        let v = h();
        assert!(!v.covers("reports:rea", "reports:read"));
        assert!(!v.covers("reports:read", "reports:rea"));
        assert!(!v.covers("Reports:read", "reports:read"));
        assert!(!v.covers("reports", "reports:read"));
        assert!(!v.covers("", "reports:read"));
    }

    #[test]
    fn hierarchy() {
        let v = h();
        assert!(v.covers("reports:edit", "reports:read"));
        assert!(!v.covers("reports:read", "reports:edit"));
        assert!(!v.covers("billing:edit", "reports:read"));
        let t = ActionHierarchy::new()
            .implies("admin", ["write"])
            .implies("write", ["edit"])
            .implies("edit", ["read"]);
        assert!(t.covers("admin", "read"));
        assert!(t.covers("write", "read"));
        assert!(!t.covers("read", "admin"));
        // cycles terminate
        let c = ActionHierarchy::new()
            .implies("a", ["b"])
            .implies("b", ["a"]);
        assert!(c.covers("a", "b") && c.covers("b", "a"));
    }

    #[test]
    fn simple() {
        let g = GrantedScopes::new("a:b c:d");
        assert!(SimpleScopes.has_scope("c:d", g));
        assert!(!SimpleScopes.has_scope("c:*", g));
        assert!(!SimpleScopes.has_scope("x:y", GrantedScopes::new("")));
    }
}
