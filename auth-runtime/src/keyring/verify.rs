//! Verifying tokens: signature with the keys of the token's own login type, then every claim.
//! Pure: no store is consulted here (the session check follows in the pipeline).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{Keyring, MAX_TOKEN_LEN, REFRESH};
use crate::clock::now;
use crate::error::{AuthError, InvalidToken};
use crate::principal::Principal;

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
    sid: Option<String>,
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

/// RFC 7519 §7.2: the claims set must be a JSON object. (serde would also read a struct from
/// a JSON array, so this is checked on the bytes first.)
fn is_json_object(payload: &[u8]) -> bool {
    payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

impl Keyring {
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
        // RFC 7515 §4.1.11: a recipient must reject a token naming critical extensions it does
        // not understand; this framework understands none.
        if header.crit.is_some() {
            return Err(invalid(InvalidToken::CriticalHeader));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| invalid(InvalidToken::Malformed))?;
        if !is_json_object(&payload) {
            return Err(invalid(InvalidToken::Malformed));
        }

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
        let jti = claims
            .jti
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(InvalidToken::MissingClaim("jti")))?;
        let sid = claims.sid.filter(|s| !s.is_empty());
        if sid.is_none() && self.require_sid {
            // Every token of a manager with sessions belongs to one; a token without is not
            // revocable and is refused.
            return Err(invalid(InvalidToken::MissingClaim("sid")));
        }
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
        // A token living longer than its login type allows was not issued by these rules
        // (or was issued under an older, longer configuration): refuse it.
        let lifetime = if typ == REFRESH {
            lt.refresh_ttl
        } else {
            lt.access_ttl
        };
        if exp.saturating_sub(iat) > lifetime.as_secs().saturating_add(lt.leeway) {
            return Err(invalid(InvalidToken::LifetimeTooLong));
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
            jti,
            sid,
            iat,
            exp,
            payload,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::is_json_object;

    #[test]
    fn claims_must_be_an_object() {
        assert!(is_json_object(b"{}"));
        assert!(is_json_object(b" \n{\"a\":1}"));
        assert!(!is_json_object(b"[\"alice\"]"));
        assert!(!is_json_object(b"\"x\""));
        assert!(!is_json_object(b""));
    }
}
