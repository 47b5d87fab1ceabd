//! Build a directory tree from one or more manifests: directories level by level, then every
//! file placed from its blob in parallel. The destination must not exist; on failure it is
//! removed again, so a caller sees a complete tree or none.

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaterializeReport {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinked: u64,
    pub reflinked: u64,
    pub copied: u64,
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

    let counts = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
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
                    let mode = link::place(&src, &target, key.mode(), strategy).map_err(|e| {
                        if !src.exists() {
                            missing_blob(&key, path)
                        } else {
                            e
                        }
                    })?;
                    let slot = match mode {
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
    })
}
