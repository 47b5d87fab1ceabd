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
        .filter(|top| top.ends_with(".dist-info") && files.iter().any(|e| e.name.starts_with(&format!("{top}/"))))
        .collect();
    let dist_info = match dist_infos.len() {
        1 => dist_infos.into_iter().next().unwrap_or_default().to_string(),
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
        return Err(record_err(absent.clone(), "listed in RECORD but not in the wheel".into()));
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
            return Err(unsafe_member(&e.name, &format!("unsupported file type ({kind})")));
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
