//! Verification by hashing, never by size or mtime: every blob must hash to its name and carry
//! its exact read-only mode; anything else in the blob directory is reported as junk.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::blob::BlobStore;
use crate::error::Result;
use crate::hash::ContentHash;

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
}
