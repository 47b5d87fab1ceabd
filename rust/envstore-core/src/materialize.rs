//! Build a directory tree from one or more manifests: directories level by level, then every
//! file placed from its blob in parallel. The destination must not exist; on failure it is
//! removed again, so a caller sees a complete tree or none. A file whose hardlink fails with
//! EXDEV, EMLINK or EPERM is copied (that file only) and counted under its errno, so the caller
//! can say so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::blob::{missing_blob, BlobStore};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::link::{self, LinkMode, LinkStrategy};
use crate::manifest::{Entry, Manifest};

/// Files reflinked or copied because their hardlink failed, by the link error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFallbacks {
    pub exdev: u64,
    pub emlink: u64,
    /// EPERM or EACCES: a filesystem without hardlinks, or `fs.protected_hardlinks`.
    pub eperm: u64,
}

impl LinkFallbacks {
    pub fn total(&self) -> u64 {
        self.exdev + self.emlink + self.eperm
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaterializeReport {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinked: u64,
    pub reflinked: u64,
    pub copied: u64,
    pub fallbacks: LinkFallbacks,
}

/// Merge manifests into one path -> (entry, source label) map; identical entries may repeat
/// (namespace packages' shared files), different ones are a conflict naming both sources.
pub(crate) fn merge(manifests: &[(String, Manifest)]) -> Result<BTreeMap<&str, (&Entry, &str)>> {
    let mut merged: BTreeMap<&str, (&Entry, &str)> = BTreeMap::new();
    for (label, manifest) in manifests {
        for (path, entry) in &manifest.entries {
            match merged.get(path.as_str()) {
                Some((existing, _)) if *existing == entry => {}
                Some((_, first)) => {
                    return Err(Error::Conflict {
                        path: path.clone(),
                        first: first.to_string(),
                        second: label.clone(),
                    })
                }
                None => {
                    merged.insert(path, (entry, label));
                }
            }
        }
    }
    Ok(merged)
}

pub fn materialize(
    store: &BlobStore,
    manifests: &[(String, Manifest)],
    dest: &Path,
    strategy: LinkStrategy,
) -> Result<MaterializeReport> {
    let merged = merge(manifests)?;
    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    for (path, (entry, label)) in &merged {
        if matches!(entry, Entry::Dir) {
            dirs.insert(path);
        }
        let mut cut = path.len();
        while let Some(i) = path[..cut].rfind('/') {
            let parent = &path[..i];
            if let Some((e, owner)) = merged.get(parent) {
                if !matches!(e, Entry::Dir) {
                    return Err(Error::Conflict {
                        path: parent.to_string(),
                        first: owner.to_string(),
                        second: label.to_string(),
                    });
                }
            }
            if !dirs.insert(parent) {
                break;
            }
            cut = i;
        }
    }

    match fs::create_dir(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::DestinationExists(dest.to_path_buf()))
        }
        Err(e) => return Err(e).ctx("create", dest),
    }
    let result = build(store, &merged, &dirs, dest, strategy);
    if result.is_err() {
        let _ = fsutil::remove_tree(dest);
    }
    result
}

fn build(
    store: &BlobStore,
    merged: &BTreeMap<&str, (&Entry, &str)>,
    dirs: &BTreeSet<&str>,
    dest: &Path,
    strategy: LinkStrategy,
) -> Result<MaterializeReport> {
    let mut by_depth: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for d in dirs {
        by_depth.entry(d.matches('/').count()).or_default().push(d);
    }
    for level in by_depth.values() {
        level
            .par_iter()
            .try_for_each(|d| fs::create_dir(dest.join(d)).ctx("create directory", dest.join(d)))?;
    }

    let faults = store.link_faults();
    let counts = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    // EXDEV, EMLINK, EPERM/EACCES
    let fallbacks = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let files: Vec<(&str, &Entry)> = merged
        .iter()
        .filter(|(_, (e, _))| !matches!(e, Entry::Dir))
        .map(|(p, (e, _))| (*p, *e))
        .collect();
    files
        .par_iter()
        .try_for_each(|(path, entry)| -> Result<()> {
            let target = dest.join(path);
            match entry {
                Entry::Symlink { target: to } => {
                    symlink(to, &target).ctx("create symlink", &target)
                }
                Entry::File { .. } => {
                    let Some(key) = entry.blob() else {
                        return Ok(());
                    };
                    let src = store.blob_path(&key);
                    let placed =
                        link::place(&src, &target, key.mode(), strategy, faults).map_err(|e| {
                            if !src.exists() {
                                missing_blob(&key, path)
                            } else {
                                e
                            }
                        })?;
                    if let Some(errno) = placed.link_error {
                        let slot = match errno {
                            libc::EXDEV => 0,
                            libc::EMLINK => 1,
                            _ => 2,
                        };
                        fallbacks[slot].fetch_add(1, Ordering::Relaxed);
                    }
                    let slot = match placed.mode {
                        LinkMode::Hardlink => 0,
                        LinkMode::Reflink => 1,
                        LinkMode::Copy => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Entry::Dir => Ok(()),
            }
        })?;
    let symlinks = files
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Symlink { .. }))
        .count() as u64;
    Ok(MaterializeReport {
        files: files.len() as u64 - symlinks,
        dirs: dirs.len() as u64,
        symlinks,
        hardlinked: counts[0].load(Ordering::Relaxed),
        reflinked: counts[1].load(Ordering::Relaxed),
        copied: counts[2].load(Ordering::Relaxed),
        fallbacks: LinkFallbacks {
            exdev: fallbacks[0].load(Ordering::Relaxed),
            emlink: fallbacks[1].load(Ordering::Relaxed),
            eperm: fallbacks[2].load(Ordering::Relaxed),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Durability;
    use crate::link::LinkFaults;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// A store with `faults`, a source tree of three files (two with equal content) ingested
    /// into it, and the manifests to build it from.
    fn fixture(faults: LinkFaults) -> (tempfile::TempDir, BlobStore, Vec<(String, Manifest)>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = BlobStore::open(dir.path().join("s"), Durability::None).unwrap();
        store.set_link_faults(faults);
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("pkg/sub")).unwrap();
        fs::write(src.join("pkg/a.py"), b"a = 1").unwrap();
        fs::write(src.join("pkg/sub/same.py"), b"a = 1").unwrap();
        fs::write(src.join("pkg/b.py"), b"b = 2").unwrap();
        let report = crate::tree::ingest_dir(&store, &src, &[], &Default::default()).unwrap();
        (dir, store, vec![("src".to_string(), report.manifest)])
    }

    fn blob_of(
        store: &BlobStore,
        manifests: &[(String, Manifest)],
        rel: &str,
    ) -> std::path::PathBuf {
        store.blob_path(&manifests[0].1.entries[rel].blob().unwrap())
    }

    #[test]
    fn without_hardlinks_blobs_publish_and_every_file_is_a_tracked_copy() {
        let faults = LinkFaults {
            errno: Some(libc::EPERM),
            max_links: None,
        };
        let (dir, store, manifests) = fixture(faults);
        let out = dir.path().join("out");
        let report = materialize(&store, &manifests, &out, LinkStrategy::Auto).unwrap();
        assert_eq!(report.hardlinked, 0);
        assert_eq!(report.fallbacks.eperm, 3);
        assert_eq!(report.fallbacks.total(), 3);
        for rel in ["pkg/a.py", "pkg/sub/same.py", "pkg/b.py"] {
            let blob = fs::metadata(blob_of(&store, &manifests, rel)).unwrap();
            assert_eq!(blob.nlink(), 1, "{rel}: no link was made to its blob");
            assert_ne!(fs::metadata(out.join(rel)).unwrap().ino(), blob.ino());
        }
        assert!(crate::verify::verify_tree(&store, &manifests, &out)
            .unwrap()
            .is_empty());
        // The copies are still checked: an edit to one is found.
        fs::set_permissions(out.join("pkg/b.py"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(out.join("pkg/b.py"), b"b = 9").unwrap();
        let problems = crate::verify::verify_tree(&store, &manifests, &out).unwrap();
        let kinds: Vec<_> = problems.into_iter().map(|p| p.kind).collect();
        assert!(
            kinds.contains(&crate::verify::ProblemKind::Content),
            "{kinds:?}"
        );
    }

    #[test]
    fn link_limit_falls_back_per_file_and_keeps_the_rest_hardlinked() {
        let faults = LinkFaults {
            errno: None,
            max_links: Some(3),
        };
        let (dir, store, manifests) = fixture(faults);
        let reports: Vec<MaterializeReport> = (0..4)
            .map(|i| {
                let out = dir.path().join(format!("out{i}"));
                materialize(&store, &manifests, &out, LinkStrategy::Auto).unwrap()
            })
            .collect();
        // "a = 1" is at two paths per tree, so its blob is at the limit after the first tree;
        // b.py's blob reaches it in the second.
        assert_eq!(reports[0].hardlinked, 3);
        assert_eq!((reports[1].hardlinked, reports[1].fallbacks.emlink), (1, 2));
        assert_eq!((reports[2].hardlinked, reports[2].fallbacks.emlink), (0, 3));
        for rel in ["pkg/a.py", "pkg/b.py"] {
            assert_eq!(
                fs::metadata(blob_of(&store, &manifests, rel))
                    .unwrap()
                    .nlink(),
                3
            );
        }
        for i in 0..4 {
            let out = dir.path().join(format!("out{i}"));
            assert!(crate::verify::verify_tree(&store, &manifests, &out)
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn a_link_error_without_fallback_leaves_no_tree() {
        let faults = LinkFaults {
            errno: Some(libc::ENOSPC),
            max_links: None,
        };
        let (dir, store, manifests) = fixture(LinkFaults::default());
        let mut store = store;
        store.set_link_faults(faults);
        let out = dir.path().join("out");
        let err = materialize(&store, &manifests, &out, LinkStrategy::Auto).unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
        assert!(!out.exists(), "no half-linked tree is left behind");
    }
}
