//! Reading a JWKS (RFC 7517) into verification keys. Each key's algorithm is fixed here, by
//! its own `kty`, `crv` and `alg`: RS256 (RSA of 2048 to 8192 bits), ES256 (P-256) and EdDSA
//! (Ed25519) only. Symmetric keys (`oct`), encryption keys and other algorithms are skipped.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// Keys beyond this many in one set are ignored.
pub(crate) const MAX_KEYS: usize = 64;

/// base64url, with or without padding (RFC 7515 says without; some servers pad).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A verification key of an external issuer.
#[derive(Clone)]
pub(crate) struct RemoteKey {
    pub(crate) kid: Option<String>,
    /// The only algorithm this key verifies.
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for RemoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Value>,
}

/// The members of a JWK that are read; everything else (`x5c`, `x5u`, private members) is
/// ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The usable signature keys of a JWKS document, in its order. A key that cannot be used is
/// skipped (and logged); a document with none is an error.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<RemoteKey>, String> {
    let set: KeySet =
        serde_json::from_slice(body).map_err(|_| "not a JWKS document (no `keys` array)")?;
    if set.keys.len() > MAX_KEYS {
        tracing::warn!(
            keys = set.keys.len(),
            "a JWKS has more than {MAX_KEYS} keys; the rest are ignored"
        );
    }
    let mut keys = Vec::new();
    let mut kids = HashSet::new();
    for value in set.keys.into_iter().take(MAX_KEYS) {
        match serde_json::from_value::<Jwk>(value)
            .map_err(|_| "malformed".to_owned())
            .and_then(parse_key)
        {
            Ok(key) => {
                if let Some(kid) = &key.kid
                    && !kids.insert(kid.clone())
                {
                    tracing::warn!(kid = %kid.escape_debug(), "a JWKS names one kid twice; the first key is kept");
                    continue;
                }
                keys.push(key);
            }
            Err(reason) => tracing::debug!(%reason, "a JWKS key is skipped"),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS has no RS256, ES256 or EdDSA signature key".into());
    }
    Ok(keys)
}

fn parse_key(jwk: Jwk) -> Result<RemoteKey, String> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("not a signature key (`use`)".into());
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("not a verification key (`key_ops`)".into());
    }
    let member = |value: &Option<String>, name: &str| {
        value
            .as_deref()
            .ok_or_else(|| format!("no `{name}`"))
            .and_then(|v| {
                B64.decode(v)
                    .map_err(|_| format!("`{name}` is not base64url"))
            })
    };
    let alg = jwk.alg.as_deref();
    let (alg, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) if matches!(alg, None | Some("RS256")) => {
            let n = member(&jwk.n, "n")?;
            let e = member(&jwk.e, "e")?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            if !(256..=1024).contains(&n.len()) {
                return Err("an RSA modulus outside 2048 to 8192 bits".into());
            }
            if e.is_empty() || e.len() > 8 {
                return Err("an RSA exponent out of range".into());
            }
            (Algorithm::RS256, DecodingKey::from_rsa_raw_components(n, e))
        }
        ("EC", Some("P-256")) if matches!(alg, None | Some("ES256")) => {
            let x = member(&jwk.x, "x")?;
            let y = member(&jwk.y, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 coordinate is not 32 bytes".into());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (Algorithm::ES256, DecodingKey::from_ec_der(&point))
        }
        ("OKP", Some("Ed25519")) if matches!(alg, None | Some("EdDSA") | Some("Ed25519")) => {
            let x = member(&jwk.x, "x")?;
            if x.len() != 32 {
                return Err("an Ed25519 key is not 32 bytes".into());
            }
            (Algorithm::EdDSA, DecodingKey::from_ed_der(&x))
        }
        (kty, crv) => {
            return Err(format!(
                "kty `{}`, crv `{}`, alg `{}` is not accepted",
                kty.escape_debug(),
                crv.unwrap_or("-").escape_debug(),
                alg.unwrap_or("-").escape_debug()
            ));
        }
    };
    let kid = match jwk.kid {
        Some(kid) if kid.is_empty() || kid.len() > 256 => {
            return Err("an empty or overlong `kid`".into());
        }
        kid => kid,
    };
    Ok(RemoteKey { kid, alg, key })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The algorithms a token may name: the ones a JWKS key can have. `none`, the HMAC family and
/// everything else are not.
pub(crate) fn token_algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// base64url as the tests write it.
#[cfg(test)]
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ed25519_x() -> String {
        b64(&[7u8; 32])
    }

    fn one(key: Value) -> Result<Vec<RemoteKey>, String> {
        parse_jwks(json!({ "keys": [key] }).to_string().as_bytes())
    }

    #[test]
    fn the_algorithm_comes_from_the_key() {
        let rsa = json!({"kty": "RSA", "kid": "r", "n": b64(&[0xC5; 256]), "e": "AQAB"});
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "e", "x": b64(&[1; 32]), "y": b64(&[2; 32])});
        let ed =
            json!({"kty": "OKP", "crv": "Ed25519", "kid": "d", "x": ed25519_x(), "alg": "EdDSA"});
        let keys = parse_jwks(json!({ "keys": [rsa, ec, ed] }).to_string().as_bytes()).unwrap();
        let algs: Vec<_> = keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
        assert_eq!(
            algs,
            [
                (Some("r"), Algorithm::RS256),
                (Some("e"), Algorithm::ES256),
                (Some("d"), Algorithm::EdDSA)
            ]
        );
    }

    #[test]
    fn other_keys_are_skipped() {
        let refused = [
            // symmetric: never from a key set
            json!({"kty": "oct", "kid": "h", "k": b64(&[1; 32]), "alg": "HS256"}),
            // an RSA key declared for another algorithm
            json!({"kty": "RSA", "kid": "p", "n": b64(&[0xC5; 256]), "e": "AQAB", "alg": "PS256"}),
            json!({"kty": "RSA", "kid": "n", "n": b64(&[0xC5; 256]), "e": "AQAB", "alg": "none"}),
            // too small
            json!({"kty": "RSA", "kid": "s", "n": b64(&[0xC5; 128]), "e": "AQAB"}),
            // an encryption key
            json!({"kty": "RSA", "kid": "c", "n": b64(&[0xC5; 256]), "e": "AQAB", "use": "enc"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": ed25519_x(), "key_ops": ["encrypt"]}),
            // another curve
            json!({"kty": "EC", "crv": "P-384", "x": b64(&[1; 48]), "y": b64(&[2; 48])}),
            json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[2; 32])}),
            json!({"kty": "OKP", "crv": "X25519", "x": ed25519_x()}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": ed25519_x(), "alg": "ES256"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": ed25519_x(), "kid": ""}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "not base64!"}),
            json!({"kty": "OKP"}),
            json!("a string"),
        ];
        for key in refused {
            assert!(one(key.clone()).is_err(), "{key}");
        }
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"{\"keys\": 1}").is_err());
    }

    #[test]
    fn a_kid_named_twice_keeps_the_first_key() {
        let a = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": ed25519_x()});
        let b = json!({"kty": "EC", "crv": "P-256", "kid": "k", "x": b64(&[1; 32]), "y": b64(&[2; 32])});
        let keys = parse_jwks(json!({ "keys": [a, b] }).to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].alg, Algorithm::EdDSA);
    }

    #[test]
    fn at_most_max_keys_are_read() {
        let keys: Vec<Value> = (0..MAX_KEYS + 10)
            .map(|i| json!({"kty": "OKP", "crv": "Ed25519", "kid": format!("k{i}"), "x": ed25519_x()}))
            .collect();
        let parsed = parse_jwks(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
        assert_eq!(parsed.len(), MAX_KEYS);
    }

    #[test]
    fn tokens_name_only_the_key_algorithms() {
        assert_eq!(token_algorithm("RS256"), Some(Algorithm::RS256));
        for alg in ["none", "None", "HS256", "RS384", "PS256", "ES384", ""] {
            assert_eq!(token_algorithm(alg), None, "{alg}");
        }
    }
}
