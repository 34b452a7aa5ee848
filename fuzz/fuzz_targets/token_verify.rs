//! Token verification, per login type (HS256 `user`, ES256 `svc`).
//!
//! The first byte picks a mode:
//! - 0: the rest, as a token, never verifies (and never panics);
//! - 1: a fresh valid token with one byte changed never verifies;
//! - 2: a token whose header names another algorithm (`none`, HS256 signed with the ES256
//!   public key, …) with valid claims never verifies.
#![no_main]

use auth_fuzz::{EC_PUBLIC, MANAGER, SVC, USER, valid_token};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fn verifies(token: &str) -> bool {
    MANAGER.verify_access_token(token, &[]).is_ok()
        || MANAGER.verify_access_token(token, &[USER]).is_ok()
        || MANAGER.verify_access_token(token, &[SVC]).is_ok()
        || MANAGER.verify_refresh_token(token, USER).is_ok()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            assert!(!verifies(&token), "an arbitrary token verified: {token:?}");
        }
        1 => {
            let [lt, hi, lo, flip, ..] = *rest else {
                return;
            };
            let login_type = if lt % 2 == 0 { USER } else { SVC };
            let token = valid_token(login_type);
            assert!(verifies(&token), "a fresh token did not verify");
            let mut bytes = token.into_bytes();
            let at = usize::from(u16::from_be_bytes([hi, lo])) % bytes.len();
            // Stays ASCII (so UTF-8) and always changes the byte.
            bytes[at] ^= (flip & 0x7f).max(1);
            let tampered = String::from_utf8(bytes).expect("ASCII");
            assert!(
                !verifies(&tampered),
                "a {login_type} token with byte {at} changed verified: {tampered}"
            );
        }
        _ => {
            let [lt, alg, kid, ..] = *rest else {
                return;
            };
            let tail = &rest[3..];
            let login_type = if lt % 2 == 0 { USER } else { SVC };
            let algs = [
                "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "ES256", "RS256",
                "PS256", "EdDSA", "",
            ];
            let alg = algs[usize::from(alg) % algs.len()];
            let kid = match kid % 4 {
                0 => Some("user-1"),
                1 => Some("svc-1"),
                2 => Some(""),
                _ => None,
            };
            let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let claims = serde_json::json!({
                "sub": "mallory", "login_type": login_type, "typ": "access", "iat": now,
                "exp": now + 60, "jti": "j", "sid": "s", "scope": "reports:read",
            });
            let message = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims.to_string().as_bytes())
            );
            // Signatures an attacker can make: none, arbitrary bytes, and HMACs keyed with
            // what is public (the ES256 public key, the kid, the empty key).
            let hmac = |key: &[u8]| {
                let alg = match alg {
                    "HS384" => jsonwebtoken::Algorithm::HS384,
                    "HS512" => jsonwebtoken::Algorithm::HS512,
                    _ => jsonwebtoken::Algorithm::HS256,
                };
                jsonwebtoken::crypto::sign(
                    message.as_bytes(),
                    &jsonwebtoken::EncodingKey::from_secret(key),
                    alg,
                )
                .expect("HMAC signs")
            };
            let signatures = [
                String::new(),
                b64(tail),
                String::from_utf8_lossy(tail).into_owned(),
                hmac(EC_PUBLIC),
                hmac(b""),
                hmac(tail),
                hmac(kid.unwrap_or_default().as_bytes()),
            ];
            for signature in signatures {
                let token = format!("{message}.{signature}");
                assert!(
                    !verifies(&token),
                    "a forged token verified (alg {alg}, kid {kid:?}): {token}"
                );
            }
        }
    }
});
