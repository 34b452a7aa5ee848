//! Authorization: the checks a handler's attributes declare (login type, scopes, roles, policy),
//! run by the guard after the caller is authenticated.

use std::sync::Arc;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;
use serde_json::Map;

use super::Pipeline;
use crate::clock::now;
use crate::error::AuthError;
use crate::policy::{Environment, LoadError, PolicyContext};
use crate::principal::Principal;
use crate::route::{GroupRequirement, HandlerSpec, PolicyRequirement};
use crate::scope::ScopeRequirement;

impl Pipeline<'_> {
    /// Runs every check of `spec` in order: credential (401), login type (401), scopes (403),
    /// policy (403).
    pub(crate) async fn check(
        &self,
        parts: &mut Parts,
        spec: &HandlerSpec,
    ) -> Result<Principal, AuthError> {
        // The router's own requirement, if it has one (`#[secure_router(login_types(...),
        // requires(...))]`), combines with the handler's.
        let group = parts.extensions.get::<GroupRequirement>().copied();
        let accepted = match group {
            Some(g) if spec.login_types.is_empty() => g.login_types,
            _ => spec.login_types,
        };
        let principal = self.authenticate(parts, accepted).await?;
        if let Some(g) = group {
            if !spec.login_types.is_empty() {
                // (Otherwise `authenticate` accepted the router's login types only.)
                self.check_login(&principal, g.login_types)?;
            }
            if !g.scopes.is_empty() {
                self.access
                    .check_scopes(&principal, ScopeRequirement::All(g.scopes))?;
            }
        }
        self.access.check_scopes(&principal, spec.scopes)?;
        self.access.check_roles(&principal, spec.roles)?;
        if let Some(policy) = spec.policy {
            self.check_policy(parts, &principal, policy).await?;
        }
        Ok(principal)
    }

    /// Loads the resource (if a loader is registered for its type), builds the context and asks
    /// the policy engine. A denial is logged with the deciding rule and its reason.
    async fn check_policy(
        &self,
        parts: &mut Parts,
        principal: &Principal,
        policy: PolicyRequirement,
    ) -> Result<(), AuthError> {
        let params: Vec<(String, String)> =
            match RawPathParams::from_request_parts(parts, &()).await {
                Ok(raw) => raw
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                // Parameters that cannot be read are an error, never an empty list (a rule
                // comparing against one would otherwise see it as missing).
                Err(RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
                    return Err(AuthError::InvalidPathParameter);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a policy was checked outside a routed request");
                    return Err(AuthError::Internal);
                }
            };
        let resource = match self.access.resource_loader(policy.resource) {
            None => Map::new(),
            // Authorization before loading: a caller whom no allow rule can admit is refused
            // before the loader runs, with the answer an unknown resource would get too.
            // (Without a loader the decision below says the same; no need to look twice.)
            Some(_)
                if !self.access.policy_engine().may_allow(
                    policy.action,
                    policy.resource,
                    principal.scopes(),
                ) =>
            {
                tracing::info!(
                    action = policy.action,
                    resource = policy.resource,
                    subject = principal.subject(),
                    "policy denied before loading: no allow rule admits the caller's scopes"
                );
                return Err(AuthError::PolicyDenied {
                    action: policy.action.to_owned(),
                    resource: policy.resource.to_owned(),
                    reason: "no policy rule allows it".to_owned(),
                });
            }
            Some(loader) => match loader.load(params.clone()).await {
                Ok(Some(loaded)) => {
                    let attributes = loaded.attributes().clone();
                    parts.extensions.insert(Arc::new(loaded));
                    attributes
                }
                Ok(None) => {
                    return Err(AuthError::ResourceNotFound {
                        resource: policy.resource.to_owned(),
                    });
                }
                Err(LoadError::Unavailable(message)) => {
                    tracing::warn!(resource = policy.resource, error = %message, "resource loader cannot reach its store");
                    return Err(AuthError::Unavailable);
                }
                Err(message) => {
                    tracing::error!(resource = policy.resource, error = %message, "resource loader failed");
                    return Err(AuthError::Internal);
                }
            },
        };
        let environment = Environment {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned()),
            params,
            // The same resolution as throttling's (trusted proxies honoured).
            client_ip: self.proxies.request_client_addr(parts),
            time: now(),
        };
        let context = PolicyContext::for_request(
            policy.action,
            policy.resource,
            principal.claims().clone(),
            resource,
            environment,
        );
        let decision = self.access.policy_engine().decide(Arc::new(context)).await;
        if decision.allowed {
            return Ok(());
        }
        tracing::info!(
            action = policy.action,
            resource = policy.resource,
            subject = principal.subject(),
            rule = decision.rule.as_deref().unwrap_or("(none)"),
            reason = %decision.reason,
            "policy denied"
        );
        Err(AuthError::PolicyDenied {
            action: policy.action.to_owned(),
            resource: policy.resource.to_owned(),
            reason: decision.reason,
        })
    }
}
