//! The content hash: BLAKE3-256, written as 64 lowercase hex digits wherever it names a thing.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, IoContext, Result};

/// Above this size hashing is split across threads; below it the thread hand-off costs more
/// than it saves (BLAKE3's own guidance is around 128 KiB).
const PARALLEL_THRESHOLD: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn of_bytes(data: &[u8]) -> Self {
        if data.len() >= PARALLEL_THRESHOLD {
            let mut hasher = blake3::Hasher::new();
            hasher.update_rayon(data);
            ContentHash(*hasher.finalize().as_bytes())
        } else {
            ContentHash(*blake3::hash(data).as_bytes())
        }
    }

    /// Hash a file's content; large files are memory-mapped and hashed on all cores.
    pub fn of_file(path: &Path) -> Result<Self> {
        let mut file = File::open(path).ctx("open", path)?;
        let len = file.metadata().ctx("stat", path)?.len();
        let mut hasher = blake3::Hasher::new();
        if len as usize >= PARALLEL_THRESHOLD {
            hasher.update_mmap_rayon(path).ctx("read", path)?;
        } else {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf).ctx("read", path)?;
            hasher.update(&buf);
        }
        Ok(ContentHash(*hasher.finalize().as_bytes()))
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }

    pub fn from_hex(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(Error::BadHash(s.to_string()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(|| Error::BadHash(s.to_string()))?;
            let lo = hex_val(pair[1]).ok_or_else(|| Error::BadHash(s.to_string()))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(ContentHash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ContentHash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_known_value() {
        let h = ContentHash::of_bytes(b"");
        assert_eq!(
            h.to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(ContentHash::from_hex(&h.to_hex()).unwrap(), h);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!(ContentHash::from_hex("zz").is_err());
        assert!(ContentHash::from_hex(&"A".repeat(64)).is_err());
    }

    #[test]
    fn parallel_and_serial_paths_agree() {
        let data: Vec<u8> = (0..3 * PARALLEL_THRESHOLD)
            .map(|i| (i % 251) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, &data).unwrap();
        let expected = ContentHash(*blake3::hash(&data).as_bytes());
        assert_eq!(ContentHash::of_bytes(&data), expected);
        assert_eq!(ContentHash::of_file(&p).unwrap(), expected);
    }
}
