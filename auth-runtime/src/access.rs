//! Authorization decisions: scopes, roles and the policy engine, with the resource loaders the
//! policy path may call. What a handler requires is checked against them by the pipeline.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{AuthError, MissingScopes};
use crate::policy::{PolicyEngine, ResourceLoader};
use crate::principal::Principal;
use crate::scope::{ScopeRequirement, ScopeValidator};

/// The scope validator, the roles' scopes, the policy rules and the resource loaders.
pub(crate) struct Access {
    scopes: Arc<dyn ScopeValidator>,
    /// role → the scopes it stands for
    roles: Arc<HashMap<String, Vec<String>>>,
    policies: PolicyEngine,
    loaders: HashMap<String, Arc<dyn ResourceLoader>>,
}

impl Access {
    pub(crate) fn new(
        scopes: Arc<dyn ScopeValidator>,
        roles: Arc<HashMap<String, Vec<String>>>,
        policies: PolicyEngine,
        loaders: HashMap<String, Arc<dyn ResourceLoader>>,
    ) -> Self {
        Access {
            scopes,
            roles,
            policies,
            loaders,
        }
    }

    /// The scope validator in use.
    pub(crate) fn scope_validator(&self) -> &dyn ScopeValidator {
        &*self.scopes
    }

    /// The policy rules.
    pub(crate) fn policy_engine(&self) -> &PolicyEngine {
        &self.policies
    }

    /// The loader registered for a resource type.
    pub(crate) fn resource_loader(&self, resource: &str) -> Option<&dyn ResourceLoader> {
        self.loaders.get(resource).map(|l| &**l)
    }

    /// Checks that `principal` holds one of `roles` (a role nobody configured is held by
    /// nobody).
    pub(crate) fn check_roles(
        &self,
        principal: &Principal,
        roles: &[&str],
    ) -> Result<(), AuthError> {
        if roles.is_empty() {
            return Ok(());
        }
        let validator = self.scope_validator();
        let granted = principal.scopes();
        let holds = |role: &&str| match self.roles.get(*role).map(Vec::as_slice) {
            Some(scopes) => scopes.iter().all(|s| validator.has_scope(s, granted)),
            None => {
                tracing::error!(
                    role = *role,
                    "a handler requires a role that is not configured"
                );
                false
            }
        };
        if roles.iter().any(holds) {
            Ok(())
        } else {
            Err(AuthError::MissingRole {
                realm: principal.login_type().to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            })
        }
    }

    /// Checks that `principal` satisfies `required`.
    pub(crate) fn check_scopes(
        &self,
        principal: &Principal,
        required: ScopeRequirement,
    ) -> Result<(), AuthError> {
        let validator = self.scope_validator();
        let granted = principal.scopes();
        let missing = match required {
            ScopeRequirement::None => return Ok(()),
            ScopeRequirement::All(all) => {
                if all.iter().all(|s| validator.has_scope(s, granted)) {
                    return Ok(());
                }
                MissingScopes::All(
                    all.iter()
                        .filter(|s| !validator.has_scope(s, granted))
                        .map(|s| (*s).to_owned())
                        .collect(),
                )
            }
            ScopeRequirement::AnyOf(any) => {
                if any.iter().any(|s| validator.has_scope(s, granted)) {
                    return Ok(());
                }
                MissingScopes::AnyOf(any.iter().map(|s| (*s).to_owned()).collect())
            }
        };
        Err(AuthError::InsufficientScope {
            realm: principal.login_type().to_owned(),
            missing,
        })
    }
}
