//! Wheel ingestion: one pass over a memory-mapped wheel that validates every header and name,
//! checks every member against RECORD, and stages blobs in parallel. Nothing is published
//! unless the whole wheel passes; a rejected wheel leaves no blob and no manifest.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use rayon::prelude::*;

use crate::blob::BlobStore;
use crate::error::{Error, IoContext, Result};
use crate::ingest::{IngestLimits, IngestReport, RATIO_EXEMPT_SIZE};
use crate::manifest::{Entry, Manifest};
use crate::member_path::{self, CollisionCheck};
use crate::record;
use crate::zipread::{ZipEntry, ZipIndex};

const S_IFMT: u32 = 0o170000;

fn file_type_name(mode: u32) -> Option<&'static str> {
    match mode & S_IFMT {
        0 | 0o100000 | 0o040000 => None,
        0o120000 => Some("symlink"),
        0o010000 => Some("FIFO"),
        0o020000 | 0o060000 => Some("device"),
        0o140000 => Some("socket"),
        _ => Some("unknown"),
    }
}

pub fn ingest_wheel(store: &BlobStore, path: &Path, limits: &IngestLimits) -> Result<IngestReport> {
    let archive = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let file = File::open(path).ctx("open", path)?;
    // SAFETY: the map is read-only; a concurrent writer of the wheel could change bytes under
    // us, but every byte we publish is hashed after it is read, so the damage is a failed
    // check, never a wrong blob.
    let map = unsafe { memmap2::Mmap::map(&file) }.ctx("map", path)?;
    let index = ZipIndex::open(&map, &archive, limits.max_files)?;
    let files = check_members(&index.entries, &archive, limits)?;

    let unsafe_member = |member: &str, reason: &str| Error::UnsafeMember {
        archive: archive.clone(),
        member: member.to_string(),
        reason: reason.to_string(),
    };
    let dist_infos: BTreeSet<&str> = files
        .iter()
        .filter_map(|e| e.name.split('/').next())
        .filter(|top| {
            top.ends_with(".dist-info")
                && files.iter().any(|e| e.name.starts_with(&format!("{top}/")))
        })
        .collect();
    let dist_info = match dist_infos.len() {
        1 => dist_infos
            .into_iter()
            .next()
            .unwrap_or_default()
            .to_string(),
        n => {
            return Err(Error::BadArchive {
                archive,
                reason: format!("expected exactly one .dist-info directory, found {n}"),
            })
        }
    };
    let record_name = format!("{dist_info}/RECORD");
    let record_entry = files
        .iter()
        .find(|e| e.name == record_name)
        .ok_or_else(|| unsafe_member(&record_name, "missing RECORD"))?;
    let record_err = |member: String, reason: String| Error::Record {
        archive: archive.clone(),
        member,
        reason,
    };
    let rows = record::parse(&index.extract(record_entry)?).map_err(|(m, r)| record_err(m, r))?;
    for path in rows.keys() {
        if member_path::check(path).is_err() {
            return Err(record_err(path.clone(), "unsafe path in RECORD".into()));
        }
    }
    let names: BTreeSet<&str> = files.iter().map(|e| e.name.as_str()).collect();
    if let Some(absent) = rows.keys().find(|p| !names.contains(p.as_str())) {
        return Err(record_err(
            absent.clone(),
            "listed in RECORD but not in the wheel".into(),
        ));
    }

    let staging = store.staging()?;
    let staged: Vec<Result<(String, Entry)>> = files
        .par_iter()
        .map(|e| {
            let data = index.extract(e)?;
            if !record::is_record_file(&e.name, &dist_info) {
                let row = rows
                    .get(&e.name)
                    .ok_or_else(|| record_err(e.name.clone(), "not listed in RECORD".into()))?;
                record::check(row, &data).map_err(|r| record_err(e.name.clone(), r))?;
            }
            let executable = e.unix_mode.is_some_and(|m| m & 0o111 != 0);
            let key = staging.stage_bytes(&data, executable)?;
            Ok((
                e.name.clone(),
                Entry::File {
                    hash: key.hash,
                    size: data.len() as u64,
                    executable,
                },
            ))
        })
        .collect();
    let mut manifest = Manifest::new();
    for item in staged {
        let (name, entry) = item?;
        manifest.entries.insert(name, entry);
    }
    let publish = staging.publish()?;
    let manifest_id = store.put_manifest(&manifest)?;
    Ok(IngestReport {
        manifest_id,
        files: files.len() as u64,
        bytes: manifest.file_bytes(),
        manifest,
        new_blobs: publish.new_blobs,
        new_bytes: publish.new_bytes,
    })
}

/// Validate every name, type and size before anything is decompressed; return the file members.
fn check_members<'e>(
    entries: &'e [ZipEntry],
    archive: &str,
    limits: &IngestLimits,
) -> Result<Vec<&'e ZipEntry>> {
    let unsafe_member = |member: &str, reason: &str| Error::UnsafeMember {
        archive: archive.to_string(),
        member: member.to_string(),
        reason: reason.to_string(),
    };
    let limit = |reason: String| Error::Limit {
        archive: archive.to_string(),
        reason,
    };
    let mut collisions = CollisionCheck::default();
    let mut total = 0u64;
    let mut files = Vec::with_capacity(entries.len());
    for e in entries {
        let bare = e.name.strip_suffix('/').unwrap_or(&e.name);
        member_path::check(bare).map_err(|r| unsafe_member(&e.name, r))?;
        if let Err((reason, _)) = collisions.add(&e.name) {
            return Err(unsafe_member(&e.name, reason));
        }
        if let Some(kind) = e.unix_mode.and_then(file_type_name) {
            return Err(unsafe_member(
                &e.name,
                &format!("unsupported file type ({kind})"),
            ));
        }
        if e.is_dir() {
            continue;
        }
        if e.unix_mode.is_some_and(|m| m & S_IFMT == 0o040000) {
            return Err(unsafe_member(&e.name, "directory mode on a file member"));
        }
        if e.size > limits.max_file_size {
            return Err(limit(format!(
                "member '{}' is {} bytes (limit {})",
                e.name, e.size, limits.max_file_size
            )));
        }
        if e.size > RATIO_EXEMPT_SIZE && e.size / e.compressed_size.max(1) > limits.max_ratio {
            return Err(limit(format!(
                "member '{}' compresses {}:1 (limit {}:1)",
                e.name,
                e.size / e.compressed_size.max(1),
                limits.max_ratio
            )));
        }
        total += e.size;
        if total > limits.max_total_size {
            return Err(limit(format!(
                "more than {} bytes uncompressed",
                limits.max_total_size
            )));
        }
        files.push(e);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Durability;
    use crate::link::LinkStrategy;
    use crate::materialize::materialize;
    use crate::testutil::{member, wheel, zip, Member};
    use std::os::unix::fs::MetadataExt;

    fn setup(bytes: &[u8]) -> (tempfile::TempDir, BlobStore, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("store"), Durability::None).unwrap();
        let path = dir.path().join("demo-1.0-py3-none-any.whl");
        std::fs::write(&path, bytes).unwrap();
        (dir, store, path)
    }

    fn reject(bytes: &[u8]) -> Error {
        let (_d, store, path) = setup(bytes);
        let err = ingest_wheel(&store, &path, &IngestLimits::default()).unwrap_err();
        assert!(
            store.list().unwrap().is_empty(),
            "rejected wheel left blobs: {err}"
        );
        assert!(store.list_manifests().unwrap().is_empty());
        err
    }

    #[test]
    fn ingests_and_materializes_with_shared_inodes() {
        let mut exe = member("demo/tool", b"#!/bin/sh\n");
        exe.mode = 0o100755;
        let bytes = wheel(&[member("demo/__init__.py", b"x = 1\n"), exe]);
        let (d, store, path) = setup(&bytes);
        let report = ingest_wheel(&store, &path, &IngestLimits::default()).unwrap();
        assert_eq!(report.files, 5);
        assert_eq!(report.new_blobs, 5);
        let again = ingest_wheel(&store, &path, &IngestLimits::default()).unwrap();
        assert_eq!(again.new_blobs, 0);
        assert_eq!(again.manifest_id, report.manifest_id);

        let manifests = vec![("demo".to_string(), report.manifest.clone())];
        let out = d.path().join("out");
        let m = materialize(&store, &manifests, &out, LinkStrategy::Auto).unwrap();
        assert_eq!(m.hardlinked, 5);
        let tool = std::fs::metadata(out.join("demo/tool")).unwrap();
        assert_eq!(tool.mode() & 0o777, 0o555);
        assert_eq!(
            std::fs::read(out.join("demo/__init__.py")).unwrap(),
            b"x = 1\n"
        );
        let blob = store.blob_path(&report.manifest.entries["demo/tool"].blob().unwrap());
        assert_eq!(std::fs::metadata(blob).unwrap().ino(), tool.ino());
    }

    #[test]
    fn rejects_unsafe_names_before_writing() {
        for name in [
            "../evil.py",
            "/abs.py",
            "a\\b.py",
            "C:/x.py",
            "a/../../b.py",
        ] {
            let err = reject(&wheel(&[member(name, b"x")]));
            assert!(
                matches!(err, Error::UnsafeMember { ref member, .. } if member == name),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn rejects_symlinks_and_collisions() {
        let mut link = member("demo/link", b"/etc/passwd");
        link.mode = 0o120777;
        let err = reject(&wheel(&[link]));
        assert!(
            err.to_string()
                .contains("unsupported file type (symlink) 'demo/link'"),
            "{err}"
        );
        let err = reject(&wheel(&[
            member("demo/A.py", b"1"),
            member("demo/a.py", b"2"),
        ]));
        assert!(err.to_string().contains("colliding"), "{err}");
    }

    #[test]
    fn rejects_record_mismatches() {
        // a file absent from RECORD
        let mut members = vec![member("demo/x.py", b"x")];
        let good = wheel(&members);
        members.push(member("demo/extra.py", b"sneaky"));
        let mut bad = zip(&members);
        let err = reject(&bad);
        assert!(
            matches!(err, Error::BadArchive { .. }),
            "no dist-info: {err}"
        );
        // splice an unlisted member into an otherwise valid wheel by rebuilding with a stale RECORD
        let di = "demo-1.0.dist-info";
        let record = format!("demo/x.py,sha256=AAAA,1\n{di}/RECORD,,\n");
        bad = zip(&[
            member("demo/x.py", b"x"),
            member(&format!("{di}/METADATA"), b"Name: demo\n"),
            member(&format!("{di}/RECORD"), record.as_bytes()),
        ]);
        let err = reject(&bad);
        assert!(matches!(err, Error::Record { .. }), "{err}");
        assert!(!good.is_empty());
    }

    #[test]
    fn rejects_structural_tricks() {
        let good = wheel(&[member("demo/x.py", b"hello")]);
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"junk");
        assert!(reject(&trailing).to_string().contains("trailing data"));

        let mut prepended = b"PADDING".to_vec();
        prepended.extend_from_slice(&good);
        let err = reject(&prepended);
        assert!(matches!(err, Error::BadArchive { .. }), "{err}");

        let mut bad_crc = good.clone();
        let at = bad_crc.windows(5).position(|w| w == b"hello").unwrap();
        bad_crc[at] = b'j';
        assert!(reject(&bad_crc).to_string().contains("bad CRC-32"));

        let mut renamed = good.clone();
        let at = renamed.windows(9).position(|w| w == b"demo/x.py").unwrap();
        renamed[at + 5] = b'y';
        assert!(reject(&renamed)
            .to_string()
            .contains("local header name differs"));

        assert!(reject(&good[..good.len() / 2])
            .to_string()
            .contains("invalid archive"));
    }

    #[test]
    fn enforces_limits() {
        let many: Vec<Member> = (0..50)
            .map(|i| member(&format!("demo/f{i}.py"), b"x"))
            .collect();
        let (_d, store, path) = setup(&wheel(&many));
        let limits = IngestLimits {
            max_files: 10,
            ..IngestLimits::default()
        };
        let err = ingest_wheel(&store, &path, &limits).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err}");
        let limits = IngestLimits {
            max_file_size: 0,
            ..IngestLimits::default()
        };
        assert!(matches!(
            ingest_wheel(&store, &path, &limits),
            Err(Error::Limit { .. })
        ));
    }
}
