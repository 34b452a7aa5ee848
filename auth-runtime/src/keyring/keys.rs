//! Signing keys: HS256 secrets and RS256 / ES256 / EdDSA key pairs, each with a `kid`.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// A key a login type signs and verifies tokens with.
///
/// Built from a secret or PEM; problems are reported when the [`AuthManager`](crate::AuthManager)
/// is built, together with every other configuration error.
///
/// ```
/// use auth_runtime::SigningKey;
///
/// let key = SigningKey::hs256("user-1", b"0123456789abcdef0123456789abcdef");
/// assert_eq!(key.kid(), "user-1");
/// ```
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    material: Result<(EncodingKey, DecodingKey), KeyError>,
    /// The HS256 secret, kept only until the manager is built, to refuse one secret shared by
    /// two login types (a token of one would verify as the other).
    hmac_secret: Option<Vec<u8>>,
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// An HS256 secret shorter than [`MIN_HMAC_SECRET_LEN`] bytes.
    WeakSecret {
        /// The secret's length in bytes (never the secret).
        len: usize,
    },
    /// The PEM could not be parsed as a key of the algorithm.
    InvalidPem {
        /// Which part was wrong.
        part: &'static str,
    },
    /// The `kid` is empty or contains characters other than `A-Z a-z 0-9 _ - .`.
    InvalidKid,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::WeakSecret { len } => write!(
                f,
                "HS256 secret is {len} bytes; at least {MIN_HMAC_SECRET_LEN} are required (SigningKey::generate_secret makes one)"
            ),
            KeyError::InvalidPem { part } => write!(f, "the {part} PEM is not a valid key"),
            KeyError::InvalidKid => f.write_str(
                "a kid must be non-empty and use only letters, digits, `_`, `-` and `.`",
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An HMAC-SHA256 key from a secret of at least [`MIN_HMAC_SECRET_LEN`] bytes.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Self {
        let material = if secret.len() < MIN_HMAC_SECRET_LEN {
            Err(KeyError::WeakSecret { len: secret.len() })
        } else {
            Ok((
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
            ))
        };
        let mut key = Self::checked(kid.into(), Algorithm::HS256, material);
        key.hmac_secret = Some(secret.to_vec());
        key
    }

    /// A new random HS256 secret: 32 random bytes as 64 hex digits, for an environment variable
    /// or a secrets manager.
    ///
    /// ```
    /// use auth_runtime::SigningKey;
    ///
    /// let secret = SigningKey::generate_secret();
    /// assert_eq!(secret.len(), 64);
    /// let key = SigningKey::hs256("user-1", secret.as_bytes());
    /// # let _ = key;
    /// ```
    pub fn generate_secret() -> String {
        rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A new Ed25519 private key as PKCS#8 PEM, for [`ed25519_private_pem`](Self::ed25519_private_pem)
    /// (keep it in a file of mode 0600 or a secrets manager).
    ///
    /// ```
    /// use auth_runtime::SigningKey;
    ///
    /// let pem = SigningKey::generate_ed25519_pem();
    /// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// let key = SigningKey::ed25519_private_pem("service-1", pem.as_bytes());
    /// assert_eq!(key.algorithm(), jsonwebtoken::Algorithm::EdDSA);
    /// ```
    pub fn generate_ed25519_pem() -> String {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::generate()
            .expect("the system random generator works");
        let der = pair.to_pkcs8v1().expect("an Ed25519 key encodes as PKCS#8");
        pem("PRIVATE KEY", der.as_ref())
    }

    /// An Ed25519 (EdDSA) key pair from its PKCS#8 private key alone (PEM, v1 or v2): the
    /// public key is derived from it.
    pub fn ed25519_private_pem(kid: impl Into<String>, private_pem: &[u8]) -> Self {
        let public = pem_der(private_pem)
            .and_then(|der| {
                aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).ok()
            })
            .map(|pair| {
                use aws_lc_rs::signature::KeyPair as _;
                // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): fixed prefix, 32 bytes.
                let mut spki = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                spki.extend_from_slice(pair.public_key().as_ref());
                pem("PUBLIC KEY", &spki)
            });
        match public {
            Some(public) => Self::ed25519_pem(kid, private_pem, public.as_bytes()),
            None => Self::checked(
                kid.into(),
                Algorithm::EdDSA,
                Err(KeyError::InvalidPem { part: "private" }),
            ),
        }
    }

    /// An RSA-SHA256 key pair from PEM (PKCS#1 or PKCS#8 private key, SPKI or PKCS#1 public key).
    pub fn rs256_pem(kid: impl Into<String>, private_pem: &[u8], public_pem: &[u8]) -> Self {
        let material = EncodingKey::from_rsa_pem(private_pem)
            .map_err(|_| KeyError::InvalidPem { part: "private" })
            .and_then(|e| {
                DecodingKey::from_rsa_pem(public_pem)
                    .map(|d| (e, d))
                    .map_err(|_| KeyError::InvalidPem { part: "public" })
            });
        Self::checked(kid.into(), Algorithm::RS256, material)
    }

    /// An ECDSA P-256 key pair from PEM (PKCS#8 private key, SPKI public key).
    pub fn es256_pem(kid: impl Into<String>, private_pem: &[u8], public_pem: &[u8]) -> Self {
        let material = EncodingKey::from_ec_pem(private_pem)
            .map_err(|_| KeyError::InvalidPem { part: "private" })
            .and_then(|e| {
                DecodingKey::from_ec_pem(public_pem)
                    .map(|d| (e, d))
                    .map_err(|_| KeyError::InvalidPem { part: "public" })
            });
        Self::checked(kid.into(), Algorithm::ES256, material)
    }

    /// An Ed25519 (EdDSA) key pair from PEM (PKCS#8 private key, SPKI public key).
    pub fn ed25519_pem(kid: impl Into<String>, private_pem: &[u8], public_pem: &[u8]) -> Self {
        let material = EncodingKey::from_ed_pem(private_pem)
            .map_err(|_| KeyError::InvalidPem { part: "private" })
            .and_then(|e| {
                DecodingKey::from_ed_pem(public_pem)
                    .map(|d| (e, d))
                    .map_err(|_| KeyError::InvalidPem { part: "public" })
            });
        Self::checked(kid.into(), Algorithm::EdDSA, material)
    }

    fn checked(
        kid: String,
        alg: Algorithm,
        material: Result<(EncodingKey, DecodingKey), KeyError>,
    ) -> Self {
        let kid_ok = !kid.is_empty()
            && kid.len() <= auth_grammar::MAX_NAME_LEN
            && kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        let material = if kid_ok {
            material
        } else {
            Err(KeyError::InvalidKid)
        };
        SigningKey {
            kid,
            alg,
            material,
            hmac_secret: None,
        }
    }

    /// Whether this and `other` are HS256 keys with the same secret (compared in constant
    /// time).
    pub(crate) fn same_hmac_secret(&self, other: &SigningKey) -> bool {
        use subtle::ConstantTimeEq as _;
        match (&self.hmac_secret, &other.hmac_secret) {
            (Some(a), Some(b)) => a.len() == b.len() && bool::from(a.ct_eq(b)),
            _ => false,
        }
    }

    /// The key id, written into the `kid` header of every token it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm: the only one accepted for tokens naming this key.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub(crate) fn into_parts(self) -> Result<ReadyKey, (String, KeyError)> {
        match self.material {
            Ok((encoding, decoding)) => Ok(ReadyKey {
                kid: self.kid,
                alg: self.alg,
                encoding,
                decoding,
            }),
            Err(e) => Err((self.kid, e)),
        }
    }
}

/// A validated key, ready to sign and verify.
pub(crate) struct ReadyKey {
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
}

/// DER as PEM with 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside a PEM block.
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
