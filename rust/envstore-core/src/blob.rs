//! The blob store: `blobs-v1/<2 hex>/<62 hex>[.x]`, one read-only file per (content, exec bit).
//! Blobs are written into a private staging directory under `tmp/`, made durable, then linked
//! into place with an exclusive create; an existing blob is trusted only after it is checked.
//! Nothing here ever modifies a published blob except to replace one that failed its check.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::hash::ContentHash;
use crate::link::{self, LinkFaults};

// Re-exported so existing `blob::BLOBS_DIR` paths keep working; the names live in `layout`.
pub use crate::layout::{BLOBS_DIR, MANIFESTS_DIR, TMP_DIR};

/// Whether writes are made durable (fsync) before they are published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Fsync,
    /// For throwaway stores (tests, benchmarks): skips every fsync.
    None,
}

/// A blob's identity: its content hash plus the executable bit, because hardlinks share modes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BlobKey {
    pub hash: ContentHash,
    pub executable: bool,
}

impl BlobKey {
    pub fn mode(&self) -> u32 {
        if self.executable {
            0o555
        } else {
            0o444
        }
    }

    /// Path relative to `blobs-v1/`.
    pub fn rel_path(&self) -> PathBuf {
        let hex = self.hash.to_hex();
        let name = if self.executable {
            format!("{}.x", &hex[2..])
        } else {
            hex[2..].to_string()
        };
        Path::new(&hex[..2]).join(name)
    }

    /// Parse the text form `<hex>` or `<hex>.x`.
    pub fn parse(s: &str) -> Result<Self> {
        let (hex, executable) = match s.strip_suffix(".x") {
            Some(h) => (h, true),
            None => (s, false),
        };
        Ok(BlobKey {
            hash: ContentHash::from_hex(hex)?,
            executable,
        })
    }

    /// Parse a blob's location from its fan-out directory and file name.
    pub fn from_location(dir: &str, file: &str) -> Option<Self> {
        if dir.len() != 2 {
            return None;
        }
        BlobKey::parse(&format!("{dir}{file}")).ok()
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.executable {
            write!(f, "{}.x", self.hash)
        } else {
            write!(f, "{}", self.hash)
        }
    }
}

#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    durability: Durability,
    /// Test hook (RELIABILITY.md `blob.before_publish`): called once per batch after the
    /// staged blobs are durable and before any is linked into `blobs-v1/`. The caller decides
    /// what it does (the binding uses it to SIGKILL the process); the core never reads a setting.
    before_publish: Option<fn()>,
    /// Test-only link failures (RELIABILITY rows 22/23), applied to every link this store makes.
    link_faults: LinkFaults,
}

impl BlobStore {
    /// Open (creating where missing) the store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>, durability: Durability) -> Result<Self> {
        let root = root.into();
        for sub in [BLOBS_DIR, MANIFESTS_DIR, TMP_DIR] {
            let p = root.join(sub);
            if !p.is_dir() {
                fs::create_dir_all(&p).ctx("create store directory", &p)?;
            }
        }
        Ok(BlobStore {
            root,
            durability,
            before_publish: None,
            link_faults: LinkFaults::default(),
        })
    }

    /// Install (or clear) the `blob.before_publish` test hook.
    pub fn set_before_publish(&mut self, hook: Option<fn()>) {
        self.before_publish = hook;
    }

    /// Install the test-only link faults (the default is none).
    pub fn set_link_faults(&mut self, faults: LinkFaults) {
        self.link_faults = faults;
    }

    pub fn link_faults(&self) -> LinkFaults {
        self.link_faults
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join(BLOBS_DIR)
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    pub fn blob_path(&self, key: &BlobKey) -> PathBuf {
        self.blobs_dir().join(key.rel_path())
    }

    /// The cheap check applied before trusting an existing blob: a regular file of the right
    /// size and exact read-only mode. `verify` is the expensive check that rehashes.
    pub fn has_blob(&self, key: &BlobKey, size: u64) -> bool {
        blob_looks_valid(&self.blob_path(key), key, size)
    }

    pub fn staging(&self) -> Result<Staging<'_>> {
        let dir = self.tmp_dir().join(fsutil::unique_name("stage"));
        fs::create_dir(&dir).ctx("create staging directory", &dir)?;
        Ok(Staging {
            store: self,
            dir,
            counter: AtomicU64::new(0),
            pending: Mutex::new(Vec::new()),
            seen: Mutex::new(HashSet::new()),
        })
    }

    pub fn add_bytes(&self, data: &[u8], executable: bool) -> Result<(BlobKey, PublishReport)> {
        let staging = self.staging()?;
        let key = staging.stage_bytes(data, executable)?;
        let report = staging.publish()?;
        Ok((key, report))
    }

    /// Add many small contents with one staging directory and one flush.
    pub fn add_many(&self, items: &[(Vec<u8>, bool)]) -> Result<(Vec<BlobKey>, PublishReport)> {
        let staging = self.staging()?;
        let keys = items
            .iter()
            .map(|(data, exec)| staging.stage_bytes(data, *exec))
            .collect::<Result<Vec<_>>>()?;
        let report = staging.publish()?;
        Ok((keys, report))
    }

    pub fn add_file(&self, path: &Path, executable: bool) -> Result<(BlobKey, PublishReport)> {
        let data = fs::read(path).ctx("read", path)?;
        self.add_bytes(&data, executable)
    }

    /// Every entry of the blob directory: `Some(key)` for a well-named regular file, `None`
    /// for junk (stray names, symlinks, directories) that `gc` and `verify` must report.
    pub fn list(&self) -> Result<Vec<(PathBuf, Option<BlobKey>)>> {
        let blobs = self.blobs_dir();
        let mut out = Vec::new();
        for fan in fs::read_dir(&blobs).ctx("list", &blobs)? {
            let fan = fan.ctx("list", &blobs)?;
            let fan_path = fan.path();
            let fan_name = fan.file_name().to_string_lossy().into_owned();
            if !fan.file_type().ctx("stat", &fan_path)?.is_dir() || fan_name.len() != 2 {
                out.push((fan_path, None));
                continue;
            }
            for entry in fs::read_dir(&fan_path).ctx("list", &fan_path)? {
                let entry = entry.ctx("list", &fan_path)?;
                let path = entry.path();
                let is_file = entry.file_type().ctx("stat", &path)?.is_file();
                let key = if is_file {
                    BlobKey::from_location(&fan_name, &entry.file_name().to_string_lossy())
                } else {
                    None
                };
                out.push((path, key));
            }
        }
        Ok(out)
    }
}

fn blob_looks_valid(path: &Path, key: &BlobKey, size: u64) -> bool {
    match fs::symlink_metadata(path) {
        Ok(m) => m.is_file() && m.len() == size && m.permissions().mode() & 0o7777 == key.mode(),
        Err(_) => false,
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    pub new_blobs: u64,
    pub new_bytes: u64,
}

/// A batch of blobs written but not yet published. Dropping it unpublished removes every
/// staged file, so a rejected archive leaves no blob behind.
pub struct Staging<'a> {
    store: &'a BlobStore,
    dir: PathBuf,
    counter: AtomicU64,
    pending: Mutex<Vec<(BlobKey, PathBuf, u64)>>,
    seen: Mutex<HashSet<BlobKey>>,
}

impl Staging<'_> {
    /// Stage `data` as a blob unless the store (or this batch) already holds it. Thread-safe.
    pub fn stage_bytes(&self, data: &[u8], executable: bool) -> Result<BlobKey> {
        let key = BlobKey {
            hash: ContentHash::of_bytes(data),
            executable,
        };
        self.stage_hashed(key, data)?;
        Ok(key)
    }

    /// Stage content whose key the caller already computed.
    pub fn stage_hashed(&self, key: BlobKey, data: &[u8]) -> Result<()> {
        if !lock(&self.seen).insert(key) {
            return Ok(());
        }
        if self.store.has_blob(&key, data.len() as u64) {
            return Ok(());
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!("{n}"));
        // Durability comes from one syncfs in publish(), not one fsync per file.
        fsutil::write_new_file(&tmp, data, key.mode(), false)?;
        lock(&self.pending).push((key, tmp, data.len() as u64));
        Ok(())
    }

    /// Make every staged blob durable and link it into place.
    pub fn publish(self) -> Result<PublishReport> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.is_empty() {
            return Ok(PublishReport::default());
        }
        let fsync = self.store.durability == Durability::Fsync;
        if fsync {
            fsutil::sync_filesystem(&self.dir)?;
        }
        if let Some(hook) = self.store.before_publish {
            hook();
        }
        let blobs = self.store.blobs_dir();
        let created_fan_dir = AtomicU64::new(0);
        let results: Vec<Result<Option<(PathBuf, u64)>>> = pending
            .par_iter()
            .map(|(key, tmp, size)| {
                let dest = blobs.join(key.rel_path());
                let fan = dest.parent().unwrap_or(&blobs);
                match fs::create_dir(fan) {
                    Ok(()) => {
                        created_fan_dir.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e).ctx("create blob directory", fan),
                }
                // link() is an exclusive create: a concurrent writer of the same blob wins
                // cleanly and we keep theirs once it passes the check. Where the filesystem
                // refuses links, a no-replace rename is the same exclusive create.
                let faults = self.store.link_faults;
                let published =
                    link::hard_link(tmp, &dest, faults).or_else(|e| match e.raw_os_error() {
                        Some(libc::EPERM | libc::EACCES | libc::EMLINK) => {
                            link::rename_noreplace(tmp, &dest)
                        }
                        _ => Err(e),
                    });
                match published {
                    Ok(()) => Ok(Some((fan.to_path_buf(), *size))),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        if blob_looks_valid(&dest, key, *size) {
                            Ok(None)
                        } else {
                            fs::rename(tmp, &dest).ctx("replace damaged blob", &dest)?;
                            Ok(Some((fan.to_path_buf(), *size)))
                        }
                    }
                    Err(e) => Err(e).ctx("publish blob", &dest),
                }
            })
            .collect();
        let mut report = PublishReport::default();
        let mut dirs = HashSet::new();
        for r in results {
            if let Some((dir, size)) = r? {
                report.new_blobs += 1;
                report.new_bytes += size;
                dirs.insert(dir);
            }
        }
        if fsync {
            let dirs: Vec<_> = dirs.into_iter().collect();
            dirs.par_iter().try_for_each(|d| fsutil::sync_dir(d))?;
            if created_fan_dir.load(Ordering::Relaxed) > 0 {
                fsutil::sync_dir(&blobs)?;
            }
        }
        Ok(report)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-push; the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Report an error for `path` if it is not a blob this store can use.
pub fn missing_blob(key: &BlobKey, path: &str) -> Error {
    Error::MissingBlob {
        blob: key.to_string(),
        path: path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path().join("store"), Durability::Fsync).unwrap();
        (dir, s)
    }

    #[test]
    fn add_is_idempotent_and_read_only() {
        let (_d, s) = store();
        let (k1, r1) = s.add_bytes(b"hello", false).unwrap();
        let (k2, r2) = s.add_bytes(b"hello", false).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(r1.new_blobs, 1);
        assert_eq!(r2.new_blobs, 0);
        let meta = fs::metadata(s.blob_path(&k1)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
        assert_eq!(meta.mtime(), 1);
        assert_eq!(fs::read(s.blob_path(&k1)).unwrap(), b"hello");
    }

    #[test]
    fn executable_bit_is_part_of_the_key() {
        let (_d, s) = store();
        let (plain, _) = s.add_bytes(b"#!/bin/sh\n", false).unwrap();
        let (exec, _) = s.add_bytes(b"#!/bin/sh\n", true).unwrap();
        assert_ne!(plain, exec);
        assert_eq!(plain.hash, exec.hash);
        let mode = fs::metadata(s.blob_path(&exec))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o555);
        assert_eq!(BlobKey::parse(&exec.to_string()).unwrap(), exec);
    }

    #[test]
    fn damaged_blob_is_replaced_not_trusted() {
        let (_d, s) = store();
        let (k, _) = s.add_bytes(b"good content", false).unwrap();
        let p = s.blob_path(&k);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"bad").unwrap();
        let (_, r) = s.add_bytes(b"good content", false).unwrap();
        assert_eq!(r.new_blobs, 1);
        assert_eq!(fs::read(&p).unwrap(), b"good content");
    }

    #[test]
    fn dropped_staging_leaves_nothing() {
        let (_d, s) = store();
        {
            let st = s.staging().unwrap();
            st.stage_bytes(b"never published", false).unwrap();
        }
        assert!(s.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
    }
}
