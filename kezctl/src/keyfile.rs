//! The key file: one identity on disk, and the same document as the export format. Versioned
//! so a later kezctl can read what an earlier one wrote, and documented (crate doc, README) so
//! other clients can too.
//!
//! # Format `kez-identity`, version 1
//!
//! A UTF-8 JSON object:
//!
//! | member | type | meaning |
//! | --- | --- | --- |
//! | `format` | string | always `"kez-identity"` |
//! | `version` | integer | always `1`; other versions are refused |
//! | `name` | string | the local name of the identity (`[A-Za-z0-9._-]`, 1–64, not starting with `.`) |
//! | `primary` | string | the public key, `ed25519:<64 hex>` (SPEC §2.3) |
//! | `created_at` | integer | Unix milliseconds |
//! | `address` | string or null | `handle@server` once registered (SPEC §2.4) |
//! | `server_url` | string or null | the base URL of the home server used to register |
//! | `secret` | object | the 32-byte ed25519 seed, below |
//!
//! `secret` is one of:
//!
//! - `{"scheme":"argon2id-aes256gcm","m_cost":<KiB>,"t_cost":<passes>,"p_cost":<lanes>,
//!   "salt":"<32 hex>","nonce":"<24 hex>","ciphertext":"<96 hex>"}` — the key is
//!   Argon2id (version 0x13) of the UTF-8 passphrase with `salt` and the given costs, 32 bytes;
//!   `ciphertext` is AES-256-GCM(key, nonce, seed, aad) with its 16-byte tag appended, where
//!   aad is the UTF-8 string `"kez-identity-v1\n" + primary`, so a file whose `primary` was
//!   changed no longer opens. Salt and nonce are fresh random values at every write.
//! - `{"scheme":"plain","seed":"<64 hex>"}` — only when the user asked for `--no-passphrase`.
//!
//! After decryption the seed's public key must equal `primary`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use kez_spec::{Address, Primary, SigningKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The `format` member.
pub const FORMAT: &str = "kez-identity";
/// The only `version` this kezctl reads and writes.
pub const VERSION: u64 = 1;
/// The `scheme` of an encrypted secret.
pub const SCHEME_ENCRYPTED: &str = "argon2id-aes256gcm";
/// The `scheme` of a secret stored in the clear.
pub const SCHEME_PLAIN: &str = "plain";
/// The AEAD's associated-data prefix; the primary follows.
const AAD_PREFIX: &str = "kez-identity-v1\n";

/// Argon2id costs written by this version: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's
/// second recommended option, with one lane because kezctl hashes on one thread).
pub const DEFAULT_M_COST: u32 = 64 * 1024;
/// Passes.
pub const DEFAULT_T_COST: u32 = 3;
/// Lanes.
pub const DEFAULT_P_COST: u32 = 1;
/// Costs above these are refused when reading, so an imported file cannot make kezctl
/// allocate gigabytes or spin for minutes.
const MAX_M_COST: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 32;
const MAX_P_COST: u32 = 16;
/// The longest identity name.
const MAX_NAME: usize = 64;

/// Whether `name` can name an identity: safe as a file name, readable in a listing. The rule
/// belongs to the format (the `name` member); the keystore names its files by it.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Why a key file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Not JSON, or not of the documented shape.
    #[error("not a KEZ key file: {0}")]
    Malformed(String),
    /// A format or version this kezctl does not know.
    #[error(
        "unsupported key file {format:?} version {version} (this kezctl reads {FORMAT:?} version {VERSION})"
    )]
    UnsupportedVersion {
        /// The `format` found.
        format: String,
        /// The `version` found.
        version: u64,
    },
    /// The passphrase does not open the secret.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The secret opened but belongs to another public key: the file was altered.
    #[error("the key file is damaged: its secret does not match its primary")]
    Mismatch,
    /// The key derivation failed (parameters out of range).
    #[error("the key file's passphrase parameters are unusable: {0}")]
    Kdf(String),
}

/// The document as stored (serde's view); [`KeyFile::parse`] validates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawKeyFile {
    format: String,
    version: u64,
    name: String,
    primary: String,
    created_at: u64,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    server_url: Option<String>,
    secret: RawSecret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "scheme")]
enum RawSecret {
    #[serde(rename = "argon2id-aes256gcm")]
    Encrypted {
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
        salt: String,
        nonce: String,
        ciphertext: String,
    },
    #[serde(rename = "plain")]
    Plain { seed: String },
}

/// How the seed is kept.
#[derive(Clone)]
pub enum Secret {
    /// Encrypted with a passphrase-derived key.
    Encrypted {
        /// Argon2id memory, KiB.
        m_cost: u32,
        /// Argon2id passes.
        t_cost: u32,
        /// Argon2id lanes.
        p_cost: u32,
        /// KDF salt.
        salt: [u8; 16],
        /// AES-GCM nonce.
        nonce: [u8; 12],
        /// Seed ciphertext and tag.
        ciphertext: [u8; 48],
    },
    /// In the clear (`--no-passphrase`).
    Plain(Zeroizing<[u8; 32]>),
}

impl std::fmt::Debug for Secret {
    // Never print a seed, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Encrypted { .. } => f.write_str("Secret::Encrypted"),
            Secret::Plain(_) => f.write_str("Secret::Plain(..)"),
        }
    }
}

/// The registration an identity has, once `register` succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The registered address.
    pub address: Address,
    /// The base URL of its server, as used to register (no trailing slash).
    pub server_url: String,
}

/// A validated key file.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// Local name.
    pub name: String,
    /// Public key.
    pub primary: Primary,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Set after registration.
    pub home: Option<Home>,
    /// The sealed or plain seed.
    pub secret: Secret,
}

impl KeyFile {
    /// A new key file for `key`, encrypted with `passphrase` or plain when `None`.
    pub fn new(
        name: &str,
        key: &SigningKey,
        passphrase: Option<&str>,
        created_at: u64,
    ) -> Result<Self, KeyFileError> {
        let primary = Primary::from(key);
        let secret = match passphrase {
            Some(passphrase) => encrypt(key, &primary, passphrase)?,
            None => Secret::Plain(Zeroizing::new(key.to_bytes())),
        };
        Ok(KeyFile {
            name: name.to_owned(),
            primary,
            created_at,
            home: None,
            secret,
        })
    }

    /// Whether unlocking needs a passphrase.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.secret, Secret::Encrypted { .. })
    }

    /// Parses and validates a key file.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyFileError> {
        // A quick look at format/version first, so a future version gets a clear message
        // instead of a shape error.
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| KeyFileError::Malformed(e.to_string()))?;
        let format = value.get("format").and_then(|v| v.as_str()).unwrap_or("");
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if format != FORMAT || version != VERSION {
            return Err(KeyFileError::UnsupportedVersion {
                format: format.to_owned(),
                version,
            });
        }
        let raw: RawKeyFile =
            serde_json::from_value(value).map_err(|e| KeyFileError::Malformed(e.to_string()))?;
        let bad = |what: &str| KeyFileError::Malformed(what.to_owned());
        if !valid_name(&raw.name) {
            return Err(bad("invalid 'name'"));
        }
        let primary = Primary::parse(&raw.primary).map_err(|_| bad("invalid 'primary'"))?;
        let home = match (raw.address, raw.server_url) {
            (Some(address), Some(server_url)) => Some(Home {
                address: Address::parse(&address).map_err(|_| bad("invalid 'address'"))?,
                server_url,
            }),
            (None, None) => None,
            _ => return Err(bad("'address' and 'server_url' go together")),
        };
        let secret = match raw.secret {
            RawSecret::Plain { seed } => {
                let seed = Zeroizing::new(hex_array::<32>(&seed).ok_or_else(|| bad("bad seed"))?);
                if Primary::from(&SigningKey::from_bytes(&seed)) != primary {
                    return Err(KeyFileError::Mismatch);
                }
                Secret::Plain(seed)
            }
            RawSecret::Encrypted {
                m_cost,
                t_cost,
                p_cost,
                salt,
                nonce,
                ciphertext,
            } => {
                if m_cost > MAX_M_COST || t_cost > MAX_T_COST || p_cost > MAX_P_COST {
                    return Err(KeyFileError::Kdf("costs above this kezctl's limits".into()));
                }
                Secret::Encrypted {
                    m_cost,
                    t_cost,
                    p_cost,
                    salt: hex_array(&salt).ok_or_else(|| bad("bad 'salt'"))?,
                    nonce: hex_array(&nonce).ok_or_else(|| bad("bad 'nonce'"))?,
                    ciphertext: hex_array(&ciphertext).ok_or_else(|| bad("bad 'ciphertext'"))?,
                }
            }
        };
        Ok(KeyFile {
            name: raw.name,
            primary,
            created_at: raw.created_at,
            home,
            secret,
        })
    }

    /// The document's bytes (pretty JSON, newline-terminated).
    pub fn to_bytes(&self) -> Vec<u8> {
        let secret = match &self.secret {
            Secret::Plain(seed) => RawSecret::Plain {
                seed: hex::encode(seed.as_ref()),
            },
            Secret::Encrypted {
                m_cost,
                t_cost,
                p_cost,
                salt,
                nonce,
                ciphertext,
            } => RawSecret::Encrypted {
                m_cost: *m_cost,
                t_cost: *t_cost,
                p_cost: *p_cost,
                salt: hex::encode(salt),
                nonce: hex::encode(nonce),
                ciphertext: hex::encode(ciphertext),
            },
        };
        let raw = RawKeyFile {
            format: FORMAT.into(),
            version: VERSION,
            name: self.name.clone(),
            primary: self.primary.to_string(),
            created_at: self.created_at,
            address: self.home.as_ref().map(|h| h.address.to_string()),
            server_url: self.home.as_ref().map(|h| h.server_url.clone()),
            secret,
        };
        // Serialising plain strings and integers cannot fail.
        let mut bytes = serde_json::to_vec_pretty(&raw).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The secret key. `passphrase` is needed (and only used) when the file is encrypted.
    pub fn unlock(&self, passphrase: Option<&str>) -> Result<SigningKey, KeyFileError> {
        let seed = match &self.secret {
            Secret::Plain(seed) => seed.clone(),
            Secret::Encrypted {
                m_cost,
                t_cost,
                p_cost,
                salt,
                nonce,
                ciphertext,
            } => {
                let passphrase = passphrase.ok_or(KeyFileError::WrongPassphrase)?;
                let key = derive(passphrase, salt, *m_cost, *t_cost, *p_cost)?;
                let plain = Zeroizing::new(
                    Aes256Gcm::new(key.as_ref().into())
                        .decrypt(
                            Nonce::from_slice(nonce),
                            Payload {
                                msg: ciphertext,
                                aad: aad(&self.primary).as_bytes(),
                            },
                        )
                        .map_err(|_| KeyFileError::WrongPassphrase)?,
                );
                let mut seed = Zeroizing::new([0u8; 32]);
                if plain.len() != 32 {
                    return Err(KeyFileError::Mismatch);
                }
                seed.copy_from_slice(&plain);
                seed
            }
        };
        let key = SigningKey::from_bytes(&seed);
        if Primary::from(&key) != self.primary {
            return Err(KeyFileError::Mismatch);
        }
        Ok(key)
    }
}

fn aad(primary: &Primary) -> String {
    format!("{AAD_PREFIX}{primary}")
}

fn derive(
    passphrase: &str,
    salt: &[u8; 16],
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let params = Params::new(m_cost, t_cost, p_cost, Some(32))
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    Ok(key)
}

fn encrypt(key: &SigningKey, primary: &Primary, passphrase: &str) -> Result<Secret, KeyFileError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let derived = derive(
        passphrase,
        &salt,
        DEFAULT_M_COST,
        DEFAULT_T_COST,
        DEFAULT_P_COST,
    )?;
    let seed = Zeroizing::new(key.to_bytes());
    let sealed = Aes256Gcm::new(derived.as_ref().into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: seed.as_ref(),
                aad: aad(primary).as_bytes(),
            },
        )
        .map_err(|_| KeyFileError::Kdf("encryption failed".into()))?;
    let ciphertext: [u8; 48] = sealed
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileError::Kdf("unexpected ciphertext length".into()))?;
    Ok(Secret::Encrypted {
        m_cost: DEFAULT_M_COST,
        t_cost: DEFAULT_T_COST,
        p_cost: DEFAULT_P_COST,
        salt,
        nonce,
        ciphertext,
    })
}

/// Lowercase hex of exactly N bytes.
fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    /// Encrypted files round-trip, the wrong passphrase is a clean error, and a changed
    /// primary stops the file from opening (it is in the associated data).
    #[test]
    fn encrypted_round_trip() {
        let file = KeyFile::new("me", &key(), Some("correct horse"), 1).expect("encrypts");
        let text = file.to_bytes();
        assert!(!String::from_utf8_lossy(&text).contains(&hex::encode([7u8; 32])));
        let back = KeyFile::parse(&text).expect("parses");
        assert_eq!(
            back.unlock(Some("correct horse"))
                .expect("opens")
                .to_bytes(),
            [7; 32]
        );
        assert!(matches!(
            back.unlock(Some("wrong")),
            Err(KeyFileError::WrongPassphrase)
        ));
        assert!(matches!(
            back.unlock(None),
            Err(KeyFileError::WrongPassphrase)
        ));
        let other = Primary::from(&SigningKey::from_bytes(&[8; 32])).to_string();
        let swapped = String::from_utf8(text)
            .expect("utf-8")
            .replace(&file.primary.to_string(), &other);
        let swapped = KeyFile::parse(swapped.as_bytes()).expect("parses");
        assert!(swapped.unlock(Some("correct horse")).is_err());
    }

    /// Plain files hold the seed and check it against the primary; other versions are refused.
    #[test]
    fn plain_and_versions() {
        let file = KeyFile::new("me", &key(), None, 1).expect("plain");
        let text = String::from_utf8(file.to_bytes()).expect("utf-8");
        let back = KeyFile::parse(text.as_bytes()).expect("parses");
        assert_eq!(back.unlock(None).expect("opens").to_bytes(), [7; 32]);
        let v2 = text.replace("\"version\": 1", "\"version\": 2");
        assert!(matches!(
            KeyFile::parse(v2.as_bytes()),
            Err(KeyFileError::UnsupportedVersion { version: 2, .. })
        ));
        let other = Primary::from(&SigningKey::from_bytes(&[8; 32])).to_string();
        let swapped = text.replace(&file.primary.to_string(), &other);
        assert!(matches!(
            KeyFile::parse(swapped.as_bytes()),
            Err(KeyFileError::Mismatch)
        ));
        assert!(KeyFile::parse(b"not json").is_err());
    }
}
