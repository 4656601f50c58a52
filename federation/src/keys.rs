//! This server's signing keys (SPEC §9.2, §9.3), kept in `<data_dir>/server-keys.json`.
//!
//! The file holds the current key's secret seed and, for retired keys, only their public
//! halves and when they expired: a retired key never signs again, so its secret is not kept.
//! It is written with mode 0600 through a temporary file and a rename, so a crash leaves
//! either the old or the new file, never half of one; the first file is linked into place
//! instead, so instances of a cluster creating it at once agree on one key.
//!
//! Rotation (SPEC §9.2) moves the current key to the old keys with `expired_at` = now and
//! creates `ed25519:k<n+1>`. Old keys stay listed for [`OLD_KEY_RETENTION_MS`] after they
//! expired, so receivers can still check requests and objects signed before the rotation.
//!
//! A running server holds its keys as [`LiveKeys`]: the file is checked (one `stat`) each time
//! the keys are used and re-read when it was replaced, so `kezd keys rotate` — another process
//! writing the file — takes effect for the next document served and the next request signed,
//! without a restart.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use kez_spec::clock::now_ms;
use kez_spec::server_document::{Published, ServerDocument};
use kez_spec::{KeyId, ServerName, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::FederationError;

/// The key file's name inside the data directory.
pub const FILE_NAME: &str = "server-keys.json";

/// How long a retired key stays in `old_verify_keys` (SPEC §9.2: at least 7 days).
pub const OLD_KEY_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// A retired key: it no longer signs, but what it signed before `expired_at_ms` still checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldKey {
    /// Its id.
    pub id: KeyId,
    /// Its public half.
    pub key: VerifyingKey,
    /// When it was retired, Unix milliseconds.
    pub expired_at_ms: u64,
}

/// The server's current signing key and its retired keys.
pub struct ServerKeys {
    /// The id of the current key, `ed25519:k<n>`.
    key_id: KeyId,
    /// The current key; signs documents and requests.
    signing: SigningKey,
    /// Retired keys, oldest first.
    old: Vec<OldKey>,
}

impl fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret seed.
        f.debug_struct("ServerKeys")
            .field("key_id", &self.key_id)
            .field(
                "public",
                &hex::encode(self.signing.verifying_key().as_bytes()),
            )
            .field("old", &self.old)
            .finish()
    }
}

/// The file's JSON shape.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    current: CurrentEntry,
    #[serde(default)]
    old: Vec<OldEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CurrentEntry {
    id: String,
    /// The 32-byte ed25519 seed, hex.
    seed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OldEntry {
    id: String,
    /// The 32-byte public key, hex.
    key: String,
    expired_at: u64,
}

impl ServerKeys {
    /// A fresh key `ed25519:k1`, held in memory only (tools and tests).
    pub fn generate() -> Self {
        ServerKeys {
            key_id: key_id_for(1),
            signing: random_key(),
            old: Vec::new(),
        }
    }

    /// Loads `<dir>/server-keys.json`, or creates it with a fresh `ed25519:k1` (and `dir`
    /// itself) when it does not exist. A file readable by others is tightened to 0600.
    ///
    /// Instances of a cluster starting together on one empty shared directory all get the same
    /// key: the file is created complete under a temporary name and then linked into place,
    /// which fails when the file exists; the instance that loses that race loads the winner's.
    pub fn load_or_create(dir: &Path) -> Result<Self, FederationError> {
        let path = dir.join(FILE_NAME);
        match fs::read(&path) {
            Ok(bytes) => {
                tighten_permissions(&path)?;
                ServerKeys::decode(&path, &bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = ServerKeys::generate();
                fs::create_dir_all(dir).map_err(|e| FederationError::io(dir, e))?;
                if keys.create(dir)? {
                    tracing::info!(key_id = %keys.key_id, path = %path.display(), "created server key");
                    return Ok(keys);
                }
                // Another process created it in between, complete (it was linked, not written,
                // into place).
                let bytes = fs::read(&path).map_err(|e| FederationError::io(&path, e))?;
                ServerKeys::decode(&path, &bytes)
            }
            Err(e) => Err(FederationError::io(path, e)),
        }
    }

    /// Loads the keys in `dir`, retires the current key as of now, creates the next one,
    /// writes the file and returns the new keys.
    pub fn rotate(dir: &Path) -> Result<Self, FederationError> {
        ServerKeys::rotate_at(dir, now_ms())
    }

    /// [`ServerKeys::rotate`] at a given time (Unix milliseconds): retired keys that expired
    /// more than [`OLD_KEY_RETENTION_MS`] before `now_ms` are dropped.
    pub fn rotate_at(dir: &Path, now_ms: u64) -> Result<Self, FederationError> {
        let current = ServerKeys::load_or_create(dir)?;
        let n = key_number(&current.key_id)
            .into_iter()
            .chain(current.old.iter().filter_map(|k| key_number(&k.id)))
            .max()
            .unwrap_or(0);
        let mut old: Vec<OldKey> = current
            .old
            .into_iter()
            .filter(|k| k.expired_at_ms.saturating_add(OLD_KEY_RETENTION_MS) >= now_ms)
            .collect();
        old.push(OldKey {
            id: current.key_id,
            key: current.signing.verifying_key(),
            expired_at_ms: now_ms,
        });
        let keys = ServerKeys {
            key_id: key_id_for(n + 1),
            signing: random_key(),
            old,
        };
        keys.save(dir)?;
        tracing::info!(key_id = %keys.key_id, "rotated server key");
        Ok(keys)
    }

    /// The current signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The current key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The current key's public half, for `verify_keys`.
    pub fn verify_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Retired keys still published in `old_verify_keys` at `now_ms`.
    pub fn old_verify_keys(&self, now_ms: u64) -> impl Iterator<Item = &OldKey> {
        self.old
            .iter()
            .filter(move |k| k.expired_at_ms.saturating_add(OLD_KEY_RETENTION_MS) >= now_ms)
    }

    /// This server's document (SPEC §9.2) for `server` at `now_ms`, signed with the current key
    /// and listing the retired keys still published.
    pub fn sign_document<L: serde::Serialize>(
        &self,
        server: &ServerName,
        published: &Published<'_, L>,
        now_ms: u64,
    ) -> Result<serde_json::Value, kez_spec::Error> {
        let old = self
            .old_verify_keys(now_ms)
            .map(|k| (&k.id, k.key, k.expired_at_ms));
        ServerDocument::sign(&self.signing, &self.key_id, old, server, published, now_ms)
    }

    /// Writes `<dir>/server-keys.json` atomically with mode 0600, replacing the file.
    fn save(&self, dir: &Path) -> Result<(), FederationError> {
        let path = dir.join(FILE_NAME);
        let tmp = self.write_temporary(dir)?;
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(FederationError::io(path, e));
        }
        sync_dir(dir);
        Ok(())
    }

    /// Writes `<dir>/server-keys.json` with mode 0600 unless it exists: true when this call
    /// created it, false when the file was already there (it is left alone).
    fn create(&self, dir: &Path) -> Result<bool, FederationError> {
        let path = dir.join(FILE_NAME);
        let tmp = self.write_temporary(dir)?;
        // A hard link never replaces its target: of several processes creating the file at
        // once, exactly one succeeds, and readers only ever see the complete file.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(dir);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(FederationError::io(path, e)),
        }
    }

    /// The key file's contents in a new temporary file of `dir` with mode 0600, flushed to
    /// disk; its name is this process's and random, so concurrent writers never share one.
    fn write_temporary(&self, dir: &Path) -> Result<PathBuf, FederationError> {
        let file = KeyFile {
            current: CurrentEntry {
                id: self.key_id.to_string(),
                seed: hex::encode(self.signing.to_bytes()),
            },
            old: self
                .old
                .iter()
                .map(|k| OldEntry {
                    id: k.id.to_string(),
                    key: hex::encode(k.key.as_bytes()),
                    expired_at: k.expired_at_ms,
                })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| FederationError::config(format!("encoding the key file: {e}")))?;
        let mut nonce = [0u8; 8];
        OsRng.fill_bytes(&mut nonce);
        let tmp = dir.join(format!(
            "{FILE_NAME}.{}.{}.tmp",
            std::process::id(),
            hex::encode(nonce)
        ));
        let io = |e| FederationError::io(&tmp, e);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&json)?;
                f.sync_all()
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(tmp)
    }

    fn decode(path: &Path, bytes: &[u8]) -> Result<Self, FederationError> {
        let bad = |what: &str| FederationError::config(format!("{}: {what}", path.display()));
        let file: KeyFile =
            serde_json::from_slice(bytes).map_err(|e| bad(&format!("not a key file: {e}")))?;
        let key_id = KeyId::parse(&file.current.id).map_err(|_| bad("bad current key id"))?;
        let seed = decode_32(&file.current.seed).ok_or_else(|| bad("bad seed"))?;
        let old = file
            .old
            .iter()
            .map(|o| {
                let id = KeyId::parse(&o.id).map_err(|_| bad("bad old key id"))?;
                let key = decode_32(&o.key)
                    .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                    .ok_or_else(|| bad("bad old key"))?;
                Ok(OldKey {
                    id,
                    key,
                    expired_at_ms: o.expired_at,
                })
            })
            .collect::<Result<Vec<_>, FederationError>>()?;
        Ok(ServerKeys {
            key_id,
            signing: SigningKey::from_bytes(&seed),
            old,
        })
    }
}

/// This server's keys as a running server uses them: the key file in the data directory,
/// re-read when it changes on disk (SPEC §9.2 rotation by another process, `kezd keys
/// rotate`), or a fixed set that never changes (tools, tests).
///
/// Every [`LiveKeys::current`] compares the file's inode, size and modification time with
/// those of the last load; [`ServerKeys::rotate`] writes a new file and renames it into place,
/// so a rotation always shows as a new inode, even within the file system's timestamp
/// granularity. A file that cannot be read or decoded keeps the keys in use (logged): a
/// half-edited file must not take the server's identity away.
pub struct LiveKeys {
    /// The data directory holding [`FILE_NAME`]; `None` for fixed keys.
    dir: Option<PathBuf>,
    /// The keys in use and the file version they were loaded from.
    loaded: RwLock<Loaded>,
}

/// Keys and the identity of the file version they came from.
struct Loaded {
    /// `None` for fixed keys, or when the file could not be examined at the last load.
    stamp: Option<FileStamp>,
    keys: Arc<ServerKeys>,
}

/// What identifies one version of the key file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = fs::metadata(path)?;
        Ok(FileStamp {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

impl fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKeys")
            .field("dir", &self.dir)
            .field("keys", &self.current())
            .finish()
    }
}

impl LiveKeys {
    /// Loads (or creates) `<dir>/server-keys.json` and follows later changes to it.
    pub fn open(dir: &Path) -> Result<Self, FederationError> {
        let path = dir.join(FILE_NAME);
        let keys = ServerKeys::load_or_create(dir)?;
        // Stamped after loading: a rotation in between shows as a change at the next use
        // and is loaded then, so nothing is missed.
        let stamp = FileStamp::of(&path).ok();
        Ok(LiveKeys {
            dir: Some(dir.to_path_buf()),
            loaded: RwLock::new(Loaded {
                stamp,
                keys: Arc::new(keys),
            }),
        })
    }

    /// Keys that never change (no file behind them).
    pub fn fixed(keys: Arc<ServerKeys>) -> Self {
        LiveKeys {
            dir: None,
            loaded: RwLock::new(Loaded { stamp: None, keys }),
        }
    }

    /// The keys to use now: re-read from the file first if it changed since the last load.
    pub fn current(&self) -> Arc<ServerKeys> {
        let Some(dir) = &self.dir else {
            return self.read_loaded().keys.clone();
        };
        let path = dir.join(FILE_NAME);
        let stamp = match FileStamp::of(&path) {
            Ok(stamp) => stamp,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "server key file unreadable; keeping the keys in use");
                return self.read_loaded().keys.clone();
            }
        };
        {
            let loaded = self.read_loaded();
            if loaded.stamp == Some(stamp) {
                return loaded.keys.clone();
            }
        }
        let mut loaded = self
            .loaded
            .write()
            // Only ever replaced whole: a panic elsewhere cannot leave it half-written.
            .unwrap_or_else(PoisonError::into_inner);
        if loaded.stamp == Some(stamp) {
            // Another caller reloaded it meanwhile.
            return loaded.keys.clone();
        }
        match fs::read(&path)
            .map_err(|e| FederationError::io(&path, e))
            .and_then(|bytes| ServerKeys::decode(&path, &bytes))
        {
            Ok(keys) => {
                if keys.key_id != loaded.keys.key_id {
                    tracing::info!(key_id = %keys.key_id, "server key file changed; now signing with the new key");
                }
                *loaded = Loaded {
                    stamp: Some(stamp),
                    keys: Arc::new(keys),
                };
            }
            Err(e) => {
                tracing::warn!(error = %e, "server key file changed but cannot be loaded; keeping the keys in use");
                // Remember the bad version so it is not re-read on every use.
                loaded.stamp = Some(stamp);
            }
        }
        loaded.keys.clone()
    }

    fn read_loaded(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes a rename or link in `dir` durable (best effort: not every file system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

fn key_id_for(n: u64) -> KeyId {
    // `k` followed by at most 20 digits is always within §2.5's 32 characters of [A-Za-z0-9_].
    KeyId::parse(&format!("ed25519:k{n}")).unwrap_or_else(|_| unreachable!("k<n> is a key id"))
}

/// `n` of `ed25519:k<n>`; other ids (written by hand) count as 0.
fn key_number(id: &KeyId) -> Option<u64> {
    id.as_str().strip_prefix("ed25519:k")?.parse().ok()
}

fn decode_32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

fn tighten_permissions(path: &Path) -> Result<(), FederationError> {
    let meta = fs::metadata(path).map_err(|e| FederationError::io(path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "server key file was readable by others; setting mode 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| FederationError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    /// Created once with mode 0600; reloading gives the same key.
    #[test]
    fn create_and_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let a = ServerKeys::load_or_create(&data).expect("create");
        assert_eq!(a.key_id().as_str(), "ed25519:k1");
        let path = data.join(FILE_NAME);
        assert_eq!(mode(&path), 0o600);
        let b = ServerKeys::load_or_create(&data).expect("reload");
        assert_eq!(a.key_id(), b.key_id());
        assert_eq!(a.signing_key().to_bytes(), b.signing_key().to_bytes());
        assert!(!format!("{a:?}").contains(&hex::encode(a.signing_key().to_bytes())));
    }

    /// Processes of a cluster starting together on one empty directory: every one of them
    /// gets the key that is in the file, and no temporary file is left behind.
    #[test]
    fn concurrent_creators_agree_on_one_key() {
        for _round in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let data = dir.path().join("data");
            let barrier = std::sync::Barrier::new(8);
            let keys: Vec<ServerKeys> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            ServerKeys::load_or_create(&data).expect("load or create")
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("thread"))
                    .collect()
            });
            let on_disk = ServerKeys::load_or_create(&data).expect("reload");
            for k in &keys {
                assert_eq!(k.verify_key(), on_disk.verify_key());
            }
            let names: Vec<_> = fs::read_dir(&data)
                .expect("read dir")
                .map(|e| e.expect("entry").file_name())
                .collect();
            assert_eq!(names, [FILE_NAME], "only the key file");
        }
    }

    /// SPEC §9.2 rotation: the current key becomes an old key expired now; ids count up;
    /// old keys are kept 7 days and then dropped.
    #[test]
    fn rotate_moves_current_to_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ServerKeys::load_or_create(dir.path()).expect("create");
        let t0 = 1_767_225_600_000;
        let second = ServerKeys::rotate_at(dir.path(), t0).expect("rotate");
        assert_eq!(second.key_id().as_str(), "ed25519:k2");
        assert_ne!(second.verify_key(), first.verify_key());
        let old: Vec<_> = second.old_verify_keys(t0).collect();
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].id, *first.key_id());
        assert_eq!(old[0].key, first.verify_key());
        assert_eq!(old[0].expired_at_ms, t0);
        assert_eq!(mode(&dir.path().join(FILE_NAME)), 0o600);

        let reloaded = ServerKeys::load_or_create(dir.path()).expect("reload");
        assert_eq!(reloaded.key_id().as_str(), "ed25519:k2");
        assert_eq!(reloaded.old_verify_keys(t0).count(), 1);

        // Still listed 7 days later, gone after.
        assert_eq!(
            reloaded.old_verify_keys(t0 + OLD_KEY_RETENTION_MS).count(),
            1
        );
        assert_eq!(
            reloaded
                .old_verify_keys(t0 + OLD_KEY_RETENTION_MS + 1)
                .count(),
            0
        );
        let third =
            ServerKeys::rotate_at(dir.path(), t0 + OLD_KEY_RETENTION_MS + 1).expect("rotate");
        assert_eq!(third.key_id().as_str(), "ed25519:k3");
        let ids: Vec<_> = third.old.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["ed25519:k2"]);
    }

    /// A key file others can read is tightened on load; a corrupt one is refused.
    #[test]
    fn permissions_and_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        ServerKeys::load_or_create(dir.path()).expect("create");
        let path = dir.path().join(FILE_NAME);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        ServerKeys::load_or_create(dir.path()).expect("reload");
        assert_eq!(mode(&path), 0o600);
        fs::write(&path, b"{\"current\":{\"id\":\"k1\",\"seed\":\"00\"}}").expect("write");
        assert!(matches!(
            ServerKeys::load_or_create(dir.path()),
            Err(FederationError::Config { .. })
        ));
    }

    /// A rotation written by another process (as `kezd keys rotate` does) is seen by the
    /// next `current()`, without reopening; fixed keys never change.
    #[test]
    fn live_keys_follow_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = LiveKeys::open(dir.path()).expect("open");
        let first = live.current();
        assert_eq!(first.key_id().as_str(), "ed25519:k1");
        assert_eq!(
            live.current().verify_key(),
            first.verify_key(),
            "unchanged file"
        );
        let rotated = ServerKeys::rotate(dir.path()).expect("rotate");
        let now = live.current();
        assert_eq!(now.key_id().as_str(), "ed25519:k2");
        assert_eq!(now.verify_key(), rotated.verify_key());
        assert_eq!(now.old_verify_keys(now_ms()).count(), 1);
        // A broken file keeps the keys in use.
        fs::write(dir.path().join(FILE_NAME), b"not json").expect("write");
        assert_eq!(live.current().key_id().as_str(), "ed25519:k2");

        let fixed = LiveKeys::fixed(Arc::new(ServerKeys::generate()));
        let key = fixed.current().verify_key();
        assert_eq!(fixed.current().verify_key(), key);
    }
}
