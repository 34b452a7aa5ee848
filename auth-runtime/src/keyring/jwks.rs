//! The public half of the asymmetric keys, as a JSON Web Key Set (RFC 7517) for
//! `/.well-known/jwks.json`: whoever holds it verifies our tokens without sharing a secret.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};

use super::LoginTypeState;

/// The public keys of every login type that signs with an asymmetric algorithm (RS256,
/// ES256, EdDSA), current and previous (during a rotation both are listed, so tokens of the
/// old key verify until they expire). HS256 secrets never appear. Each key carries its `kid`,
/// `alg` and `use: sig`.
pub(crate) fn public_key_set(login_types: &[LoginTypeState]) -> JwkSet {
    let mut keys = Vec::new();
    for login_type in login_types {
        for key in &login_type.keys {
            if !matches!(
                key.alg,
                Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
            ) {
                continue;
            }
            // Built from the verifying (public) key: no private material can reach it.
            match Jwk::from_decoding_key(&key.decoding, Some(key.alg)) {
                Ok(mut jwk) => {
                    jwk.common.key_id = Some(key.kid.clone());
                    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
                    keys.push(jwk);
                }
                Err(e) => tracing::error!(
                    kid = %key.kid,
                    error = %e,
                    "a public key cannot be written as a JWK; it is left out of the JWKS"
                ),
            }
        }
    }
    JwkSet { keys }
}
