//! Verification by hashing, never by size or mtime: every blob must hash to its name and carry
//! its exact read-only mode; anything else in the blob directory is reported as junk.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rayon::prelude::*;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::blob::BlobStore;
use crate::error::{IoContext, Result};
use crate::hash::ContentHash;
use crate::manifest::{Entry, Manifest};
use crate::materialize::merge;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Content does not hash to the blob's name.
    Content,
    /// Mode is not the blob's read-only mode.
    Mode,
    /// Not a blob at all: a stray name, a directory, a symlink.
    Junk,
    /// Could not be read.
    Unreadable,
    /// A path of the manifest is absent from the tree.
    Missing,
    /// A path in the tree that no manifest lists.
    Extra,
    /// The path holds another kind of file (a file replaced by a symlink, ...).
    Type,
    /// Same content, but no longer the blob's inode (an editor saved a copy over the link).
    Unlinked,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub path: PathBuf,
    pub kind: ProblemKind,
    pub expected: String,
    pub actual: String,
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub checked: u64,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

pub fn verify_blobs(store: &BlobStore) -> Result<VerifyReport> {
    let listing = store.list()?;
    let results: Vec<(u64, Vec<Problem>)> = listing
        .par_iter()
        .map(|(path, key)| {
            let problem = |kind, expected: String, actual: String| Problem {
                path: path.clone(),
                kind,
                expected,
                actual,
            };
            let Some(key) = key else {
                return (
                    0,
                    vec![problem(
                        ProblemKind::Junk,
                        "a blob".into(),
                        "unexpected entry".into(),
                    )],
                );
            };
            let mut problems = Vec::new();
            let size = match fs::symlink_metadata(path) {
                Ok(meta) => {
                    let mode = meta.permissions().mode() & 0o7777;
                    if mode != key.mode() {
                        problems.push(problem(
                            ProblemKind::Mode,
                            format!("{:o}", key.mode()),
                            format!("{mode:o}"),
                        ));
                    }
                    meta.len()
                }
                Err(e) => {
                    problems.push(problem(
                        ProblemKind::Unreadable,
                        "readable".into(),
                        e.to_string(),
                    ));
                    return (0, problems);
                }
            };
            match ContentHash::of_file(path) {
                Ok(h) if h == key.hash => {}
                Ok(h) => {
                    problems.push(problem(ProblemKind::Content, key.hash.to_hex(), h.to_hex()))
                }
                Err(e) => problems.push(problem(
                    ProblemKind::Unreadable,
                    "readable".into(),
                    e.to_string(),
                )),
            }
            (size, problems)
        })
        .collect();
    let mut report = VerifyReport {
        checked: listing.len() as u64,
        ..Default::default()
    };
    for (bytes, problems) in results {
        report.bytes += bytes;
        report.problems.extend(problems);
    }
    report.problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// Compare a materialized tree with the manifests it was built from: every file's content (by
/// hash), mode and link to its blob; symlink targets; missing and extra paths.
pub fn verify_tree(
    store: &BlobStore,
    manifests: &[(String, Manifest)],
    root: &Path,
) -> Result<Vec<Problem>> {
    let merged = merge(manifests)?;
    let mut on_disk: BTreeMap<String, fs::Metadata> = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = fs::symlink_metadata(entry.path()).ctx("stat", entry.path())?;
            if meta.is_dir() {
                stack.push((entry.path(), child.clone()));
            }
            on_disk.insert(child, meta);
        }
    }
    let problem = |path: &str, kind, expected: String, actual: String| Problem {
        path: root.join(path),
        kind,
        expected,
        actual,
    };
    let mut problems: Vec<Problem> = on_disk
        .iter()
        .filter(|(p, m)| {
            let listed = merged.contains_key(p.as_str());
            let implied_dir = m.is_dir() && is_parent_of_entry(p, &merged);
            !listed && !implied_dir
        })
        .map(|(p, _)| {
            problem(
                p,
                ProblemKind::Extra,
                "nothing".into(),
                "an unlisted path".into(),
            )
        })
        .collect();
    let checks: Vec<Vec<Problem>> = merged
        .par_iter()
        .map(|(path, (entry, _))| {
            let Some(meta) = on_disk.get(*path) else {
                return vec![problem(
                    path,
                    ProblemKind::Missing,
                    "present".into(),
                    "missing".into(),
                )];
            };
            let mut out = Vec::new();
            match entry {
                Entry::Dir if !meta.is_dir() => out.push(problem(
                    path,
                    ProblemKind::Type,
                    "directory".into(),
                    "not a directory".into(),
                )),
                Entry::Dir => {}
                Entry::Symlink { target } => match fs::read_link(root.join(path)) {
                    Ok(t) if t.to_string_lossy() == target.as_str() => {}
                    Ok(t) => out.push(problem(
                        path,
                        ProblemKind::Content,
                        target.clone(),
                        t.display().to_string(),
                    )),
                    Err(_) => out.push(problem(
                        path,
                        ProblemKind::Type,
                        "symlink".into(),
                        "not a symlink".into(),
                    )),
                },
                Entry::File { hash, .. } => {
                    if !meta.is_file() {
                        out.push(problem(
                            path,
                            ProblemKind::Type,
                            "regular file".into(),
                            "another file type".into(),
                        ));
                        return out;
                    }
                    let key = entry.blob().unwrap_or(crate::blob::BlobKey {
                        hash: *hash,
                        executable: false,
                    });
                    let mode = meta.mode() & 0o7777;
                    if mode != key.mode() {
                        out.push(problem(
                            path,
                            ProblemKind::Mode,
                            format!("{:o}", key.mode()),
                            format!("{mode:o}"),
                        ));
                    }
                    match ContentHash::of_file(&root.join(path)) {
                        Ok(h) if h == *hash => {
                            // Only meaningful where a hardlink was possible: same filesystem.
                            // A copy materialize made because the link failed (EMLINK, EPERM)
                            // carries the blob's mtime and mode; an editor's save does not.
                            let fallback_copy = meta.mtime() == 1 && meta.mtime_nsec() == 0;
                            let unlinked = !fallback_copy
                                && fs::metadata(store.blob_path(&key))
                                    .map(|b| b.dev() == meta.dev() && b.ino() != meta.ino())
                                    .unwrap_or(false);
                            if unlinked {
                                out.push(problem(
                                    path,
                                    ProblemKind::Unlinked,
                                    "hardlink to its blob".into(),
                                    "a separate copy".into(),
                                ));
                            }
                        }
                        Ok(h) => out.push(problem(
                            path,
                            ProblemKind::Content,
                            hash.to_hex(),
                            h.to_hex(),
                        )),
                        Err(e) => out.push(problem(
                            path,
                            ProblemKind::Unreadable,
                            "readable".into(),
                            e.to_string(),
                        )),
                    }
                }
            }
            out
        })
        .collect();
    problems.extend(checks.into_iter().flatten());
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(problems)
}

fn is_parent_of_entry(dir: &str, merged: &BTreeMap<&str, (&Entry, &str)>) -> bool {
    let prefix = format!("{dir}/");
    merged
        .range(prefix.as_str()..)
        .next()
        .is_some_and(|(p, _)| p.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Durability;

    #[test]
    fn finds_same_size_edits_and_mode_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), Durability::None).unwrap();
        let (a, _) = store.add_bytes(b"aaaa", false).unwrap();
        let (b, _) = store.add_bytes(b"bbbb", false).unwrap();
        assert!(verify_blobs(&store).unwrap().problems.is_empty());
        let pa = store.blob_path(&a);
        fs::set_permissions(&pa, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&pa, b"AAAA").unwrap();
        fs::set_permissions(&pa, fs::Permissions::from_mode(0o444)).unwrap();
        fs::set_permissions(store.blob_path(&b), fs::Permissions::from_mode(0o644)).unwrap();
        let kinds: Vec<_> = verify_blobs(&store)
            .unwrap()
            .problems
            .into_iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(kinds.len(), 2);
        assert!(kinds.contains(&ProblemKind::Content) && kinds.contains(&ProblemKind::Mode));
    }

    #[test]
    fn tree_check_finds_edits_replacements_and_strays() {
        use crate::link::LinkStrategy;
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("s"), Durability::None).unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("pkg")).unwrap();
        fs::write(src.join("pkg/a.py"), b"a = 1").unwrap();
        fs::write(src.join("pkg/b.py"), b"b = 2").unwrap();
        fs::write(src.join("pkg/c.py"), b"c = 3").unwrap();
        let report = crate::tree::ingest_dir(&store, &src, &[], &Default::default()).unwrap();
        let manifests = vec![("src".to_string(), report.manifest)];
        let out = dir.path().join("out");
        crate::materialize(&store, &manifests, &out, LinkStrategy::Auto).unwrap();
        assert!(verify_tree(&store, &manifests, &out).unwrap().is_empty());

        // editor-style save with identical content: a new inode
        fs::remove_file(out.join("pkg/a.py")).unwrap();
        fs::write(out.join("pkg/a.py"), b"a = 1").unwrap();
        fs::set_permissions(out.join("pkg/a.py"), fs::Permissions::from_mode(0o444)).unwrap();
        // replaced with different content
        fs::remove_file(out.join("pkg/b.py")).unwrap();
        fs::write(out.join("pkg/b.py"), b"b = 9").unwrap();
        fs::set_permissions(out.join("pkg/b.py"), fs::Permissions::from_mode(0o444)).unwrap();
        fs::remove_file(out.join("pkg/c.py")).unwrap();
        fs::write(out.join("pkg/stray.py"), b"").unwrap();
        let mut kinds: Vec<(String, ProblemKind)> = verify_tree(&store, &manifests, &out)
            .unwrap()
            .into_iter()
            .map(|p| {
                (
                    p.path.file_name().unwrap().to_string_lossy().into_owned(),
                    p.kind,
                )
            })
            .collect();
        kinds.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            kinds,
            vec![
                ("a.py".into(), ProblemKind::Unlinked),
                ("b.py".into(), ProblemKind::Content),
                ("c.py".into(), ProblemKind::Missing),
                ("stray.py".into(), ProblemKind::Extra),
            ]
        );
    }
}
