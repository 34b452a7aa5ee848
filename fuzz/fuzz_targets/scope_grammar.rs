//! The scope grammar and the one wildcard matcher.
//!
//! The input is split on newlines into candidate scopes. Properties:
//! - parse ∘ render = id: the valid scopes, rendered as a token's space-delimited `scope`
//!   claim, parse back to the same list, and a valid scope is the `:`-join of its parts;
//! - a required scope is also a valid (grantable) scope, and grants itself;
//! - no proper prefix of a name matches it, and a name does not match its extensions;
//! - matching is case-sensitive;
//! - an empty or blank grant grants nothing;
//! - never a panic.
#![no_main]

use auth_grammar::{pattern_matches, validate_required_scope, validate_scope};
use auth_runtime::{GrantedScopes, HierarchicalScopes, ScopeValidator, SimpleScopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let candidates: Vec<&str> = text.split('\n').collect();
    let wildcards = HierarchicalScopes::new();
    let bare = HierarchicalScopes::new().allow_bare_wildcard(true);

    let valid: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|s| validate_scope(s).is_ok())
        .collect();
    let claim = valid.join(" ");
    assert_eq!(GrantedScopes::new(&claim).iter().collect::<Vec<_>>(), valid);
    for scope in &valid {
        let parts: Vec<&str> = scope.split(':').collect();
        assert_eq!(parts.join(":"), *scope);
        assert!(!scope.chars().any(char::is_whitespace));
    }

    for name in &candidates {
        // Whatever the input, an empty or blank grant grants nothing.
        for empty in ["", " ", "\t \n"] {
            let granted = GrantedScopes::new(empty);
            assert!(!wildcards.has_scope(name, granted));
            assert!(!bare.has_scope(name, granted));
            assert!(!SimpleScopes.has_scope(name, granted));
        }
        if !name.is_empty() {
            assert!(!pattern_matches("", name));
        }
        if validate_required_scope(name).is_err() {
            continue;
        }
        assert!(validate_scope(name).is_ok());
        assert!(pattern_matches(name, name));
        assert!(wildcards.has_scope(name, GrantedScopes::new(name)));
        // Never by prefix, in either direction.
        for (i, _) in name.char_indices().skip(1) {
            let prefix = &name[..i];
            assert!(!pattern_matches(prefix, name), "{prefix} matched {name}");
            assert!(!wildcards.covers(prefix, name), "{prefix} covered {name}");
            assert!(!pattern_matches(name, prefix), "{name} matched {prefix}");
        }
        for suffix in ["x", ":x", "-", "_"] {
            let longer = format!("{name}{suffix}");
            assert!(!pattern_matches(name, &longer), "{name} matched {longer}");
            assert!(!SimpleScopes.has_scope(&longer, GrantedScopes::new(name)));
        }
        // Case-sensitive.
        for other in [name.to_ascii_uppercase(), name.to_ascii_lowercase()] {
            if other != *name {
                assert!(!pattern_matches(&other, name), "{other} matched {name}");
                assert!(!wildcards.covers(&other, name), "{other} covered {name}");
            }
        }
        // Every other candidate, as a pattern: a required scope is covered by itself and by
        // `*:*`, never by a pattern that is a wildcard-free different string.
        assert!(pattern_matches("*:*", name));
        for pattern in &candidates {
            let matched = pattern_matches(pattern, name);
            if !pattern.contains('*') {
                assert_eq!(matched, pattern == name, "{pattern} vs {name}");
            }
            if matched && validate_scope(pattern).is_ok() {
                assert!(wildcards.covers(pattern, name) || *pattern == "*");
            }
        }
    }
});
