//! OpenID Connect sign-in (relying party), the protocol parts: the provider's metadata, the
//! authorization request (authorization code flow with PKCE S256, `state`, `nonce`), the
//! browser-bound record of a sign-in in flight, and the ID token's checks.
//!
//! Written on the crates this one already verifies tokens with (`jsonwebtoken` on aws-lc-rs)
//! rather than on `openidconnect`, which brings a second JWT and crypto stack (RustCrypto `rsa`,
//! `p256`, `ed25519-dalek`, `chrono`); the parts a code flow needs are small and each is tested
//! here.
//!
//! ```
//! use auth_runtime::oidc::{AuthorizationRequest, OidcClient, ProviderMetadata};
//!
//! let provider = ProviderMetadata {
//!     issuer: "https://id.example.com".into(),
//!     authorization_endpoint: "https://id.example.com/authorize".into(),
//!     token_endpoint: "https://id.example.com/token".into(),
//!     jwks_uri: "https://id.example.com/jwks".into(),
//! };
//! let client = OidcClient::new("my-app", "https://app.example.com/auth/oidc/callback");
//! let (url, pending) = AuthorizationRequest::new(&provider, &client).into_parts();
//! assert!(url.starts_with("https://id.example.com/authorize?response_type=code&"));
//! assert!(url.contains("code_challenge_method=S256"));
//! assert!(url.contains(&format!("state={}", pending.state)));
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// How long a sign-in may stay at the provider before its record expires (seconds).
pub const PENDING_LOGIN_TTL: u64 = 10 * 60;

/// The longest ID token accepted, in bytes.
const MAX_ID_TOKEN_LEN: usize = 16 * 1024;

/// What a provider's discovery document (`<issuer>/.well-known/openid-configuration`) says,
/// of what a code flow needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer: exactly the configured issuer URL (OpenID Connect Discovery §4.3).
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is redeemed.
    pub token_endpoint: String,
    /// The provider's key set.
    pub jwks_uri: String,
}

impl ProviderMetadata {
    /// Parses a discovery document and checks it: the `issuer` must be `expected_issuer`
    /// (a trailing `/` aside), and every endpoint an absolute `https` URL (or `http` on a
    /// loopback host, for local providers).
    ///
    /// ```
    /// use auth_runtime::oidc::ProviderMetadata;
    ///
    /// let document = br#"{"issuer":"https://id.example.com","authorization_endpoint":"https://id.example.com/a",
    ///     "token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k","extra":1}"#;
    /// assert!(ProviderMetadata::from_discovery(document, "https://id.example.com/").is_ok());
    /// assert!(ProviderMetadata::from_discovery(document, "https://evil.example.com").is_err());
    /// ```
    pub fn from_discovery(document: &[u8], expected_issuer: &str) -> Result<Self, OidcError> {
        let metadata: ProviderMetadata = serde_json::from_slice(document)
            .map_err(|_| OidcError::Discovery("not a discovery document"))?;
        if metadata.issuer.trim_end_matches('/') != expected_issuer.trim_end_matches('/') {
            return Err(OidcError::Discovery(
                "its issuer is not the configured issuer",
            ));
        }
        for url in [
            &metadata.authorization_endpoint,
            &metadata.token_endpoint,
            &metadata.jwks_uri,
        ] {
            if !acceptable_url(url) {
                return Err(OidcError::Discovery(
                    "an endpoint is not an https URL (http only on a loopback host)",
                ));
            }
        }
        Ok(metadata)
    }
}

/// `https://…`, or `http://` on 127.0.0.1, `[::1]` or localhost.
fn acceptable_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// This application as the provider's client.
#[derive(Clone)]
pub struct OidcClient {
    /// The client id: the ID token's audience.
    pub client_id: String,
    /// Where the provider sends the browser back.
    pub redirect_url: String,
    /// The scopes asked for (`openid email` by default; `openid` is always sent).
    pub scopes: Vec<String>,
    /// Clock skew tolerated on `exp` and `iat` (seconds, default 60).
    pub leeway: u64,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// A client asking for `openid email`.
    pub fn new(client_id: impl Into<String>, redirect_url: impl Into<String>) -> Self {
        OidcClient {
            client_id: client_id.into(),
            redirect_url: redirect_url.into(),
            scopes: vec!["openid".into(), "email".into()],
            leeway: 60,
        }
    }
}

/// One sign-in on its way to the provider: what the callback must find again. Kept in the
/// browser in a cookie sealed with an HMAC ([`seal`](Self::seal)), so the callback accepts
/// only the browser that started it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636), sent with the code.
    pub verifier: String,
    /// When the sign-in started (seconds since the Unix epoch).
    pub started_at: u64,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The verifier and nonce are secrets of this sign-in.
        f.debug_struct("PendingLogin")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl PendingLogin {
    /// The cookie value: the record, base64url, then `.` and its HMAC-SHA256 under `key`.
    pub fn seal(&self, key: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(mac(key, body.as_bytes()));
        format!("{body}.{tag}")
    }

    /// The record of a sealed cookie value, if it was sealed under `key` (compared in constant
    /// time) and is not older than [`PENDING_LOGIN_TTL`] at `now`.
    pub fn open(value: &str, key: &[u8], now: u64) -> Result<PendingLogin, OidcError> {
        let bad = || OidcError::State("the sign-in is unknown to this browser or has expired");
        let (body, tag) = value.split_once('.').ok_or_else(bad)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let mut check = HmacSha256::new_from_slice(key).map_err(|_| bad())?;
        check.update(body.as_bytes());
        check.verify_slice(&tag).map_err(|_| bad())?;
        let record: PendingLogin = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(bad)?;
        if now > record.started_at + PENDING_LOGIN_TTL || record.started_at > now + 60 {
            return Err(bad());
        }
        Ok(record)
    }

    /// Whether `state` (from the callback's query) is this sign-in's, in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        self.state.len() == state.len() && bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// 256 random bits, base64url (43 characters: a valid PKCE verifier, RFC 7636 §4.1).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The PKCE S256 challenge of a verifier.
///
/// ```
/// // RFC 7636, appendix B.
/// assert_eq!(
///     auth_runtime::oidc::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
/// );
/// ```
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization request: the provider URL to send the browser to, and the
/// [`PendingLogin`] to keep in its cookie.
#[derive(Debug)]
pub struct AuthorizationRequest {
    url: String,
    pending: PendingLogin,
}

impl AuthorizationRequest {
    /// A fresh request (new `state`, `nonce` and PKCE verifier) for `client` at `provider`.
    pub fn new(provider: &ProviderMetadata, client: &OidcClient) -> Self {
        let pending = PendingLogin {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            started_at: crate::clock::now(),
        };
        let mut scopes: Vec<&str> = vec!["openid"];
        scopes.extend(
            client
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "openid"),
        );
        let query = serde_urlencoded_pairs(&[
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", &client.redirect_url),
            ("scope", &scopes.join(" ")),
            ("state", &pending.state),
            ("nonce", &pending.nonce),
            ("code_challenge", &pkce_challenge(&pending.verifier)),
            ("code_challenge_method", "S256"),
        ]);
        let separator = if provider.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        AuthorizationRequest {
            url: format!("{}{separator}{query}", provider.authorization_endpoint),
            pending,
        }
    }

    /// The URL and the record.
    pub fn into_parts(self) -> (String, PendingLogin) {
        (self.url, self.pending)
    }
}

/// `application/x-www-form-urlencoded` pairs (RFC 3986 unreserved characters kept, space as
/// `%20`).
fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The code redemption request (RFC 6749 §4.1.3 with PKCE): `POST` this form to the
/// provider's `token_endpoint`, with the client's id and secret by HTTP Basic
/// ([`basic_authorization`]).
///
/// ```
/// use auth_runtime::oidc::{OidcClient, token_request_form};
///
/// let client = OidcClient::new("app", "https://app.example.com/cb");
/// let form = token_request_form(&client, "the-code", "the-verifier");
/// assert_eq!(
///     form,
///     "grant_type=authorization_code&code=the-code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=the-verifier",
/// );
/// ```
pub fn token_request_form(client: &OidcClient, code: &str, verifier: &str) -> String {
    serde_urlencoded_pairs(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &client.redirect_url),
        ("code_verifier", verifier),
    ])
}

/// `Authorization: Basic …` for a client id and secret (RFC 6749 §2.3.1: each
/// form-urlencoded first).
///
/// ```
/// assert_eq!(auth_runtime::oidc::basic_authorization("app", "app-secret"), "Basic YXBwOmFwcC1zZWNyZXQ=");
/// ```
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    let id = serde_urlencoded_pairs(&[("", client_id)]);
    let secret = serde_urlencoded_pairs(&[("", client_secret)]);
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", &id[1..], &secret[1..]))
    )
}

/// The ID token of a token endpoint's answer (`{"id_token": …}` with status 200); the
/// provider's error (`{"error": …}`) or anything else is [`OidcError::TokenEndpoint`] (the
/// body is never repeated: it may hold tokens).
///
/// ```
/// use auth_runtime::oidc::{OidcError, id_token_of};
///
/// assert_eq!(id_token_of(200, br#"{"access_token":"a","id_token":"x.y.z"}"#), Ok("x.y.z".to_owned()));
/// assert!(matches!(id_token_of(400, br#"{"error":"invalid_grant"}"#), Err(OidcError::TokenEndpoint(_))));
/// ```
pub fn id_token_of(status: u16, body: &[u8]) -> Result<String, OidcError> {
    #[derive(Deserialize)]
    struct Answer {
        id_token: Option<String>,
        error: Option<String>,
    }
    if status >= 500 {
        return Err(OidcError::Unavailable("the token endpoint is unavailable"));
    }
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    match (status, answer) {
        (
            200,
            Some(Answer {
                id_token: Some(token),
                ..
            }),
        ) => Ok(token),
        (
            _,
            Some(Answer {
                error: Some(error), ..
            }),
        ) => Err(OidcError::TokenEndpoint(match error.as_str() {
            "invalid_grant" => "the code was refused (used, expired or not this client's)",
            "invalid_client" => "the provider refused this client's credentials",
            _ => "the provider refused the code",
        })),
        (200, _) => Err(OidcError::TokenEndpoint("the answer has no ID token")),
        _ => Err(OidcError::TokenEndpoint(
            "the provider did not answer with tokens",
        )),
    }
}

/// The checked claims of an ID token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// The provider's subject for the user.
    pub subject: String,
    /// The `email` claim, if any.
    pub email: Option<String>,
    /// The `email_verified` claim (`false` when absent).
    pub email_verified: bool,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

impl IdTokenClaims {
    /// The string values of a claim that is a list (`groups`), or a single string.
    pub fn strings(&self, claim: &str) -> Vec<String> {
        match self.claims.get(claim) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Validates an ID token (OpenID Connect Core §3.1.3.7): its `kid` names a key of the
/// provider's set, which alone fixes the algorithm (RS256, ES256 or EdDSA; `alg: none`, HMAC and
/// any header that names a key or a URL are never followed); the signature; `iss` is the
/// provider's issuer; `aud` contains the client id and, with several audiences, `azp` is the
/// client id; `exp` is in the future and `iat` not in it (with the client's leeway); `nonce` is
/// the pending sign-in's (constant time).
pub fn validate_id_token(
    token: &str,
    keys: &JwkSet,
    provider: &ProviderMetadata,
    client: &OidcClient,
    nonce: &str,
    now: u64,
) -> Result<IdTokenClaims, OidcError> {
    if token.len() > MAX_ID_TOKEN_LEN {
        return Err(OidcError::IdToken("it is too large"));
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| OidcError::IdToken("it is malformed"))?;
    let kid = header
        .kid
        .as_deref()
        .ok_or(OidcError::IdToken("it names no key"))?;
    let jwk = keys.find(kid).ok_or(OidcError::IdToken(UNKNOWN_KEY))?;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return Err(OidcError::IdToken("its key is of an unsupported type")),
    };
    if header.alg != alg {
        return Err(OidcError::IdToken("its algorithm is not its key's"));
    }
    let key =
        DecodingKey::from_jwk(jwk).map_err(|_| OidcError::IdToken("its key cannot be used"))?;
    let mut validation = Validation::new(alg);
    validation.leeway = client.leeway;
    validation.set_issuer(&[provider.issuer.as_str()]);
    validation.set_audience(&[client.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|_| OidcError::IdToken("its signature, issuer, audience or lifetime is wrong"))?;
    let claims = data.claims;
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    if iat > now + client.leeway {
        return Err(OidcError::IdToken("it was issued in the future"));
    }
    if let Some(Value::Array(audiences)) = claims.get("aud")
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(client.client_id.as_str())
    {
        return Err(OidcError::IdToken(
            "it has several audiences and is not authorized for this client",
        ));
    }
    let sent_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    {
        use subtle::ConstantTimeEq as _;
        if sent_nonce.len() != nonce.len()
            || !bool::from(sent_nonce.as_bytes().ct_eq(nonce.as_bytes()))
        {
            return Err(OidcError::IdToken("its nonce is not this sign-in's"));
        }
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(OidcError::IdToken("it has no subject"))?
        .to_owned();
    Ok(IdTokenClaims {
        subject,
        email: claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned),
        email_verified: claims.get("email_verified") == Some(&Value::Bool(true)),
        claims,
    })
}

/// The boxed future of an [`OidcHttp`] call.
pub type OidcHttpFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<OidcHttpReply, OidcError>> + Send + 'a>,
>;

/// A status and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcHttpReply {
    /// The HTTP status.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

/// How [`OidcSignIn`] talks to the provider: `GET` (discovery, keys) and a form `POST` (the
/// code). Only the URLs of the configured provider's discovery document are ever called.
/// Implement it with the client the application already has; bound bodies and time, follow no
/// redirects, and answer [`OidcError::Unavailable`] when the provider cannot be reached.
pub trait OidcHttp: Send + Sync + 'static {
    /// `GET url`.
    fn get<'a>(&'a self, url: &'a str) -> OidcHttpFuture<'a>;
    /// `POST url` with a form body and an `Authorization` header.
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a str,
        form: &'a str,
    ) -> OidcHttpFuture<'a>;
}

/// The longest answer read from a provider (discovery, keys, tokens).
#[cfg(feature = "federation")]
const MAX_PROVIDER_BODY: usize = 256 * 1024;

/// How long one call to the provider may take.
#[cfg(feature = "federation")]
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(feature = "federation")]
/// The default client ([`HyperClient`](crate::federation::HyperClient): HTTPS through rustls
/// with Mozilla's roots), each call bounded to 10 s and 256 KiB.
impl OidcHttp for crate::federation::HyperClient {
    fn get<'a>(&'a self, url: &'a str) -> OidcHttpFuture<'a> {
        Box::pin(async move {
            let call = self.post_or_get(url, None);
            bounded(call).await
        })
    }

    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a str,
        form: &'a str,
    ) -> OidcHttpFuture<'a> {
        Box::pin(async move {
            let call = self.post_or_get(url, Some((authorization, form)));
            bounded(call).await
        })
    }
}

#[cfg(feature = "federation")]
impl crate::federation::HyperClient {
    async fn post_or_get(
        &self,
        url: &str,
        post: Option<(&str, &str)>,
    ) -> Result<crate::federation::HttpResponse, crate::federation::HttpError> {
        match post {
            None => crate::federation::HttpClient::get(self, url, MAX_PROVIDER_BODY).await,
            Some((authorization, form)) => {
                self.post_form(url, authorization, form, MAX_PROVIDER_BODY)
                    .await
            }
        }
    }
}

#[cfg(feature = "federation")]
async fn bounded(
    call: impl std::future::Future<
        Output = Result<crate::federation::HttpResponse, crate::federation::HttpError>,
    >,
) -> Result<OidcHttpReply, OidcError> {
    match tokio::time::timeout(PROVIDER_TIMEOUT, call).await {
        Ok(Ok(response)) => Ok(OidcHttpReply {
            status: response.status.as_u16(),
            body: response.body,
        }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the identity provider could not be reached");
            Err(OidcError::Unavailable("the provider could not be reached"))
        }
        Err(_) => Err(OidcError::Unavailable(
            "the provider did not answer in time",
        )),
    }
}

/// How long an unknown `kid` waits before the key set is fetched again (a flood of forged
/// kids costs at most one fetch per interval).
pub const KEY_REFETCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// OpenID Connect sign-in at one provider: its metadata and keys (fetched by
/// [`discover`](Self::discover)), this client, the key that seals the browser's sign-in
/// record, and how the provider's groups map to roles. Mount it with
/// [`OidcRoutes`](crate::routes::OidcRoutes).
pub struct OidcSignIn {
    pub(crate) provider: ProviderMetadata,
    pub(crate) client: OidcClient,
    client_secret: String,
    http: std::sync::Arc<dyn OidcHttp>,
    keys: std::sync::RwLock<(JwkSet, std::time::Instant)>,
    refetch: tokio::sync::Mutex<()>,
    refetch_interval: std::time::Duration,
    pub(crate) cookie_key: Vec<u8>,
    pub(crate) cookie_secure: bool,
    pub(crate) group_roles: Vec<(String, String)>,
    pub(crate) groups_claim: String,
    pub(crate) login_type: String,
}

impl fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("issuer", &self.provider.issuer)
            .field("client", &self.client)
            .field("group_roles", &self.group_roles)
            .finish_non_exhaustive()
    }
}

impl OidcSignIn {
    /// Fetches `<issuer>/.well-known/openid-configuration` and the key set it names, through
    /// `http`. Tokens are issued as login type `user`; the browser's record is sealed under a
    /// random key (give every instance the same one with
    /// [`cookie_key`](Self::cookie_key)).
    pub async fn discover(
        issuer: &str,
        client: OidcClient,
        client_secret: impl Into<String>,
        http: impl OidcHttp,
    ) -> Result<Self, OidcError> {
        let http: std::sync::Arc<dyn OidcHttp> = std::sync::Arc::new(http);
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let reply = http.get(&url).await?;
        if reply.status != 200 {
            return Err(OidcError::Unavailable(
                "the discovery document could not be fetched",
            ));
        }
        let provider = ProviderMetadata::from_discovery(&reply.body, issuer)?;
        let keys = fetch_keys(http.as_ref(), &provider.jwks_uri).await?;
        Ok(OidcSignIn {
            provider,
            client,
            client_secret: client_secret.into(),
            http,
            keys: std::sync::RwLock::new((keys, std::time::Instant::now())),
            refetch: tokio::sync::Mutex::new(()),
            refetch_interval: KEY_REFETCH_INTERVAL,
            cookie_key: rand::random::<[u8; 32]>().to_vec(),
            cookie_secure: true,
            group_roles: Vec::new(),
            groups_claim: "groups".into(),
            login_type: "user".into(),
        })
    }

    /// The key that seals the browser's sign-in record (at least 32 bytes; the same on every
    /// instance behind one load balancer).
    pub fn cookie_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.cookie_key = key.as_ref().to_vec();
        self
    }

    /// `false` drops `Secure` (and the `__Host-` prefix) from the sign-in cookie: local HTTP
    /// only.
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.cookie_secure = secure;
        self
    }

    /// Maps the provider's groups (in the [`groups_claim`](Self::groups_claim)) to roles; the
    /// mapped roles are the provider-managed ones.
    pub fn group_roles<I, G, R>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (G, R)>,
        G: Into<String>,
        R: Into<String>,
    {
        self.group_roles = pairs
            .into_iter()
            .map(|(g, r)| (g.into(), r.into()))
            .collect();
        self
    }

    /// How long an unknown `kid` waits before the key set is fetched again (default
    /// [`KEY_REFETCH_INTERVAL`]).
    pub fn key_refetch_interval(mut self, interval: std::time::Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The ID token claim that lists the groups (default `groups`).
    pub fn groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = claim.into();
        self
    }

    /// The login type of the tokens issued (default `user`).
    pub fn login_type(mut self, login_type: impl Into<String>) -> Self {
        self.login_type = login_type.into();
        self
    }

    /// The provider's metadata.
    pub fn provider(&self) -> &ProviderMetadata {
        &self.provider
    }

    /// The name of the cookie that carries the sign-in record.
    pub(crate) fn cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            "__Host-oidc-login"
        } else {
            "oidc-login"
        }
    }

    /// Redeems the callback's code and validates the ID token; an unknown `kid` fetches the
    /// key set again, at most once per [`KEY_REFETCH_INTERVAL`].
    pub(crate) async fn redeem(
        &self,
        code: &str,
        pending: &PendingLogin,
        now: u64,
    ) -> Result<IdTokenClaims, OidcError> {
        let form = token_request_form(&self.client, code, &pending.verifier);
        let authorization = basic_authorization(&self.client.client_id, &self.client_secret);
        let reply = self
            .http
            .post_form(&self.provider.token_endpoint, &authorization, &form)
            .await?;
        let id_token = id_token_of(reply.status, &reply.body)?;
        let keys = self.keys.read().map(|k| k.0.clone()).unwrap_or_default();
        match validate_id_token(
            &id_token,
            &keys,
            &self.provider,
            &self.client,
            &pending.nonce,
            now,
        ) {
            Err(OidcError::IdToken(why)) if why == UNKNOWN_KEY => {
                self.refetch_keys().await;
                let keys = self.keys.read().map(|k| k.0.clone()).unwrap_or_default();
                validate_id_token(
                    &id_token,
                    &keys,
                    &self.provider,
                    &self.client,
                    &pending.nonce,
                    now,
                )
            }
            other => other,
        }
    }

    /// Fetches the key set again unless it was fetched within [`KEY_REFETCH_INTERVAL`];
    /// concurrent callers share one fetch; a failure keeps the keys there are.
    async fn refetch_keys(&self) {
        let _one_at_a_time = self.refetch.lock().await;
        let fresh = self
            .keys
            .read()
            .map(|k| k.1.elapsed() < self.refetch_interval)
            .unwrap_or(true);
        if fresh {
            return;
        }
        match fetch_keys(self.http.as_ref(), &self.provider.jwks_uri).await {
            Ok(keys) => {
                if let Ok(mut slot) = self.keys.write() {
                    *slot = (keys, std::time::Instant::now());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the provider's keys could not be fetched again; keeping the last ones");
                if let Ok(mut slot) = self.keys.write() {
                    slot.1 = std::time::Instant::now();
                }
            }
        }
    }

    /// The roles the provider's groups map to, and every mapped role.
    pub(crate) fn roles_of(&self, claims: &IdTokenClaims) -> (Vec<String>, Vec<String>) {
        let groups = claims.strings(&self.groups_claim);
        let mapped = self
            .group_roles
            .iter()
            .filter(|(g, _)| groups.contains(g))
            .map(|(_, r)| r.clone())
            .collect();
        let managed = self.group_roles.iter().map(|(_, r)| r.clone()).collect();
        (mapped, managed)
    }
}

/// `validate_id_token`'s reason for a `kid` outside the key set.
const UNKNOWN_KEY: &str = "its key is not the provider's";

async fn fetch_keys(http: &dyn OidcHttp, url: &str) -> Result<JwkSet, OidcError> {
    let reply = http.get(url).await?;
    if reply.status != 200 {
        return Err(OidcError::Unavailable(
            "the provider's keys could not be fetched",
        ));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| OidcError::Discovery("the provider's key set is not a JWK set"))
}

/// Why an OIDC step failed. Its message names the step and never repeats a token, code or
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcError {
    /// The discovery document is unusable.
    Discovery(&'static str),
    /// The callback's `state` or the browser's sign-in record is missing, forged or expired.
    State(&'static str),
    /// The ID token failed a check.
    IdToken(&'static str),
    /// The token endpoint refused the code or answered without an ID token.
    TokenEndpoint(&'static str),
    /// The provider cannot be reached or did not answer.
    Unavailable(&'static str),
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OidcError::Discovery(why) => write!(f, "the provider's discovery document: {why}"),
            OidcError::State(why) => write!(f, "the sign-in state: {why}"),
            OidcError::IdToken(why) => write!(f, "the ID token: {why}"),
            OidcError::TokenEndpoint(why) => write!(f, "the token endpoint: {why}"),
            OidcError::Unavailable(why) => write!(f, "the identity provider: {why}"),
        }
    }
}

impl std::error::Error for OidcError {}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const ISSUER: &str = "http://127.0.0.1:9/realm";

    fn provider() -> ProviderMetadata {
        ProviderMetadata {
            issuer: ISSUER.into(),
            authorization_endpoint: format!("{ISSUER}/authorize"),
            token_endpoint: format!("{ISSUER}/token"),
            jwks_uri: format!("{ISSUER}/jwks"),
        }
    }

    fn client() -> OidcClient {
        OidcClient::new("app", "http://127.0.0.1:3000/auth/oidc/callback")
    }

    /// An Ed25519 key pair: its encoding key and the set that publishes it as `kid`.
    fn key(kid: &str) -> (EncodingKey, JwkSet) {
        let pem = crate::SigningKey::generate_ed25519_pem();
        let signing = crate::SigningKey::ed25519_private_pem(kid, pem.as_bytes());
        let Ok(ready) = signing.into_parts() else {
            panic!("a valid key")
        };
        let mut jwk =
            jsonwebtoken::jwk::Jwk::from_decoding_key(&ready.decoding, Some(Algorithm::EdDSA))
                .unwrap();
        jwk.common.key_id = Some(kid.into());
        (ready.encoding, JwkSet { keys: vec![jwk] })
    }

    fn sign(key: &EncodingKey, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn claims(now: u64) -> Value {
        json!({
            "iss": ISSUER, "aud": "app", "sub": "p-1", "iat": now, "exp": now + 300,
            "nonce": "n-1", "email": "Ann@Example.com", "email_verified": true,
            "groups": ["editors", "ops"],
        })
    }

    fn with(mut base: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    #[test]
    fn a_good_id_token_passes_and_every_bad_one_fails() {
        crate::AuthManager::builder()
            .login_type(crate::LoginType::new("x").key(crate::SigningKey::hs256("x", &[1; 32])))
            .build()
            .unwrap(); // installs the crypto provider
        let now = crate::clock::now();
        let (encoding, keys) = key("k1");
        let check =
            |token: &str| validate_id_token(token, &keys, &provider(), &client(), "n-1", now);
        let good = check(&sign(&encoding, "k1", &claims(now))).expect("valid");
        assert_eq!(good.subject, "p-1");
        assert_eq!(good.email.as_deref(), Some("Ann@Example.com"));
        assert!(good.email_verified);
        assert_eq!(good.strings("groups"), ["editors", "ops"]);

        let bad = [
            with(claims(now), json!({ "iss": "http://127.0.0.1:9/other" })),
            with(claims(now), json!({ "aud": "someone-else" })),
            with(claims(now), json!({ "aud": ["app", "other"] })),
            with(claims(now), json!({ "exp": now - 120 })),
            with(claims(now), json!({ "iat": now + 3600 })),
            with(claims(now), json!({ "nonce": "n-2" })),
            with(claims(now), json!({ "nonce": null })),
            with(claims(now), json!({ "sub": null })),
        ];
        for claims in bad {
            assert!(
                check(&sign(&encoding, "k1", &claims)).is_err(),
                "accepted {claims}"
            );
        }
        // Several audiences with `azp` the client: fine.
        let azp = with(
            claims(now),
            json!({ "aud": ["app", "other"], "azp": "app" }),
        );
        assert!(check(&sign(&encoding, "k1", &azp)).is_ok());
        // Another key, an unknown kid, no kid, `alg: none`, HS256 with the public key's bytes.
        let (other, _) = key("k1");
        assert!(check(&sign(&other, "k1", &claims(now))).is_err());
        assert!(check(&sign(&encoding, "k2", &claims(now))).is_err());
        let mut no_kid = Header::new(Algorithm::EdDSA);
        no_kid.kid = None;
        assert!(check(&jsonwebtoken::encode(&no_kid, &claims(now), &encoding).unwrap()).is_err());
        let payload = URL_SAFE_NO_PAD.encode(claims(now).to_string());
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#)
        );
        assert!(check(&none).is_err());
        let AlgorithmParameters::OctetKeyPair(okp) = &keys.keys[0].algorithm else {
            panic!("an OKP key")
        };
        let mut hs = Header::new(Algorithm::HS256);
        hs.kid = Some("k1".into());
        let confused = jsonwebtoken::encode(
            &hs,
            &claims(now),
            &EncodingKey::from_secret(okp.x.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            check(&confused),
            Err(OidcError::IdToken("its algorithm is not its key's"))
        );
    }

    #[test]
    fn the_pending_login_is_sealed_to_this_browser() {
        let (_, pending) = AuthorizationRequest::new(&provider(), &client()).into_parts();
        let sealed = pending.seal(b"a cookie key of this deployment!");
        let now = pending.started_at;
        let opened = PendingLogin::open(&sealed, b"a cookie key of this deployment!", now).unwrap();
        assert_eq!(opened, pending);
        assert!(opened.state_matches(&pending.state));
        assert!(!opened.state_matches("another state"));
        // Another key, a changed body, an expired record, garbage.
        assert!(PendingLogin::open(&sealed, b"another key", now).is_err());
        let (body, tag) = sealed.split_once('.').unwrap();
        let mut forged = body.to_owned();
        forged.replace_range(0..1, if body.starts_with('A') { "B" } else { "A" });
        assert!(
            PendingLogin::open(
                &format!("{forged}.{tag}"),
                b"a cookie key of this deployment!",
                now
            )
            .is_err()
        );
        assert!(
            PendingLogin::open(
                &sealed,
                b"a cookie key of this deployment!",
                now + PENDING_LOGIN_TTL + 1
            )
            .is_err()
        );
        for garbage in ["", ".", "abc", "a.b.c", "%%%.%%%"] {
            assert!(PendingLogin::open(garbage, b"k", now).is_err());
        }
        assert!(!format!("{pending:?}").contains(&pending.verifier));
    }

    #[test]
    fn the_authorization_url_carries_every_parameter() {
        let (url, pending) = AuthorizationRequest::new(&provider(), &client()).into_parts();
        let query = url.split_once('?').unwrap().1;
        let pairs: Vec<(String, String)> = serde_json::from_value(json!(
            query
                .split('&')
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (
                        k.to_owned(),
                        v.replace("%20", " ")
                            .replace("%3A", ":")
                            .replace("%2F", "/"),
                    )
                })
                .collect::<Vec<_>>()
        ))
        .unwrap();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("app"));
        assert_eq!(
            get("redirect_uri"),
            Some("http://127.0.0.1:3000/auth/oidc/callback")
        );
        assert_eq!(get("scope"), Some("openid email"));
        assert_eq!(get("state"), Some(pending.state.as_str()));
        assert_eq!(get("nonce"), Some(pending.nonce.as_str()));
        assert_eq!(
            get("code_challenge"),
            Some(pkce_challenge(&pending.verifier).as_str())
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(pending.verifier.len(), 43);
        // Two requests share nothing.
        let (_, again) = AuthorizationRequest::new(&provider(), &client()).into_parts();
        assert_ne!(again.state, pending.state);
        assert_ne!(again.nonce, pending.nonce);
        assert_ne!(again.verifier, pending.verifier);
    }

    #[test]
    fn discovery_documents_are_checked() {
        let doc = |issuer: &str, endpoint: &str| {
            json!({ "issuer": issuer, "authorization_endpoint": endpoint,
                    "token_endpoint": endpoint, "jwks_uri": endpoint })
            .to_string()
        };
        assert!(
            ProviderMetadata::from_discovery(
                doc(ISSUER, "http://127.0.0.1:9/x").as_bytes(),
                ISSUER
            )
            .is_ok()
        );
        assert!(
            ProviderMetadata::from_discovery(
                doc(ISSUER, "http://localhost:8080/x").as_bytes(),
                ISSUER
            )
            .is_ok()
        );
        assert!(
            ProviderMetadata::from_discovery(
                doc(ISSUER, "https://id.example.com/x").as_bytes(),
                ISSUER
            )
            .is_ok()
        );
        for endpoint in [
            "http://id.example.com/x",
            "http://127.0.0.1.evil.com/x",
            "ftp://x",
            "/relative",
            "",
        ] {
            assert!(
                ProviderMetadata::from_discovery(doc(ISSUER, endpoint).as_bytes(), ISSUER).is_err(),
                "{endpoint}"
            );
        }
        assert!(
            ProviderMetadata::from_discovery(doc("https://evil", "https://x/y").as_bytes(), ISSUER)
                .is_err()
        );
        assert!(ProviderMetadata::from_discovery(b"[1,2]", ISSUER).is_err());
    }
}
