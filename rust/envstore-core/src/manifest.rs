//! A manifest is the tree of one ingested artifact: relative path -> file blob, symlink or
//! directory. It has one canonical JSON form (sorted keys, no whitespace); its id is the BLAKE3
//! of that form, and it is stored at `manifests-v1/<id>.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::blob::{BlobKey, BlobStore, Durability, MANIFESTS_DIR};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::hash::ContentHash;
use crate::member_path;

pub const MANIFEST_VERSION: u32 = 1;

pub type ManifestId = ContentHash;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Entry {
    File {
        hash: ContentHash,
        size: u64,
        executable: bool,
    },
    Symlink {
        target: String,
    },
    Dir,
}

impl Entry {
    pub fn blob(&self) -> Option<BlobKey> {
        match self {
            Entry::File {
                hash, executable, ..
            } => Some(BlobKey {
                hash: *hash,
                executable: *executable,
            }),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub entries: BTreeMap<String, Entry>,
}

impl Manifest {
    pub fn new() -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            entries: BTreeMap::new(),
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising a BTreeMap of plain data cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn id(&self) -> ManifestId {
        ContentHash::of_bytes(self.to_json().as_bytes())
    }

    /// Parse and validate: known version, safe relative paths only.
    pub fn from_json(id: &str, text: &str) -> Result<Self> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| Error::Manifest {
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        if m.version != MANIFEST_VERSION {
            return Err(Error::Manifest {
                id: id.to_string(),
                reason: format!("unsupported manifest version {}", m.version),
            });
        }
        for (path, entry) in &m.entries {
            let bad = |reason: String| Error::Manifest {
                id: id.to_string(),
                reason,
            };
            member_path::check(path).map_err(|r| bad(format!("{r} '{path}'")))?;
            // Symlink targets are not confined here: ingestion already confines archive links,
            // and envstore's own layouts link to interpreters elsewhere in the store. Containment
            // still holds because materialize never writes through a symlink (an entry below a
            // non-directory entry is a conflict).
            if let Entry::Symlink { target } = entry {
                if target.is_empty() || target.chars().any(|c| c.is_control()) {
                    return Err(bad(format!("bad symlink target for '{path}'")));
                }
            }
        }
        Ok(m)
    }

    pub fn blobs(&self) -> impl Iterator<Item = BlobKey> + '_ {
        self.entries.values().filter_map(Entry::blob)
    }

    /// Total bytes of the files in this tree (apparent size).
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e {
                Entry::File { size, .. } => *size,
                _ => 0,
            })
            .sum()
    }
}

fn manifest_path(store: &BlobStore, id: &ManifestId) -> PathBuf {
    store.root().join(MANIFESTS_DIR).join(format!("{id}.json"))
}

impl BlobStore {
    /// Write a manifest (atomically, durably) and return its id. Writing one that exists is a no-op.
    pub fn put_manifest(&self, manifest: &Manifest) -> Result<ManifestId> {
        let json = manifest.to_json();
        let id = ContentHash::of_bytes(json.as_bytes());
        let dest = manifest_path(self, &id);
        if dest.is_file() {
            return Ok(id);
        }
        let fsync = self.durability() == Durability::Fsync;
        fsutil::write_atomic(&self.tmp_dir(), &dest, json.as_bytes(), 0o444, fsync)?;
        Ok(id)
    }

    /// Store a manifest built elsewhere (Python assembles install layouts). It is validated
    /// like any stored manifest, and every blob it names must already be in the store.
    pub fn put_manifest_json(&self, text: &str) -> Result<ManifestId> {
        let manifest = Manifest::from_json("(new)", text)?;
        for (path, entry) in &manifest.entries {
            if let (Some(key), Entry::File { size, .. }) = (entry.blob(), entry) {
                if !self.has_blob(&key, *size) {
                    return Err(crate::blob::missing_blob(&key, path));
                }
            }
        }
        self.put_manifest(&manifest)
    }

    /// Whether every blob a stored manifest names passes the cheap check (regular file, size,
    /// read-only mode). Parallel: a large wheel names thousands of blobs.
    pub fn manifest_blobs_present(&self, id: &str) -> Result<bool> {
        use rayon::prelude::*;
        let manifest = self.get_manifest(id)?;
        let files: Vec<(BlobKey, u64)> = manifest
            .entries
            .values()
            .filter_map(|e| match e {
                Entry::File { size, .. } => e.blob().map(|k| (k, *size)),
                _ => None,
            })
            .collect();
        Ok(files
            .par_iter()
            .all(|(key, size)| self.has_blob(key, *size)))
    }

    pub fn get_manifest(&self, id: &str) -> Result<Manifest> {
        let parsed = ContentHash::from_hex(id)?;
        let path = manifest_path(self, &parsed);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Manifest {
                    id: id.to_string(),
                    reason: "not in the store".into(),
                })
            }
            Err(e) => return Err(Error::io("read manifest", path, e)),
        };
        if ContentHash::of_bytes(text.as_bytes()) != parsed {
            return Err(Error::Manifest {
                id: id.to_string(),
                reason: "content does not match its id (corrupted)".into(),
            });
        }
        Manifest::from_json(id, &text)
    }

    /// Ids of every manifest in the store.
    pub fn list_manifests(&self) -> Result<Vec<(PathBuf, Option<ManifestId>)>> {
        let dir = self.root().join(MANIFESTS_DIR);
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).ctx("list", &dir)? {
            let entry = entry.ctx("list", &dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name
                .strip_suffix(".json")
                .and_then(|h| ContentHash::from_hex(h).ok());
            out.push((entry.path(), id));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_stable_and_round_trips() {
        let mut m = Manifest::new();
        m.entries.insert(
            "b/x.py".into(),
            Entry::File {
                hash: ContentHash::of_bytes(b"x"),
                size: 1,
                executable: false,
            },
        );
        m.entries.insert(
            "a".into(),
            Entry::Symlink {
                target: "b/x.py".into(),
            },
        );
        m.entries.insert("empty".into(), Entry::Dir);
        let json = m.to_json();
        assert!(json.starts_with(r#"{"version":1,"entries":{"a":{"type":"symlink""#));
        let back = Manifest::from_json("t", &json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.id(), m.id());
    }

    #[test]
    fn rejects_unsafe_paths_and_versions() {
        let bad_path = r#"{"version":1,"entries":{"../x":{"type":"dir"}}}"#;
        assert!(Manifest::from_json("t", bad_path).is_err());
        let bad_link = r#"{"version":1,"entries":{"x":{"type":"symlink","target":""}}}"#;
        assert!(Manifest::from_json("t", bad_link).is_err());
        let through_link = r#"{"version":1,"entries":{"x":{"type":"symlink","target":"/etc"},"x/passwd":{"type":"dir"}}}"#;
        let m = Manifest::from_json("t", through_link).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path().join("s"), Durability::None).unwrap();
        let err = crate::materialize(
            &s,
            &[("t".into(), m)],
            &dir.path().join("out"),
            crate::link::LinkStrategy::Auto,
        );
        assert!(
            matches!(err, Err(Error::Conflict { .. })),
            "never writes through a symlink"
        );
        let bad_version = r#"{"version":9,"entries":{}}"#;
        assert!(Manifest::from_json("t", bad_version).is_err());
    }

    #[test]
    fn store_round_trip_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path(), Durability::None).unwrap();
        let mut m = Manifest::new();
        m.entries.insert("d".into(), Entry::Dir);
        let id = s.put_manifest(&m).unwrap();
        assert_eq!(s.get_manifest(&id.to_hex()).unwrap(), m);
        let p = manifest_path(&s, &id);
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, r#"{"version":1,"entries":{}}"#).unwrap();
        assert!(s.get_manifest(&id.to_hex()).is_err());
    }
}
