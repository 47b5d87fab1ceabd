//! Ingest a tar archive (plain, gzip or zstd; detected from its first bytes), as interpreter
//! releases ship. Members stream in order, so content is batched and staged in parallel.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::blob::BlobStore;
use crate::error::{Error, IoContext, Result};
use crate::ingest::{IngestLimits, IngestReport};
use crate::tree::TreeBuilder;

fn open_decompressed(path: &Path) -> Result<Box<dyn Read>> {
    let mut file = BufReader::new(File::open(path).ctx("open", path)?);
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).ctx("read", path)?;
    let head = std::io::Cursor::new(magic[..n].to_vec()).chain(file);
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(head)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            Box::new(zstd::stream::read::Decoder::new(head).ctx("read zstd", path)?)
        }
        _ => Box::new(head),
    })
}

/// Why a tar member of this type is refused: "unsupported file type (FIFO)".
pub(crate) fn unsupported(kind: tar::EntryType) -> String {
    let what = match kind {
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::Char | tar::EntryType::Block => "device",
        _ => "unknown",
    };
    format!("unsupported file type ({what})")
}

fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    builder: &TreeBuilder<'_>,
    member: &str,
) -> Result<String> {
    let t = entry
        .link_name_bytes()
        .ok_or_else(|| builder.unsafe_member(member, "link without a target"))?;
    String::from_utf8(t.into_owned())
        .map_err(|_| builder.unsafe_member(member, "non-UTF-8 link target"))
}

pub fn ingest_tar(store: &BlobStore, path: &Path, limits: &IngestLimits) -> Result<IngestReport> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bad = |reason: String| Error::BadArchive {
        archive: name.clone(),
        reason,
    };
    let mut archive = tar::Archive::new(open_decompressed(path)?);
    let mut builder = TreeBuilder::new(store, name.clone(), *limits)?;
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let member = String::from_utf8(raw).map_err(|e| {
            builder.unsafe_member(&String::from_utf8_lossy(e.as_bytes()), "non-UTF-8 name")
        })?;
        let member = member.strip_prefix("./").unwrap_or(&member);
        let member = member.strip_suffix('/').unwrap_or(member).to_string();
        if member.is_empty() || member == "." {
            continue;
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mode = entry.header().mode().map_err(|e| bad(e.to_string()))?;
                let size = entry.size();
                if size > limits.max_file_size {
                    return Err(Error::Limit {
                        archive: name.clone(),
                        reason: format!(
                            "member '{member}' is {size} bytes (limit {})",
                            limits.max_file_size
                        ),
                    });
                }
                let mut data = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| bad(format!("reading member '{member}': {e}")))?;
                builder.add_file(&member, data, mode & 0o111 != 0)?;
            }
            tar::EntryType::Directory => builder.add_dir(&member)?,
            tar::EntryType::Symlink => {
                let target = link_target(&entry, &builder, &member)?;
                builder.add_symlink(&member, &target)?;
            }
            tar::EntryType::Link => {
                let target = link_target(&entry, &builder, &member)?;
                let target = target.strip_prefix("./").unwrap_or(&target).to_string();
                builder.add_hardlink(&member, &target)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(builder.unsafe_member(&member, &unsupported(other)));
            }
        }
    }
    builder.finish()
}
