//! Issuing and verifying tokens.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{AuthError, InvalidToken};
use crate::manager::{AuthManager, LoginTypeState};
use crate::principal::Principal;

/// The longest token accepted, in bytes. Longer ones are rejected before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Claims the framework sets itself; extra claims cannot override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "iss",
    "aud",
    "typ",
    "login_type",
    "scope",
];

/// An issued access token, ready to return from a login route.
///
/// Serializes as `{"token_type":"Bearer","access_token":"…","expires_in":900}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerToken {
    /// Always `Bearer`.
    pub token_type: String,
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// An access token and a refresh token issued together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Always `Bearer`.
    pub token_type: String,
    /// The signed access JWT.
    pub access_token: String,
    /// The signed refresh JWT (`typ: "refresh"`).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// No login type of that name is registered.
    UnknownLoginType(String),
    /// A scope is not valid.
    InvalidScope {
        /// The scope.
        scope: String,
        /// Why.
        reason: auth_grammar::ScopeError,
    },
    /// An extra claim tries to set a reserved claim (see [`RESERVED_CLAIMS`]).
    ReservedClaim(String),
    /// The subject is empty.
    EmptySubject,
    /// The signing backend failed.
    Signing,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::UnknownLoginType(n) => write!(f, "no login type `{n}` is registered"),
            TokenError::InvalidScope { scope, reason } => {
                write!(f, "scope `{scope}` is invalid: {reason}")
            }
            TokenError::ReservedClaim(c) => {
                write!(
                    f,
                    "claim `{c}` is reserved and cannot be set as an extra claim"
                )
            }
            TokenError::EmptySubject => f.write_str("the subject cannot be empty"),
            TokenError::Signing => f.write_str("the token could not be signed"),
        }
    }
}

impl std::error::Error for TokenError {}

#[derive(Serialize)]
struct OutClaims<'a> {
    sub: &'a str,
    login_type: &'a str,
    typ: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// The claims the framework reads; everything else stays in the raw payload for
/// [`Principal::claims`]. Every field is optional here so a missing one is reported by name.
#[derive(Deserialize)]
struct InClaims {
    sub: Option<String>,
    login_type: Option<String>,
    typ: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
    scope: Option<String>,
    iss: Option<String>,
    aud: Option<Audience>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(all) => all.iter().any(|a| a == aud),
        }
    }
}

#[derive(Deserialize)]
struct PeekLoginType {
    login_type: Option<String>,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token types, as written in the `typ` claim.
pub(crate) const ACCESS: &str = "access";
pub(crate) const REFRESH: &str = "refresh";

impl AuthManager {
    /// Issues an access token for `subject` with `scopes` and `extra_claims`.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .build()?;
    /// let mut extra = serde_json::Map::new();
    /// extra.insert("tenant".into(), "acme".into());
    /// let token = manager.create_access_token("user", "alice", ["reports:read"], extra)?;
    /// assert_eq!(token.token_type, "Bearer");
    /// assert_eq!(token.expires_in, 900);
    ///
    /// let principal = manager.verify_access_token(&token.access_token, &["user"])?;
    /// assert_eq!(principal.subject(), "alice");
    /// assert_eq!(principal.claim("tenant"), Some(&serde_json::json!("acme")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_access_token<I, S>(
        &self,
        login_type: &str,
        subject: &str,
        scopes: I,
        extra_claims: Map<String, Value>,
    ) -> Result<BearerToken, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (lt, ttl) = self.issuing(login_type, |l| l.access_ttl.as_secs())?;
        let token = sign(lt, ACCESS, subject, scopes, &extra_claims, ttl)?;
        Ok(BearerToken {
            token_type: "Bearer".into(),
            access_token: token,
            expires_in: ttl,
        })
    }

    /// Issues a refresh token (`typ: "refresh"`), valid for the login type's refresh lifetime.
    pub fn create_refresh_token<I, S>(
        &self,
        login_type: &str,
        subject: &str,
        scopes: I,
        extra_claims: Map<String, Value>,
    ) -> Result<String, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (lt, ttl) = self.issuing(login_type, |l| l.refresh_ttl.as_secs())?;
        sign(lt, REFRESH, subject, scopes, &extra_claims, ttl)
    }

    /// Issues an access token and a refresh token with the same scopes and extra claims.
    pub fn create_token_pair<I, S>(
        &self,
        login_type: &str,
        subject: &str,
        scopes: I,
        extra_claims: Map<String, Value>,
    ) -> Result<TokenPair, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Vec<S> = scopes.into_iter().collect();
        let refresh = self.create_refresh_token(
            login_type,
            subject,
            scopes.iter().map(AsRef::as_ref),
            extra_claims.clone(),
        )?;
        let access = self.create_access_token(login_type, subject, scopes, extra_claims)?;
        Ok(TokenPair {
            token_type: access.token_type,
            access_token: access.access_token,
            refresh_token: refresh,
            expires_in: access.expires_in,
        })
    }

    fn issuing(
        &self,
        login_type: &str,
        ttl: impl Fn(&LoginTypeState) -> u64,
    ) -> Result<(&LoginTypeState, u64), TokenError> {
        let (_, lt) = self
            .login_type(login_type)
            .ok_or_else(|| TokenError::UnknownLoginType(login_type.to_owned()))?;
        Ok((lt, ttl(lt)))
    }

    /// Verifies an access token and returns its [`Principal`]. `accepted` lists the login types
    /// accepted; an empty list accepts every registered login type.
    pub fn verify_access_token(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let principal = self.verify(token, ACCESS, accepted)?;
        self.check_login_type(&principal, accepted)?;
        Ok(principal)
    }

    /// Verifies a refresh token of `login_type`.
    pub fn verify_refresh_token(
        &self,
        token: &str,
        login_type: &str,
    ) -> Result<Principal, AuthError> {
        let principal = self.verify(token, REFRESH, &[login_type])?;
        self.check_login_type(&principal, &[login_type])?;
        Ok(principal)
    }

    /// The realm named in challenges: the first accepted login type, or the first registered.
    pub(crate) fn realm(&self, accepted: &[&str]) -> String {
        accepted
            .first()
            .copied()
            .or_else(|| self.login_type_names().next())
            .unwrap_or("api")
            .to_owned()
    }

    pub(crate) fn check_login_type(
        &self,
        principal: &Principal,
        accepted: &[&str],
    ) -> Result<(), AuthError> {
        if accepted.is_empty() || accepted.contains(&principal.login_type()) {
            Ok(())
        } else {
            Err(AuthError::LoginTypeMismatch {
                expected: accepted.iter().map(|s| (*s).to_owned()).collect(),
                found: principal.login_type().to_owned(),
            })
        }
    }

    /// Verifies signature and claims. The login type is found from the `kid` (or, without one,
    /// from the `login_type` claim) and the token is verified with that login type's own keys
    /// only; whether that login type is accepted is the caller's check.
    pub(crate) fn verify(
        &self,
        token: &str,
        typ: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let invalid = |reason| AuthError::InvalidToken {
            realm: self.realm(accepted),
            reason,
        };
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid(InvalidToken::TooLarge));
        }
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| invalid(InvalidToken::Malformed))?;
        let (_, payload_b64) = message
            .split_once('.')
            .ok_or_else(|| invalid(InvalidToken::Malformed))?;
        if payload_b64.contains('.') {
            return Err(invalid(InvalidToken::Malformed));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid(InvalidToken::Malformed))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| invalid(InvalidToken::Malformed))?;

        // Which login type's keys may verify this token.
        let (lt_index, key_range) = match header.kid.as_deref() {
            Some(kid) => {
                let (lt, key) = self
                    .key_by_kid(kid)
                    .ok_or_else(|| invalid(InvalidToken::UnknownKey))?;
                (lt, key..key + 1)
            }
            None => {
                let peek: PeekLoginType = serde_json::from_slice(&payload)
                    .map_err(|_| invalid(InvalidToken::Malformed))?;
                let name = peek
                    .login_type
                    .ok_or_else(|| invalid(InvalidToken::MissingClaim("login_type")))?;
                let (lt, state) = self
                    .login_type(&name)
                    .ok_or_else(|| invalid(InvalidToken::UnknownKey))?;
                (lt, 0..state.keys.len())
            }
        };
        let lt = self.login_type_at(lt_index);
        let keys = &lt.keys[key_range];
        if !keys.iter().any(|k| k.alg == header.alg) {
            return Err(invalid(InvalidToken::Algorithm));
        }
        let verified = keys.iter().filter(|k| k.alg == header.alg).any(|k| {
            matches!(
                jsonwebtoken::crypto::verify(signature, message.as_bytes(), &k.decoding, k.alg),
                Ok(true)
            )
        });
        if !verified {
            return Err(invalid(InvalidToken::Signature));
        }

        let claims: InClaims =
            serde_json::from_slice(&payload).map_err(|_| invalid(InvalidToken::Malformed))?;
        let login_type = claims
            .login_type
            .ok_or_else(|| invalid(InvalidToken::MissingClaim("login_type")))?;
        if *login_type != *lt.name {
            // A key of one login type signed a token claiming another.
            return Err(invalid(InvalidToken::UnknownKey));
        }
        match claims.typ.as_deref() {
            None => return Err(invalid(InvalidToken::MissingClaim("typ"))),
            Some(t) if t != typ => return Err(invalid(InvalidToken::WrongType)),
            Some(_) => {}
        }
        let exp = claims
            .exp
            .ok_or_else(|| invalid(InvalidToken::MissingClaim("exp")))?;
        let iat = claims
            .iat
            .ok_or_else(|| invalid(InvalidToken::MissingClaim("iat")))?;
        let sub = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(InvalidToken::MissingClaim("sub")))?;
        let now = now();
        if exp.saturating_add(lt.leeway) < now {
            return Err(invalid(InvalidToken::Expired));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(lt.leeway))
        {
            return Err(invalid(InvalidToken::NotYetValid));
        }
        if iat > now.saturating_add(lt.leeway) {
            return Err(invalid(InvalidToken::IssuedInFuture));
        }
        if let Some(expected) = &lt.issuer
            && claims.iss.as_deref() != Some(expected.as_str())
        {
            return Err(invalid(InvalidToken::Issuer));
        }
        match (&lt.audience, &claims.aud) {
            (Some(expected), Some(aud)) if aud.contains(expected) => {}
            (None, None) => {}
            _ => return Err(invalid(InvalidToken::Audience)),
        }
        Ok(Principal::new(
            sub,
            lt.name.clone(),
            claims.scope.unwrap_or_default(),
            claims.jti,
            iat,
            exp,
            payload,
        ))
    }
}

fn sign<I, S>(
    lt: &LoginTypeState,
    typ: &str,
    subject: &str,
    scopes: I,
    extra: &Map<String, Value>,
    ttl: u64,
) -> Result<String, TokenError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    if subject.is_empty() {
        return Err(TokenError::EmptySubject);
    }
    if let Some(reserved) = extra.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(TokenError::ReservedClaim(reserved.clone()));
    }
    let mut scope = String::new();
    for s in scopes {
        let s = s.as_ref();
        auth_grammar::validate_scope(s).map_err(|reason| TokenError::InvalidScope {
            scope: s.to_owned(),
            reason,
        })?;
        if !scope.is_empty() {
            scope.push(' ');
        }
        scope.push_str(s);
    }
    let key = lt.keys.first().ok_or(TokenError::Signing)?;
    let iat = now();
    let claims = OutClaims {
        sub: subject,
        login_type: &lt.name,
        typ,
        iat,
        exp: iat + ttl,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        scope,
        iss: lt.issuer.as_deref(),
        aud: lt.audience.as_deref(),
        extra,
    };
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, &key.encoding)
}

fn encode(
    header: &Header,
    claims: &impl Serialize,
    key: &EncodingKey,
) -> Result<String, TokenError> {
    jsonwebtoken::encode(header, claims, key).map_err(|_| TokenError::Signing)
}
