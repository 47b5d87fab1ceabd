//! Ingest a plain directory tree (an interpreter installation) and the builder that tar
//! ingestion shares: path checks, collision checks, limits, and parallel staging of files.
//! Symlinks are recorded as symlinks; anything that is not a file, directory or symlink is refused.

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::blob::{BlobStore, Staging};
use crate::error::{Error, IoContext, Result};
use crate::ingest::{IngestLimits, IngestReport};
use crate::manifest::{Entry, Manifest};
use crate::member_path::{self, CollisionCheck};

/// Bytes of file content held in memory before a batch is hashed and staged in parallel.
const BATCH_BYTES: usize = 64 << 20;

pub(crate) struct TreeBuilder<'s> {
    store: &'s BlobStore,
    staging: Staging<'s>,
    archive: String,
    limits: IngestLimits,
    manifest: Manifest,
    collisions: CollisionCheck,
    batch: Vec<(String, Vec<u8>, bool)>,
    batch_bytes: usize,
    total_bytes: u64,
}

impl<'s> TreeBuilder<'s> {
    pub fn new(store: &'s BlobStore, archive: String, limits: IngestLimits) -> Result<Self> {
        Ok(TreeBuilder {
            store,
            staging: store.staging()?,
            archive,
            limits,
            manifest: Manifest::new(),
            collisions: CollisionCheck::default(),
            batch: Vec::new(),
            batch_bytes: 0,
            total_bytes: 0,
        })
    }

    pub fn unsafe_member(&self, member: &str, reason: &str) -> Error {
        Error::UnsafeMember {
            archive: self.archive.clone(),
            member: member.to_string(),
            reason: reason.to_string(),
        }
    }

    fn limit(&self, reason: String) -> Error {
        Error::Limit {
            archive: self.archive.clone(),
            reason,
        }
    }

    fn claim(&mut self, path: &str, size: u64) -> Result<()> {
        member_path::check(path).map_err(|r| self.unsafe_member(path, r))?;
        if let Err((reason, _)) = self.collisions.add(path) {
            return Err(self.unsafe_member(path, reason));
        }
        if self.manifest.entries.len() as u64 + self.batch.len() as u64 >= self.limits.max_files {
            return Err(self.limit(format!("more than {} members", self.limits.max_files)));
        }
        if size > self.limits.max_file_size {
            return Err(self.limit(format!(
                "member '{path}' is {size} bytes (limit {})",
                self.limits.max_file_size
            )));
        }
        self.total_bytes += size;
        if self.total_bytes > self.limits.max_total_size {
            return Err(self.limit(format!(
                "more than {} bytes uncompressed",
                self.limits.max_total_size
            )));
        }
        Ok(())
    }

    pub fn add_file(&mut self, path: &str, data: Vec<u8>, executable: bool) -> Result<()> {
        self.claim(path, data.len() as u64)?;
        self.batch_bytes += data.len();
        self.batch.push((path.to_string(), data, executable));
        if self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub fn add_dir(&mut self, path: &str) -> Result<()> {
        self.claim(path, 0)?;
        self.manifest.entries.insert(path.to_string(), Entry::Dir);
        Ok(())
    }

    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.claim(path, 0)?;
        member_path::check_symlink(path, target)
            .map_err(|r| self.unsafe_member(path, &format!("{r} (-> '{target}')")))?;
        self.manifest.entries.insert(
            path.to_string(),
            Entry::Symlink {
                target: target.to_string(),
            },
        );
        Ok(())
    }

    /// A tar hard link: the same content as an earlier member.
    pub fn add_hardlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.flush()?;
        let entry = match self.manifest.entries.get(target) {
            Some(e @ Entry::File { .. }) => e.clone(),
            _ => {
                return Err(self.unsafe_member(
                    path,
                    &format!("hard link to '{target}', which is not an earlier file"),
                ))
            }
        };
        self.claim(path, 0)?;
        self.manifest.entries.insert(path.to_string(), entry);
        Ok(())
    }

    /// Files read elsewhere in parallel (directory ingestion): read, hash and stage them.
    pub fn add_files_from_disk(&mut self, files: Vec<(String, PathBuf, bool)>) -> Result<()> {
        for (rel, abs, _) in &files {
            let size = fs::symlink_metadata(abs).ctx("stat", abs)?.len();
            self.claim(rel, size)?;
        }
        let staging = &self.staging;
        let staged: Vec<Result<(String, Entry)>> = files
            .into_par_iter()
            .map(|(rel, abs, executable)| {
                let data = fs::read(&abs).ctx("read", &abs)?;
                stage_entry(staging, rel, &data, executable)
            })
            .collect();
        for item in staged {
            let (rel, entry) = item?;
            self.manifest.entries.insert(rel, entry);
        }
        Ok(())
    }

    /// The tree so far; call `flush` first for files added since the last batch.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn flush(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let staging = &self.staging;
        let staged: Vec<Result<(String, Entry)>> = batch
            .into_par_iter()
            .map(|(path, data, executable)| stage_entry(staging, path, &data, executable))
            .collect();
        for item in staged {
            let (path, entry) = item?;
            self.manifest.entries.insert(path, entry);
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<IngestReport> {
        self.flush()?;
        let store = self.store;
        let manifest = std::mem::take(&mut self.manifest);
        let publish = self.staging.publish()?;
        let manifest_id = store.put_manifest(&manifest)?;
        Ok(IngestReport {
            manifest_id,
            files: manifest.blobs().count() as u64,
            bytes: manifest.file_bytes(),
            manifest,
            new_blobs: publish.new_blobs,
            new_bytes: publish.new_bytes,
        })
    }
}

fn stage_entry(
    staging: &Staging<'_>,
    path: String,
    data: &[u8],
    executable: bool,
) -> Result<(String, Entry)> {
    let key = staging.stage_bytes(data, executable)?;
    let entry = Entry::File {
        hash: key.hash,
        size: data.len() as u64,
        executable,
    };
    Ok((path, entry))
}

/// Ingest the tree under `root`, skipping the relative paths in `exclude` (and everything below them).
pub fn ingest_dir(
    store: &BlobStore,
    root: &Path,
    exclude: &[String],
    limits: &IngestLimits,
) -> Result<IngestReport> {
    let meta = fs::metadata(root).ctx("stat", root)?;
    if !meta.is_dir() {
        return Err(Error::io(
            "ingest directory",
            root,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    let mut builder = TreeBuilder::new(store, root.display().to_string(), *limits)?;
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let mut children: Vec<_> = fs::read_dir(&dir)
            .ctx("list", &dir)?
            .collect::<std::io::Result<_>>()
            .ctx("list", &dir)?;
        children.sort_by_key(|e| e.file_name());
        if children.is_empty() && !rel_dir.is_empty() {
            builder.add_dir(&rel_dir)?;
        }
        for child in children {
            let name = child.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| builder.unsafe_member(&name.to_string_lossy(), "non-UTF-8 name"))?;
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            if exclude.iter().any(|x| x == &rel) {
                continue;
            }
            let path = child.path();
            let ft = child.file_type().ctx("stat", &path)?;
            if ft.is_symlink() {
                let target = fs::read_link(&path).ctx("read link", &path)?;
                let target = target
                    .to_str()
                    .ok_or_else(|| builder.unsafe_member(&rel, "non-UTF-8 symlink target"))?;
                builder.add_symlink(&rel, target)?;
            } else if ft.is_dir() {
                stack.push((path, rel));
            } else if ft.is_file() {
                let mode = fs::symlink_metadata(&path)
                    .ctx("stat", &path)?
                    .permissions()
                    .mode();
                files.push((rel, path, mode & 0o111 != 0));
            } else {
                let kind = if ft.is_fifo() {
                    "FIFO"
                } else if ft.is_socket() {
                    "socket"
                } else {
                    "device"
                };
                return Err(builder.unsafe_member(&rel, &format!("unsupported file type ({kind})")));
            }
        }
    }
    builder.add_files_from_disk(files)?;
    builder.finish()
}
