//! [`ExternalIssuer`]: the configuration of one trusted issuer, and the credential verifier
//! it becomes when the manager is built.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::{HttpClient, HyperClient};
use super::jwk::token_algorithm;
use super::keys::{FetchError, KeySet, Limits, Source, check_url};
use crate::clock::now;
use crate::credential::custom::{CredentialVerifier, VerifiedCaller, VerifyFuture};
use crate::credential::{API_KEY, bearer_token};
use crate::error::{AuthError, InvalidToken};
use crate::keyring::{MAX_TOKEN_LEN, RESERVED_CLAIMS};
use crate::scope::{GrantedScopes, ScopeValidator};

/// How often at most an issuer's keys are fetched, by default.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How long one fetch may take, by default.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or key set read.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An issuer whose access tokens this application accepts: another organisation's identity
/// provider (Auth0, Okta, Entra ID, Keycloak, a partner's own), its keys fetched from its JWKS.
///
/// Register it for a login type with
/// [`AuthManagerBuilder::external_issuer`](crate::AuthManagerBuilder::external_issuer); its
/// callers then pass `#[login_type("partner")]`, `#[requires(...)]`, `#[roles(...)]` and
/// `#[policy(...)]` like callers with this application's own tokens.
///
/// A token is the issuer's when its `iss` claim is the issuer's URL exactly; it is then
/// verified with that issuer's keys only, and any failure is final (401, or 503 while the keys
/// cannot be had). Checked:
///
/// - the signature, with the key its `kid` names in the issuer's key set (every key of the
///   set, without a `kid`); the algorithm is the key's (`RS256`, `ES256` or `EdDSA`), never
///   the token's choice: `alg: none`, `HS256` and any other algorithm are refused. Token
///   headers that name keys or URLs (`jku`, `x5u`, `jwk`, `x5c`) are ignored: no URL a token
///   names is ever fetched;
/// - `aud`: one of the [audiences](Self::audience) (required: [`build`](crate::AuthManagerBuilder::build)
///   refuses an issuer without one);
/// - `exp` (required), `nbf` and `iat`, with the login type's
///   [leeway](crate::LoginType::leeway);
/// - `sub` (required, the caller's [subject](crate::Principal::subject)).
///
/// What the caller may do comes from the token only through this configuration: the roles
/// its [roles claim](Self::roles_claim) names that are [mapped](Self::map_role) to this
/// application's roles (with their scopes, from
/// [`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)), and the scopes of its
/// [scope claim](Self::scope_claim) that [`scopes_within`](Self::scopes_within) allows. Its
/// other claims are dropped unless [kept](Self::claims).
///
/// Keys are fetched at the first token of the issuer (or by
/// [`AuthManager::fetch_issuer_keys`](crate::AuthManager::fetch_issuer_keys), at start),
/// cached for the answer's `Cache-Control: max-age` (within one minute and a day), fetched
/// again for a `kid` they do not have at most once per [refresh
/// interval](Self::refresh_interval), however many such tokens arrive. A failed fetch keeps the
/// last good keys; without any, the issuer's tokens are answered 503, never let through.
///
/// ```
/// use auth_runtime::federation::ExternalIssuer;
/// use auth_runtime::{AuthManager, LoginType, SigningKey};
///
/// let manager = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
///     .role("reporter", ["reports:read"])
///     .external_issuer(
///         "partner",
///         ExternalIssuer::discovery("https://login.partner.example")
///             .audience("reports-api")
///             .roles_claim("groups")
///             .map_role("report-readers", "reporter")
///             .scope_claim("scp")
///             .scopes_within(["reports:read"]),
///     )
///     .build()?; // nothing is fetched yet
/// assert_eq!(manager.login_type_names().collect::<Vec<_>>(), ["user", "partner"]);
/// # Ok::<(), auth_runtime::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ExternalIssuer {
    issuer: String,
    jwks_url: Option<String>,
    audiences: Vec<String>,
    scope_claim: String,
    scopes_within: Vec<String>,
    scopes_within_roles: Vec<String>,
    roles_claim: Option<String>,
    role_map: Vec<(String, String)>,
    claims: Vec<String>,
    refresh_interval: Duration,
    fetch_timeout: Duration,
    allow_http: bool,
    client: Option<Arc<dyn HttpClient>>,
}

impl fmt::Debug for ExternalIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalIssuer")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl ExternalIssuer {
    /// An OpenID Connect provider: its keys are named by the `jwks_uri` of
    /// `<issuer>/.well-known/openid-configuration`, whose `issuer` must be `issuer` exactly
    /// (OpenID Connect Discovery 1.0 §4.3), and tokens must carry `iss` = `issuer`.
    ///
    /// `https` URLs only, but for loopback hosts (`localhost`, `127.0.0.1`, `[::1]`) and with
    /// [`allow_http`](Self::allow_http).
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://login.partner.example/").audience("api");
    /// assert_eq!(issuer.issuer(), "https://login.partner.example/");
    /// ```
    pub fn discovery(issuer: impl Into<String>) -> Self {
        Self::with(issuer.into(), None)
    }

    /// An issuer whose key set is at `jwks_url`, for providers without discovery; tokens must
    /// carry `iss` = `issuer`.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::jwks_url(
    ///     "https://partner.example",
    ///     "https://partner.example/.well-known/jwks.json",
    /// )
    /// .audience("reports-api");
    /// # let _ = issuer;
    /// ```
    pub fn jwks_url(issuer: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self::with(issuer.into(), Some(jwks_url.into()))
    }

    fn with(issuer: String, jwks_url: Option<String>) -> Self {
        ExternalIssuer {
            issuer,
            jwks_url,
            audiences: Vec::new(),
            scope_claim: "scope".into(),
            scopes_within: Vec::new(),
            scopes_within_roles: Vec::new(),
            roles_claim: None,
            role_map: Vec::new(),
            claims: Vec::new(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            allow_http: false,
            client: None,
        }
    }

    /// The issuer (the `iss` its tokens carry).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Accepts tokens whose `aud` is (or contains) `audience`: your API's identifier at the
    /// issuer. Call it again to accept several. At least one is required: a token meant for
    /// another application of the same issuer (an ID token of your sign-in client) must not
    /// pass.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api://reports")
    ///     .audience("6f1c...-client-id");
    /// # let _ = issuer;
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The claim holding the token's scopes (default `scope`; Entra ID and Okta say `scp`): a
    /// space-delimited string or an array of strings. Its scopes are granted only within
    /// [`scopes_within`](Self::scopes_within) or
    /// [`scopes_within_role`](Self::scopes_within_role); without either, none is. Scopes that
    /// are not `resource:action` (`openid`, `email`) are ignored.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .scope_claim("scp")
    ///     .scopes_within(["reports:*"]);
    /// # let _ = issuer;
    /// ```
    pub fn scope_claim(mut self, claim: impl Into<String>) -> Self {
        self.scope_claim = claim.into();
        self
    }

    /// The most the issuer may grant through its [scope claim](Self::scope_claim): a scope
    /// of the token is granted when these cover it (with the manager's scope validator, so
    /// `reports:*` covers `reports:read`; a token's wildcard only when listed as it is).
    /// Adds to earlier calls.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// // A token saying `scope: "reports:read admin:*"` is granted `reports:read` only.
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .scopes_within(["reports:read", "billing:read"]);
    /// # let _ = issuer;
    /// ```
    pub fn scopes_within<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_within
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// [`scopes_within`](Self::scopes_within) the scopes of one of this application's roles
    /// ([`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role); an undeclared role is
    /// a [`ConfigError`](crate::ConfigError)).
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("reporter", ["reports:read"])
    ///     .external_issuer(
    ///         "partner",
    ///         ExternalIssuer::discovery("https://idp.example")
    ///             .audience("api")
    ///             .scopes_within_role("reporter"),
    ///     )
    ///     .build();
    /// assert!(manager.is_ok());
    /// ```
    pub fn scopes_within_role(mut self, role: impl Into<String>) -> Self {
        self.scopes_within_roles.push(role.into());
        self
    }

    /// The claim naming the caller's groups or roles at the issuer (`groups`, `roles`, ...):
    /// an array of strings or one string. Only names [mapped](Self::map_role) to a role of
    /// this application count.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .roles_claim("groups")
    ///     .map_role("reporting-team", "reporter");
    /// # let _ = issuer;
    /// ```
    pub fn roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.roles_claim = Some(claim.into());
        self
    }

    /// A caller whose [roles claim](Self::roles_claim) names `external` holds `role`, one of
    /// this application's roles ([`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)):
    /// its scopes are granted and it is listed in the principal's `roles` claim, so
    /// `#[roles("reporter")]` and the role's `#[requires(...)]` pass. Several external names
    /// may map to one role, and one to several.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .roles_claim("roles")
    ///     .map_role("Reports.Read", "reporter")
    ///     .map_role("Reports.Admin", "editor");
    /// # let _ = issuer;
    /// ```
    pub fn map_role(mut self, external: impl Into<String>, role: impl Into<String>) -> Self {
        self.role_map.push((external.into(), role.into()));
        self
    }

    /// Claims of the token to keep for handlers and policies ([`Principal::claim`](crate::Principal::claim),
    /// `subject.<name>` in conditions); every other claim is dropped, so that an issuer cannot
    /// set a claim your policies read (an `account_status`, a tenant) unless you say so.
    /// Names the runtime sets (`sub`, `scope`, `roles`, ...) are a
    /// [`ConfigError`](crate::ConfigError).
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .claims(["email", "tid"]);
    /// # let _ = issuer;
    /// ```
    pub fn claims<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.claims.extend(names.into_iter().map(Into::into));
        self
    }

    /// At most one fetch of the keys per `interval` (default
    /// [`DEFAULT_REFRESH_INTERVAL`], 30 s): however many tokens name an unknown `kid`, the
    /// key set is fetched at most once in that time. Not zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .refresh_interval(Duration::from_secs(60));
    /// # let _ = issuer;
    /// ```
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// How long each request of a fetch may take (default [`DEFAULT_FETCH_TIMEOUT`], 5 s);
    /// tokens waiting for it wait no longer. Not zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .fetch_timeout(Duration::from_secs(2));
    /// # let _ = issuer;
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Fetches from plain `http` URLs on any host (default: `https` only, `http` on loopback
    /// hosts), for a provider inside a private network that does not speak TLS. Also the
    /// `jwks_uri` of its discovery document.
    ///
    /// ```
    /// use auth_runtime::federation::ExternalIssuer;
    ///
    /// let issuer = ExternalIssuer::discovery("http://keycloak:8080/realms/main")
    ///     .audience("api")
    ///     .allow_http(true);
    /// # let _ = issuer;
    /// ```
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Fetches through `client` instead of a [`HyperClient`] (a proxy, private roots, your
    /// own HTTP stack; see [`HttpClient`]).
    ///
    /// ```
    /// use auth_runtime::federation::{ExternalIssuer, HyperClient};
    ///
    /// let issuer = ExternalIssuer::discovery("https://idp.example")
    ///     .audience("api")
    ///     .http_client(HyperClient::new());
    /// # let _ = issuer;
    /// ```
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// Checks the configuration and makes the verifier of login type `login_type`. `roles`
    /// are the manager's roles; `validator` its scope validator.
    pub(crate) fn build(
        self,
        login_type: &str,
        leeway: u64,
        roles: &HashMap<String, Vec<String>>,
        validator: Arc<dyn ScopeValidator>,
    ) -> Result<IssuerVerifier, Vec<String>> {
        let mut problems = Vec::new();
        if self.issuer.is_empty() {
            problems.push("the issuer is empty".to_owned());
        }
        let source = match &self.jwks_url {
            Some(url) => Source::Jwks { url: url.clone() },
            None => Source::Discovery {
                document: format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                ),
            },
        };
        let url = match &source {
            Source::Jwks { url } => url,
            Source::Discovery { document } => document,
        };
        if let Err(reason) = check_url(url, self.allow_http) {
            problems.push(reason);
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            problems.push("an audience is required (ExternalIssuer::audience)".into());
        }
        if self.refresh_interval.is_zero() || self.fetch_timeout.is_zero() {
            problems.push("the refresh interval and the fetch timeout must not be zero".into());
        }
        if self.scope_claim.is_empty() || self.roles_claim.as_deref() == Some("") {
            problems.push("a claim name is empty".into());
        }
        if !self.role_map.is_empty() && self.roles_claim.is_none() {
            problems.push(
                "roles are mapped but no roles claim is set (ExternalIssuer::roles_claim)".into(),
            );
        }
        let mut role_scopes: HashMap<String, Vec<(String, Vec<String>)>> = HashMap::new();
        for (external, role) in &self.role_map {
            match roles.get(role) {
                Some(scopes) => role_scopes
                    .entry(external.clone())
                    .or_default()
                    .push((role.clone(), scopes.clone())),
                None => problems.push(format!(
                    "role `{role}` is not declared (AuthManagerBuilder::role)"
                )),
            }
        }
        let mut ceiling = Vec::new();
        for scope in &self.scopes_within {
            match auth_grammar::validate_scope(scope) {
                Ok(()) => ceiling.push(scope.clone()),
                Err(e) => problems.push(format!("scope `{scope}`: {e}")),
            }
        }
        for role in &self.scopes_within_roles {
            match roles.get(role) {
                Some(scopes) => ceiling.extend(scopes.iter().cloned()),
                None => problems.push(format!(
                    "role `{role}` is not declared (AuthManagerBuilder::role)"
                )),
            }
        }
        for name in &self.claims {
            if RESERVED_CLAIMS.contains(&name.as_str()) || name == "roles" {
                problems.push(format!(
                    "claim `{name}` is set by the runtime and cannot be kept from the token"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let client = self.client.unwrap_or_else(|| Arc::new(HyperClient::new()));
        let keys = KeySet::new(
            self.issuer.clone(),
            source,
            client,
            Limits {
                refresh_interval: self.refresh_interval,
                timeout: self.fetch_timeout,
                max_body: MAX_DOCUMENT_BYTES,
                allow_http: self.allow_http,
            },
        );
        Ok(IssuerVerifier {
            issuer: self.issuer,
            login_type: login_type.to_owned(),
            leeway,
            audiences: self.audiences,
            scope_claim: self.scope_claim,
            ceiling: ceiling.join(" "),
            roles_claim: self.roles_claim,
            role_scopes,
            claims: self.claims,
            validator,
            keys: Arc::new(keys),
        })
    }
}

/// An [`ExternalIssuer`] built for one login type: the credential verifier of its tokens.
pub(crate) struct IssuerVerifier {
    issuer: String,
    login_type: String,
    leeway: u64,
    audiences: Vec<String>,
    scope_claim: String,
    /// The scopes the scope claim may grant, space-delimited.
    ceiling: String,
    roles_claim: Option<String>,
    /// external name → (our role, its scopes)
    role_scopes: HashMap<String, Vec<(String, Vec<String>)>>,
    claims: Vec<String>,
    validator: Arc<dyn ScopeValidator>,
    keys: Arc<KeySet>,
}

impl fmt::Debug for IssuerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerVerifier")
            .field("issuer", &self.issuer)
            .field("login_type", &self.login_type)
            .finish_non_exhaustive()
    }
}

/// A JWT taken apart, nothing verified yet.
struct Unverified<'t> {
    /// `header.payload`, the signed bytes.
    message: &'t str,
    signature: &'t str,
    header: Header,
    payload: Map<String, Value>,
}

/// The header members read: nothing else (`jku`, `x5u`, `jwk`, `x5c`) is.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Only the `iss` of a payload: what tells whose token it is.
#[derive(Deserialize)]
struct PeekIssuer {
    iss: Option<String>,
}

impl<'t> Unverified<'t> {
    /// `None` when `token` is not a JWT whose `iss` is `issuer` (not this issuer's: the next
    /// verifier judges it); `Some(Err(()))` when it says `issuer` but its parts are not JSON
    /// objects (this issuer's, malformed).
    fn parse(token: &'t str, issuer: &str) -> Option<Result<Self, ()>> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (message, signature) = token.rsplit_once('.')?;
        let (header, payload) = message.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let peek: PeekIssuer = serde_json::from_slice(&payload).ok()?;
        if peek.iss.as_deref() != Some(issuer) {
            return None;
        }
        let parts = || {
            let header: Header =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
            let payload: Map<String, Value> = serde_json::from_slice(&payload).ok()?;
            Some((header, payload))
        };
        Some(parts().ok_or(()).map(|(header, payload)| Unverified {
            message,
            signature,
            header,
            payload,
        }))
    }
}

/// `aud`: one string or an array of strings.
fn audience_contains(aud: Option<&Value>, accepted: &[String]) -> bool {
    match aud {
        Some(Value::String(a)) => accepted.contains(a),
        Some(Value::Array(all)) => all
            .iter()
            .any(|a| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a))),
        _ => false,
    }
}

/// A claim of strings: one string (space-delimited when `split`) or an array of strings.
/// `Err` for anything else.
fn strings(value: Option<&Value>, split: bool) -> Result<Vec<&str>, ()> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if split => Ok(s.split_ascii_whitespace().collect()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(all)) => all.iter().map(|v| v.as_str().ok_or(())).collect(),
        Some(_) => Err(()),
    }
}

impl IssuerVerifier {
    /// The login type its callers have.
    pub(crate) fn login_type(&self) -> &str {
        &self.login_type
    }

    /// The issuer (`iss`).
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Fetches the keys now, whenever the last fetch was.
    pub(crate) async fn fetch_keys(&self) -> Result<(), FetchError> {
        self.keys.refresh(true).await.map(|_| ())
    }

    /// Verifies `token` if it is this issuer's (`Ok(None)` if not).
    pub(crate) async fn verify_bearer(
        &self,
        token: &str,
    ) -> Result<Option<VerifiedCaller>, AuthError> {
        match Unverified::parse(token, &self.issuer) {
            None => Ok(None),
            Some(Err(())) => Err(self.invalid(InvalidToken::Malformed)),
            Some(Ok(token)) => self.verify_token(token).await.map(Some),
        }
    }

    fn invalid(&self, reason: InvalidToken) -> AuthError {
        AuthError::InvalidToken {
            realm: self.login_type.clone(),
            reason,
        }
    }

    /// Verifies a token whose `iss` is this issuer's: every failure is final.
    async fn verify_token(&self, token: Unverified<'_>) -> Result<VerifiedCaller, AuthError> {
        let Unverified {
            message,
            signature,
            header,
            payload,
        } = token;
        if header.crit.is_some() {
            return Err(self.invalid(InvalidToken::CriticalHeader));
        }
        let alg =
            token_algorithm(&header.alg).ok_or_else(|| self.invalid(InvalidToken::Algorithm))?;
        let kid = header.kid.as_deref();
        let snapshot = self.keys.keys_for(kid).await;
        let named: Vec<_> = snapshot
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .collect();
        if named.is_empty() {
            return Err(if snapshot.unavailable() {
                AuthError::Unavailable
            } else {
                self.invalid(InvalidToken::UnknownKey)
            });
        }
        let candidates: Vec<_> = named.into_iter().filter(|k| k.alg == alg).collect();
        if candidates.is_empty() {
            return Err(self.invalid(InvalidToken::Algorithm));
        }
        let verified = candidates.iter().any(|k| {
            matches!(
                jsonwebtoken::crypto::verify(signature, message.as_bytes(), &k.key, k.alg),
                Ok(true)
            )
        });
        if !verified {
            return Err(self.invalid(InvalidToken::Signature));
        }
        self.caller(payload)
    }

    /// The claims of a token whose signature verified.
    fn caller(&self, mut payload: Map<String, Value>) -> Result<VerifiedCaller, AuthError> {
        let time = |name: &'static str| -> Result<Option<u64>, AuthError> {
            match payload.get(name) {
                None => Ok(None),
                // NumericDate may have a fraction (RFC 7519 §2).
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                    .map(Some)
                    .ok_or_else(|| self.invalid(InvalidToken::Malformed)),
            }
        };
        let now = now();
        let exp = time("exp")?.ok_or_else(|| self.invalid(InvalidToken::MissingClaim("exp")))?;
        if exp.saturating_add(self.leeway) < now {
            return Err(self.invalid(InvalidToken::Expired));
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now.saturating_add(self.leeway)) {
            return Err(self.invalid(InvalidToken::NotYetValid));
        }
        if time("iat")?.is_some_and(|iat| iat > now.saturating_add(self.leeway)) {
            return Err(self.invalid(InvalidToken::IssuedInFuture));
        }
        if !audience_contains(payload.get("aud"), &self.audiences) {
            return Err(self.invalid(InvalidToken::Audience));
        }
        let subject = match payload.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(self.invalid(InvalidToken::MissingClaim("sub"))),
        };
        let mut scopes: Vec<String> = Vec::new();
        let mut roles: Vec<String> = Vec::new();
        if let Some(claim) = &self.roles_claim {
            let names = strings(payload.get(claim), false)
                .map_err(|()| self.invalid(InvalidToken::Malformed))?;
            for (role, role_scopes) in names
                .iter()
                .filter_map(|n| self.role_scopes.get(*n))
                .flatten()
            {
                if !roles.contains(role) {
                    roles.push(role.clone());
                    scopes.extend(role_scopes.iter().cloned());
                }
            }
        }
        if !self.ceiling.is_empty() {
            let named = strings(payload.get(&self.scope_claim), true)
                .map_err(|()| self.invalid(InvalidToken::Malformed))?;
            let ceiling = GrantedScopes::new(&self.ceiling);
            for scope in named {
                if auth_grammar::validate_scope(scope).is_err() {
                    continue;
                }
                let within = if scope.contains('*') {
                    ceiling.iter().any(|c| c == scope)
                } else {
                    self.validator.has_scope(scope, ceiling)
                };
                if within {
                    scopes.push(scope.to_owned());
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        scopes.retain(|s| seen.insert(s.clone()));
        let mut caller = VerifiedCaller::new(subject, self.login_type.clone())
            .scopes(scopes)
            .expires_at(exp);
        for name in &self.claims {
            if let Some(value) = payload.remove(name) {
                caller = caller.claim(name.clone(), value);
            }
        }
        Ok(caller.claim("roles", roles))
    }
}

impl CredentialVerifier for IssuerVerifier {
    fn verify<'a>(&'a self, parts: &'a Parts) -> VerifyFuture<'a> {
        Box::pin(async move {
            // A key beside a header is the built-in check's ambiguity (400), not a token of ours.
            if parts.headers.contains_key(&API_KEY) {
                return Ok(None);
            }
            let Ok(Some(token)) = bearer_token(parts, String::new) else {
                return Ok(None);
            };
            self.verify_bearer(token).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audiences_are_one_string_or_an_array() {
        let accepted = ["api".to_owned()];
        assert!(audience_contains(Some(&json!("api")), &accepted));
        assert!(audience_contains(Some(&json!(["x", "api"])), &accepted));
        assert!(!audience_contains(Some(&json!(["x"])), &accepted));
        assert!(!audience_contains(Some(&json!("apix")), &accepted));
        assert!(!audience_contains(Some(&json!(1)), &accepted));
        assert!(!audience_contains(None, &accepted));
    }

    #[test]
    fn claims_of_strings() {
        assert_eq!(
            strings(Some(&json!("a:b c:d")), true),
            Ok(vec!["a:b", "c:d"])
        );
        assert_eq!(strings(Some(&json!("a b")), false), Ok(vec!["a b"]));
        assert_eq!(strings(Some(&json!(["a", "b"])), true), Ok(vec!["a", "b"]));
        assert_eq!(strings(None, true), Ok(vec![]));
        assert_eq!(strings(Some(&json!(["a", 1])), true), Err(()));
        assert_eq!(strings(Some(&json!({"a": 1})), true), Err(()));
    }

    #[test]
    fn only_jws_compact_tokens_of_the_issuer_are_read() {
        const ISS: &str = "https://idp.example";
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let header = part(json!({"alg": "RS256", "kid": "k", "jku": "http://evil/"}));
        let payload = part(json!({"iss": ISS}));
        let token = format!("{header}.{payload}.c2ln");
        let parsed = Unverified::parse(&token, ISS).unwrap().unwrap();
        assert_eq!(parsed.header.kid.as_deref(), Some("k"));
        assert_eq!(parsed.signature, "c2ln");
        // Another issuer's, or none's: not ours.
        assert!(Unverified::parse(&token, "https://other.example").is_none());
        let other = format!(
            "{header}.{}.c2ln",
            part(json!({"iss": "https://idp.example/"}))
        );
        assert!(Unverified::parse(&other, ISS).is_none());
        assert!(Unverified::parse(&format!("{header}.{payload}"), ISS).is_none());
        assert!(Unverified::parse(&format!("{header}.{payload}.x.y"), ISS).is_none());
        assert!(Unverified::parse(&format!("{header}.{}.x", part(json!([1]))), ISS).is_none());
        assert!(Unverified::parse("opaque-token", ISS).is_none());
        // Ours, with a header that is not a JOSE header: malformed.
        let bad_header = format!("{}.{payload}.c2ln", part(json!({"kid": "k"})));
        assert_eq!(
            Unverified::parse(&bad_header, ISS).map(|r| r.is_err()),
            Some(true)
        );
    }
}
