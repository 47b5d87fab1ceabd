//! A strict ZIP reader for wheels. Wheels are untrusted and ZIP parsers disagree at the edges,
//! so this reader accepts only archives that every parser reads the same way: the end record
//! exactly at the end of the file, no comment that hides ZIP structures, local headers that
//! agree with the central directory, members packed back to back with nothing hidden between
//! them, stored or deflated data only, and a CRC-checked, size-checked extraction.
//! It reads from a byte slice (the memory-mapped wheel) and never touches the filesystem.

use std::io::Read;

use crate::error::{Error, Result};

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_EOCD64: u32 = 0x0606_4b50;
const SIG_EOCD64_LOCATOR: u32 = 0x0706_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
const FLAG_UTF8: u16 = 1 << 11;
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;

#[derive(Clone, Debug)]
pub struct ZipEntry {
    pub name: String,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    pub local_offset: u64,
    pub data_offset: u64,
    /// `st_mode` from the external attributes when the archive was made on Unix.
    pub unix_mode: Option<u32>,
}

impl ZipEntry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

pub struct ZipIndex<'a> {
    data: &'a [u8],
    archive: String,
    pub entries: Vec<ZipEntry>,
}

struct Reader<'a> {
    data: &'a [u8],
    archive: &'a str,
}

impl Reader<'_> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::BadArchive {
            archive: self.archive.to_string(),
            reason: reason.into(),
        }
    }

    fn bytes(&self, off: u64, len: u64) -> Result<&[u8]> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| self.bad("offset overflow"))?;
        if end > self.data.len() as u64 {
            return Err(self.bad("truncated archive"));
        }
        Ok(&self.data[off as usize..end as usize])
    }

    fn u16(&self, off: u64) -> Result<u16> {
        let b = self.bytes(off, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, off: u64) -> Result<u32> {
        let b = self.bytes(off, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, off: u64) -> Result<u64> {
        let b = self.bytes(off, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Values a ZIP64 extra field replaces, in the order the format defines.
fn zip64_extra(
    r: &Reader<'_>,
    extra: &[u8],
    size: &mut u64,
    csize: &mut u64,
    offset: Option<&mut u64>,
) -> Result<()> {
    let mut pos = 0usize;
    while pos + 4 <= extra.len() {
        let id = u16::from_le_bytes([extra[pos], extra[pos + 1]]);
        let len = u16::from_le_bytes([extra[pos + 2], extra[pos + 3]]) as usize;
        let body = extra
            .get(pos + 4..pos + 4 + len)
            .ok_or_else(|| r.bad("truncated extra field"))?;
        if id == 1 {
            let mut fields = body.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            });
            let mut take = |v: &mut u64| -> Result<()> {
                if *v == 0xFFFF_FFFF {
                    *v = fields
                        .next()
                        .ok_or_else(|| r.bad("short ZIP64 extra field"))?;
                }
                Ok(())
            };
            take(size)?;
            take(csize)?;
            if let Some(o) = offset {
                take(o)?;
            }
            return Ok(());
        }
        pos += 4 + len;
    }
    Ok(())
}

/// Info-ZIP's Unicode Path field (0x7075) gives some readers a second name for a member; accept
/// it only when it names the member exactly as the header does, so every reader agrees.
fn unicode_path_agrees(extra: &[u8], raw_name: &[u8]) -> bool {
    let mut pos = 0usize;
    while pos + 4 <= extra.len() {
        let id = u16::from_le_bytes([extra[pos], extra[pos + 1]]);
        let len = u16::from_le_bytes([extra[pos + 2], extra[pos + 3]]) as usize;
        let Some(body) = extra.get(pos + 4..pos + 4 + len) else {
            return false;
        };
        if id == 0x7075 && body.get(5..) != Some(raw_name) {
            return false;
        }
        pos += 4 + len;
    }
    true
}

fn comment_hides_zip(comment: &[u8]) -> bool {
    comment
        .windows(4)
        .any(|w| w[0] == b'P' && w[1] == b'K' && (1..=8).contains(&w[2]) && (1..=8).contains(&w[3]))
}

impl<'a> ZipIndex<'a> {
    /// Parse and cross-check every header. `max_entries` bounds the work done on a hostile file.
    pub fn open(data: &'a [u8], archive: &str, max_entries: u64) -> Result<Self> {
        let r = Reader { data, archive };
        let len = data.len() as u64;
        if len < 22 {
            return Err(r.bad("not a ZIP archive (too short)"));
        }
        let lowest = len.saturating_sub(22 + 0xFFFF);
        let mut eocd = None;
        let mut pos = len - 22;
        loop {
            if r.u32(pos)? == SIG_EOCD {
                eocd = Some(pos);
                break;
            }
            if pos == lowest {
                break;
            }
            pos -= 1;
        }
        let eocd = eocd.ok_or_else(|| r.bad("not a ZIP archive (no end of central directory)"))?;
        let comment_len = r.u16(eocd + 20)? as u64;
        if eocd + 22 + comment_len != len {
            return Err(r.bad("trailing data after the end of central directory"));
        }
        if comment_hides_zip(r.bytes(eocd + 22, comment_len)?) {
            return Err(r.bad("archive comment contains ZIP structures"));
        }
        if r.u16(eocd + 4)? != 0 || r.u16(eocd + 6)? != 0 {
            return Err(r.bad("multi-disk archives are not supported"));
        }
        let mut total = r.u16(eocd + 10)? as u64;
        let mut cd_size = r.u32(eocd + 12)? as u64;
        let mut cd_offset = r.u32(eocd + 16)? as u64;
        let mut cd_end = eocd;
        if eocd >= 20 && r.u32(eocd - 20)? == SIG_EOCD64_LOCATOR {
            let rec = r.u64(eocd - 20 + 8)?;
            if r.u32(rec)? != SIG_EOCD64 {
                return Err(r.bad("bad ZIP64 end of central directory"));
            }
            if rec + 12 + r.u64(rec + 4)? != eocd - 20 {
                return Err(r.bad("unexpected data after the ZIP64 end record"));
            }
            total = r.u64(rec + 32)?;
            cd_size = r.u64(rec + 40)?;
            cd_offset = r.u64(rec + 48)?;
            cd_end = rec;
        }
        if cd_offset.checked_add(cd_size) != Some(cd_end) {
            return Err(r.bad("central directory does not end where the end record begins"));
        }
        if total > max_entries {
            return Err(Error::Limit {
                archive: archive.to_string(),
                reason: format!("{total} members (limit {max_entries})"),
            });
        }

        let mut entries = Vec::with_capacity(total as usize);
        let mut pos = cd_offset;
        let mut descriptor_len = Vec::with_capacity(total as usize);
        while pos < cd_end {
            if r.u32(pos)? != SIG_CENTRAL {
                return Err(r.bad("bad central directory entry"));
            }
            let made_by = r.u16(pos + 4)?;
            let flags = r.u16(pos + 8)?;
            let method = r.u16(pos + 10)?;
            let crc32 = r.u32(pos + 16)?;
            let mut csize = r.u32(pos + 20)? as u64;
            let mut size = r.u32(pos + 24)? as u64;
            let nlen = r.u16(pos + 28)? as u64;
            let elen = r.u16(pos + 30)? as u64;
            let clen = r.u16(pos + 32)? as u64;
            let ext_attr = r.u32(pos + 38)?;
            let mut local_offset = r.u32(pos + 42)? as u64;
            let raw_name = r.bytes(pos + 46, nlen)?;
            let extra = r.bytes(pos + 46 + nlen, elen)?;
            zip64_extra(&r, extra, &mut size, &mut csize, Some(&mut local_offset))?;
            let name = match std::str::from_utf8(raw_name) {
                Ok(n) if flags & FLAG_UTF8 != 0 || n.is_ascii() => n.to_string(),
                _ => {
                    return Err(Error::UnsafeMember {
                        archive: archive.to_string(),
                        member: String::from_utf8_lossy(raw_name).into_owned(),
                        reason: "non-UTF-8 member name".into(),
                    })
                }
            };
            let member_err = |reason: String| Error::BadArchive {
                archive: archive.to_string(),
                reason: format!("{reason} in member '{name}'"),
            };
            if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
                return Err(member_err("encryption".into()));
            }
            if !unicode_path_agrees(extra, raw_name) {
                return Err(member_err("Unicode path field names another file".into()));
            }
            if method != METHOD_STORED && method != METHOD_DEFLATED {
                return Err(member_err(format!(
                    "unsupported compression method {method}"
                )));
            }
            if method == METHOD_STORED && csize != size {
                return Err(member_err("stored size mismatch".into()));
            }

            // The local header must tell the same story as the central directory.
            if r.u32(local_offset)? != SIG_LOCAL {
                return Err(member_err("missing local header".into()));
            }
            let l_flags = r.u16(local_offset + 6)?;
            let l_method = r.u16(local_offset + 8)?;
            let l_crc = r.u32(local_offset + 14)?;
            let mut l_csize = r.u32(local_offset + 18)? as u64;
            let mut l_size = r.u32(local_offset + 22)? as u64;
            let l_nlen = r.u16(local_offset + 26)? as u64;
            let l_elen = r.u16(local_offset + 28)? as u64;
            if r.bytes(local_offset + 30, l_nlen)? != raw_name {
                return Err(member_err(
                    "local header name differs from the central directory".into(),
                ));
            }
            if l_method != method || (l_flags & FLAG_DESCRIPTOR) != (flags & FLAG_DESCRIPTOR) {
                return Err(member_err(
                    "local header differs from the central directory".into(),
                ));
            }
            let l_extra = r.bytes(local_offset + 30 + l_nlen, l_elen)?;
            if !unicode_path_agrees(l_extra, raw_name) {
                return Err(member_err("Unicode path field names another file".into()));
            }
            zip64_extra(&r, l_extra, &mut l_size, &mut l_csize, None)?;
            let is64 = size >= 0xFFFF_FFFF
                || csize >= 0xFFFF_FFFF
                || l_csize != r.u32(local_offset + 18)? as u64;
            if flags & FLAG_DESCRIPTOR == 0 {
                if l_crc != crc32 {
                    return Err(member_err(
                        "local header CRC differs from the central directory".into(),
                    ));
                }
                if l_csize != csize || l_size != size {
                    return Err(member_err(
                        "local header size differs from the central directory".into(),
                    ));
                }
            }
            let data_offset = local_offset + 30 + l_nlen + l_elen;
            let data_end = data_offset
                .checked_add(csize)
                .ok_or_else(|| member_err("size overflow".into()))?;
            if data_end > cd_offset {
                return Err(member_err("data runs into the central directory".into()));
            }
            let mut dlen = 0;
            if flags & FLAG_DESCRIPTOR != 0 {
                let mut at = data_end;
                if r.u32(at)? == SIG_DESCRIPTOR {
                    at += 4;
                }
                let d_crc = r.u32(at)?;
                let (d_csize, d_size, body) = if is64 {
                    (r.u64(at + 4)?, r.u64(at + 12)?, 20)
                } else {
                    (r.u32(at + 4)? as u64, r.u32(at + 8)? as u64, 12)
                };
                if d_crc != crc32 || d_csize != csize || d_size != size {
                    return Err(member_err(
                        "data descriptor differs from the central directory".into(),
                    ));
                }
                dlen = at + body - data_end;
            }
            let unix_mode = match made_by >> 8 {
                3 | 19 => Some(ext_attr >> 16),
                _ => None,
            };
            entries.push(ZipEntry {
                name,
                method,
                crc32,
                compressed_size: csize,
                size,
                local_offset,
                data_offset,
                unix_mode,
            });
            descriptor_len.push(dlen);
            pos += 46 + nlen + elen + clen;
        }
        if pos != cd_end || entries.len() as u64 != total {
            return Err(r.bad("central directory entry count does not match the end record"));
        }

        // Members must tile the file from offset 0 to the central directory: any gap could
        // hide a member that another parser would see, any overlap is a ZIP bomb trick.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| entries[i].local_offset);
        let mut expected = 0u64;
        for &i in &order {
            let e = &entries[i];
            if e.local_offset != expected {
                let what = if e.local_offset > expected {
                    "unexpected data before"
                } else {
                    "overlapping data at"
                };
                return Err(r.bad(format!("{what} member '{}'", e.name)));
            }
            expected = e.data_offset + e.compressed_size + descriptor_len[i];
        }
        if expected != cd_offset {
            return Err(r.bad("unexpected data between the last member and the central directory"));
        }
        Ok(ZipIndex {
            data,
            archive: archive.to_string(),
            entries,
        })
    }

    /// Decompress one member, checking its size and CRC-32. Never returns more than `size` bytes.
    pub fn extract(&self, e: &ZipEntry) -> Result<Vec<u8>> {
        let bad = |reason: &str| Error::BadArchive {
            archive: self.archive.clone(),
            reason: format!("{reason} in member '{}'", e.name),
        };
        let start = e.data_offset as usize;
        let raw = &self.data[start..start + e.compressed_size as usize];
        let out = match e.method {
            METHOD_STORED => raw.to_vec(),
            _ => {
                let mut out = Vec::with_capacity(e.size.min(1 << 30) as usize);
                flate2::read::DeflateDecoder::new(raw)
                    .take(e.size + 1)
                    .read_to_end(&mut out)
                    .map_err(|_| bad("corrupt compressed data"))?;
                out
            }
        };
        if out.len() as u64 != e.size {
            return Err(bad("uncompressed size differs from the header"));
        }
        if crc32fast::hash(&out) != e.crc32 {
            return Err(bad("bad CRC-32"));
        }
        Ok(out)
    }
}
