//! The sweep: given the manifests to keep, delete every blob none of them uses, every other
//! manifest, and junk in the store's directories (without following symlinks). Which manifests
//! are live is decided by the caller (roots); this module only deletes.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use crate::blob::{BlobKey, BlobStore};
use crate::error::{IoContext, Result};
use crate::fsutil;
use crate::manifest::ManifestId;

#[derive(Clone, Debug, Default)]
pub struct SweepReport {
    pub blobs_removed: u64,
    pub bytes_removed: u64,
    pub manifests_removed: u64,
    pub junk_removed: u64,
    /// Every path removed (or, in a dry run, that would be).
    pub removed: Vec<PathBuf>,
}

/// Remove everything not reachable from `keep`. A kept manifest that cannot be read aborts the
/// sweep before anything is deleted: failing closed keeps blobs a damaged root still needs.
pub fn sweep(store: &BlobStore, keep: &[ManifestId], dry_run: bool) -> Result<SweepReport> {
    let mut live: HashSet<BlobKey> = HashSet::new();
    let keep_ids: HashSet<ManifestId> = keep.iter().copied().collect();
    for id in keep {
        live.extend(store.get_manifest(&id.to_hex())?.blobs());
    }
    let mut report = SweepReport::default();
    let mut doomed = Vec::new();
    for (path, key) in store.list()? {
        match key {
            Some(k) if live.contains(&k) => {}
            Some(_) => {
                report.blobs_removed += 1;
                report.bytes_removed += fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
                doomed.push(path);
            }
            None => {
                report.junk_removed += 1;
                doomed.push(path);
            }
        }
    }
    for (path, id) in store.list_manifests()? {
        match id {
            Some(id) if keep_ids.contains(&id) => {}
            Some(_) => {
                report.manifests_removed += 1;
                doomed.push(path);
            }
            None => {
                report.junk_removed += 1;
                doomed.push(path);
            }
        }
    }
    if !dry_run {
        for path in &doomed {
            // remove_tree never follows a symlink: a link planted in the store is removed, its
            // target left alone. ENOENT is fine: a concurrent sweep got there first.
            fsutil::remove_tree(path)?;
        }
        for dir in [
            store.blobs_dir(),
            store.root().join(crate::blob::MANIFESTS_DIR),
        ] {
            fsutil::sync_dir(&dir).ok();
        }
    }
    report.removed = doomed;
    Ok(report)
}

/// Remove fan-out directories the sweep left empty.
pub fn prune_empty_dirs(store: &BlobStore) -> Result<u64> {
    let blobs = store.blobs_dir();
    let mut n = 0;
    for entry in fs::read_dir(&blobs).ctx("list", &blobs)? {
        let entry = entry.ctx("list", &blobs)?;
        if entry.file_type().ctx("stat", entry.path())?.is_dir()
            && fs::remove_dir(entry.path()).is_ok()
        {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Durability;
    use crate::manifest::{Entry, Manifest};

    #[test]
    fn sweep_keeps_only_live_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), Durability::None).unwrap();
        let (live_key, _) = store.add_bytes(b"live", false).unwrap();
        let (dead_key, _) = store.add_bytes(b"dead!", true).unwrap();
        let mut m = Manifest::new();
        m.entries.insert(
            "f".into(),
            Entry::File {
                hash: live_key.hash,
                size: 4,
                executable: false,
            },
        );
        let id = store.put_manifest(&m).unwrap();
        let report = sweep(&store, &[id], false).unwrap();
        assert_eq!(report.blobs_removed, 1);
        assert_eq!(report.bytes_removed, 5);
        assert!(store.blob_path(&live_key).exists());
        assert!(!store.blob_path(&dead_key).exists());
        // A kept manifest that cannot be read stops the sweep before it deletes anything.
        let bogus = crate::hash::ContentHash::of_bytes(b"no such manifest");
        assert!(sweep(&store, &[bogus], false).is_err());
        assert!(store.blob_path(&live_key).exists());
    }
}
