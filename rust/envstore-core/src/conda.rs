//! Conda package ingestion: `.conda` (a ZIP holding `metadata.json`, `info-*.tar.zst` and
//! `pkg-*.tar.zst`) and `.tar.bz2`. The package's payload becomes blobs and a manifest, like a
//! wheel's; `info/` stays out of the manifest and is handed back parsed. Every payload member is
//! checked against `info/paths.json` (type, sha256, size) and every `paths.json` entry must be in
//! the payload. Decompression is bounded while it runs (size, member count, ratio), so a bomb is
//! refused before it is held, and nothing is published unless the whole package passes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::blob::BlobStore;
use crate::error::{Error, IoContext, Result};
use crate::ingest::{IngestLimits, IngestReport, RATIO_EXEMPT_SIZE};
use crate::manifest::Entry;
use crate::member_path;
use crate::tarball::unsupported;
use crate::tree::TreeBuilder;
use crate::zipread::ZipIndex;

/// The `info/` files handed back to the caller (the others are read, counted and dropped).
const KEPT_INFO: [&str; 4] = [
    "info/index.json",
    "info/paths.json",
    "info/link.json",
    "info/repodata_record.json",
];
/// Bytes a tar stream may carry beyond its members' content (headers, padding), per member.
const TAR_OVERHEAD_PER_MEMBER: u64 = 1536;

/// A file whose bytes name the build prefix and are rewritten for each destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    pub path: String,
    pub placeholder: String,
    /// `binary` files are rewritten in place and padded; `text` ones by plain replacement.
    pub binary: bool,
}

/// What a conda package says about itself, read from its `info/`.
#[derive(Clone, Debug)]
pub struct CondaInfo {
    pub name: String,
    pub version: String,
    pub build: String,
    pub subdir: String,
    /// `python`, `generic`, or empty for an arch-specific package.
    pub noarch: String,
    pub placeholders: Vec<Placeholder>,
    /// Payload files that must be copied, never linked (`no_link` in paths.json).
    pub no_link: Vec<String>,
    /// The raw text of the kept info files (`info/index.json`, `info/paths.json`, ...).
    pub files: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct CondaIngest {
    pub report: IngestReport,
    pub info: CondaInfo,
}

#[derive(Deserialize)]
struct PathsJson {
    paths_version: u64,
    paths: Vec<PathsEntry>,
}

#[derive(Deserialize)]
struct PathsEntry {
    #[serde(rename = "_path")]
    path: String,
    #[serde(default = "hardlink")]
    path_type: String,
    sha256: Option<String>,
    size_in_bytes: Option<u64>,
    prefix_placeholder: Option<String>,
    file_mode: Option<String>,
    #[serde(default)]
    no_link: bool,
}

fn hardlink() -> String {
    "hardlink".to_string()
}

/// Which part of the package a tar stream carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Info,
    Pkg,
    /// `.tar.bz2`: both, told apart by the `info/` prefix.
    Both,
}

/// A reader that fails once it has produced more than `cap` bytes or, past the exempt size, more
/// than `max_ratio` times what it was fed. The reason is kept so the caller reports a limit, not
/// the tar parser's view of a failed read.
struct Bounded<R> {
    inner: R,
    produced: u64,
    cap: u64,
    compressed: u64,
    max_ratio: u64,
    tripped: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let reason = if self.produced > self.cap {
            Some(format!("more than {} bytes uncompressed", self.cap))
        } else if self.produced > RATIO_EXEMPT_SIZE
            && self.produced / self.compressed.max(1) > self.max_ratio
        {
            Some(format!(
                "decompresses more than {}:1 (limit {}:1)",
                self.produced / self.compressed.max(1),
                self.max_ratio
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            *self.tripped.borrow_mut() = Some(reason.clone());
            return Err(io::Error::other(reason));
        }
        Ok(n)
    }
}

struct Reader<'s> {
    archive: String,
    limits: IngestLimits,
    builder: TreeBuilder<'s>,
    /// sha256 and size of every payload file, by path.
    digests: HashMap<String, ([u8; 32], u64)>,
    info: BTreeMap<String, Vec<u8>>,
    members: u64,
    bytes: u64,
}

impl Reader<'_> {
    fn bad(&self, reason: String) -> Error {
        Error::BadArchive {
            archive: self.archive.clone(),
            reason,
        }
    }

    fn limit(&self, reason: String) -> Error {
        Error::Limit {
            archive: self.archive.clone(),
            reason,
        }
    }

    fn mismatch(&self, member: &str, reason: &str) -> Error {
        Error::PathsJson {
            archive: self.archive.clone(),
            member: member.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Read one tar stream of `part`, `compressed` bytes on disk, through `decoder`.
    fn read_tar<R: Read>(&mut self, decoder: R, compressed: u64, part: Part) -> Result<()> {
        let tripped = Rc::new(RefCell::new(None));
        let cap = self.limits.max_total_size.saturating_add(
            self.limits
                .max_files
                .saturating_add(2)
                .saturating_mul(TAR_OVERHEAD_PER_MEMBER),
        );
        let bounded = Bounded {
            inner: decoder,
            produced: 0,
            cap,
            compressed,
            max_ratio: self.limits.max_ratio,
            tripped: tripped.clone(),
        };
        let mut archive = tar::Archive::new(bounded);
        let result = self.read_entries(&mut archive, part);
        if let Some(reason) = tripped.borrow_mut().take() {
            return Err(self.limit(reason));
        }
        result
    }

    fn read_entries<R: Read>(&mut self, archive: &mut tar::Archive<R>, part: Part) -> Result<()> {
        let entries = archive.entries().map_err(|e| self.bad(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.bad(e.to_string()))?;
            let raw = entry.path_bytes().into_owned();
            let member = match String::from_utf8(raw) {
                Ok(m) => m,
                Err(e) => {
                    let name = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    return Err(self.builder.unsafe_member(&name, "non-UTF-8 name"));
                }
            };
            let member = member.strip_prefix("./").unwrap_or(&member);
            let member = member.strip_suffix('/').unwrap_or(member).to_string();
            if member.is_empty() || member == "." {
                continue;
            }
            member_path::check(&member).map_err(|r| self.builder.unsafe_member(&member, r))?;
            self.members += 1;
            if self.members > self.limits.max_files {
                return Err(self.limit(format!("more than {} members", self.limits.max_files)));
            }
            let is_info = member == "info" || member.starts_with("info/");
            match (part, is_info) {
                (Part::Info, false) => {
                    return Err(self
                        .builder
                        .unsafe_member(&member, "payload file in the info archive"))
                }
                (Part::Pkg, true) => {
                    return Err(self
                        .builder
                        .unsafe_member(&member, "info file in the payload archive"))
                }
                _ => {}
            }
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    if size > self.limits.max_file_size {
                        return Err(self.limit(format!(
                            "member '{member}' is {size} bytes (limit {})",
                            self.limits.max_file_size
                        )));
                    }
                    self.bytes = self.bytes.saturating_add(size);
                    if self.bytes > self.limits.max_total_size {
                        return Err(self.limit(format!(
                            "more than {} bytes uncompressed",
                            self.limits.max_total_size
                        )));
                    }
                    let mode = entry.header().mode().map_err(|e| self.bad(e.to_string()))?;
                    let mut data = Vec::with_capacity(size as usize);
                    entry
                        .read_to_end(&mut data)
                        .map_err(|e| self.bad(format!("reading member '{member}': {e}")))?;
                    if is_info {
                        if KEPT_INFO.contains(&member.as_str()) {
                            self.info.insert(member, data);
                        }
                        continue;
                    }
                    let digest: [u8; 32] = Sha256::digest(&data).into();
                    self.digests
                        .insert(member.clone(), (digest, data.len() as u64));
                    self.builder.add_file(&member, data, mode & 0o111 != 0)?;
                }
                tar::EntryType::Directory => {
                    if !is_info {
                        self.builder.add_dir(&member)?;
                    }
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry.link_name_bytes().ok_or_else(|| {
                        self.builder.unsafe_member(&member, "link without a target")
                    })?;
                    let target = String::from_utf8(target.into_owned()).map_err(|_| {
                        self.builder.unsafe_member(&member, "non-UTF-8 link target")
                    })?;
                    if is_info {
                        return Err(self.builder.unsafe_member(&member, "link in info/"));
                    }
                    if kind == tar::EntryType::Symlink {
                        self.builder.add_symlink(&member, &target)?;
                    } else {
                        let target = target.strip_prefix("./").unwrap_or(&target).to_string();
                        if let Some(d) = self.digests.get(&target).copied() {
                            self.digests.insert(member.clone(), d);
                        }
                        self.builder.add_hardlink(&member, &target)?;
                    }
                }
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
                other => return Err(self.builder.unsafe_member(&member, &unsupported(other))),
            }
        }
        Ok(())
    }

    fn info_text(&self, name: &str) -> Result<Option<String>> {
        match self.info.get(name) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.clone())
                .map(Some)
                .map_err(|_| self.bad(format!("{name} is not UTF-8"))),
        }
    }

    /// Cross-check the payload against `info/paths.json`, then publish.
    fn finish(self) -> Result<CondaIngest> {
        let index_text = self
            .info_text("info/index.json")?
            .ok_or_else(|| self.bad("no info/index.json".into()))?;
        let paths_text = self
            .info_text("info/paths.json")?
            .ok_or_else(|| self.bad("no info/paths.json".into()))?;
        let index: serde_json::Value = serde_json::from_str(&index_text)
            .map_err(|e| self.bad(format!("info/index.json: {e}")))?;
        let field = |k: &str| index.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let (name, version, build) = match (field("name"), field("version"), field("build")) {
            (Some(n), Some(v), Some(b)) => (n, v, b),
            _ => return Err(self.bad("info/index.json lacks one of name, version, build".into())),
        };
        let noarch = match index.get("noarch") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(true)) => "generic".to_string(),
            _ => String::new(),
        };
        let subdir = field("subdir").unwrap_or_default();
        let paths: PathsJson = serde_json::from_str(&paths_text)
            .map_err(|e| self.bad(format!("info/paths.json: {e}")))?;
        if paths.paths_version != 1 {
            return Err(self.bad(format!(
                "info/paths.json has paths_version {} (only 1 is known)",
                paths.paths_version
            )));
        }
        let mut this = self;
        this.builder.flush()?;
        let this = this;
        let manifest = this.builder.manifest();
        let mut listed = HashMap::with_capacity(paths.paths.len());
        let mut placeholders = Vec::new();
        let mut no_link = Vec::new();
        for p in &paths.paths {
            member_path::check(&p.path).map_err(|r| this.mismatch(&p.path, r))?;
            if listed.insert(p.path.as_str(), ()).is_some() {
                return Err(this.mismatch(&p.path, "listed twice"));
            }
            let entry = manifest.entries.get(&p.path);
            match p.path_type.as_str() {
                "hardlink" => {
                    let Some(Entry::File { .. }) = entry else {
                        return Err(
                            this.mismatch(&p.path, "listed as a file but not in the package")
                        );
                    };
                    let (digest, size) = this.digests.get(&p.path).copied().ok_or_else(|| {
                        this.mismatch(&p.path, "listed as a file but not in the package")
                    })?;
                    if let Some(expected) = &p.size_in_bytes {
                        if *expected != size {
                            return Err(this.mismatch(
                                &p.path,
                                &format!("size is {size}, paths.json says {expected}"),
                            ));
                        }
                    }
                    if let Some(expected) = &p.sha256 {
                        let actual = hex(&digest);
                        if !expected.eq_ignore_ascii_case(&actual) {
                            return Err(this.mismatch(
                                &p.path,
                                &format!("sha256 is {actual}, paths.json says {expected}"),
                            ));
                        }
                    }
                    if let Some(placeholder) = &p.prefix_placeholder {
                        if placeholder.is_empty() {
                            return Err(this.mismatch(&p.path, "empty prefix placeholder"));
                        }
                        let binary = match p.file_mode.as_deref() {
                            None | Some("text") => false,
                            Some("binary") => true,
                            Some(other) => {
                                return Err(
                                    this.mismatch(&p.path, &format!("unknown file_mode '{other}'"))
                                )
                            }
                        };
                        placeholders.push(Placeholder {
                            path: p.path.clone(),
                            placeholder: placeholder.clone(),
                            binary,
                        });
                    }
                    if p.no_link {
                        no_link.push(p.path.clone());
                    }
                }
                "softlink" => {
                    if !matches!(entry, Some(Entry::Symlink { .. })) {
                        return Err(this
                            .mismatch(&p.path, "listed as a symlink but not one in the package"));
                    }
                }
                "directory" => {
                    if !matches!(entry, Some(Entry::Dir) | None) {
                        return Err(this.mismatch(&p.path, "listed as a directory but is not one"));
                    }
                }
                other => {
                    return Err(this.mismatch(&p.path, &format!("unknown path_type '{other}'")))
                }
            }
        }
        for (path, entry) in &manifest.entries {
            if matches!(entry, Entry::Dir) {
                continue;
            }
            if !listed.contains_key(path.as_str()) {
                return Err(this.mismatch(path, "in the package but not in info/paths.json"));
            }
        }
        let mut builder = this.builder;
        for p in &paths.paths {
            if p.path_type == "directory" && !manifest_has(&builder, &p.path) {
                builder.add_dir(&p.path)?;
            }
        }
        let mut files = BTreeMap::new();
        for name in KEPT_INFO {
            if let Some(bytes) = this.info.get(name) {
                files.insert(
                    name.to_string(),
                    String::from_utf8_lossy(bytes).into_owned(),
                );
            }
        }
        let report = builder.finish()?;
        Ok(CondaIngest {
            report,
            info: CondaInfo {
                name,
                version,
                build,
                subdir,
                noarch,
                placeholders,
                no_link,
                files,
            },
        })
    }
}

fn manifest_has(builder: &TreeBuilder<'_>, path: &str) -> bool {
    builder.manifest().entries.contains_key(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The archive formats a conda package comes in, from its file name.
fn is_tar_bz2(name: &str) -> bool {
    name.ends_with(".tar.bz2")
}

pub fn ingest_conda(store: &BlobStore, path: &Path, limits: &IngestLimits) -> Result<CondaIngest> {
    let archive = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut reader = Reader {
        archive: archive.clone(),
        limits: *limits,
        builder: TreeBuilder::new(store, archive.clone(), *limits)?,
        digests: HashMap::new(),
        info: BTreeMap::new(),
        members: 0,
        bytes: 0,
    };
    if is_tar_bz2(&archive) {
        let file = File::open(path).ctx("open", path)?;
        let compressed = file.metadata().ctx("stat", path)?.len();
        let decoder = bzip2::read::MultiBzDecoder::new(io::BufReader::new(file));
        reader.read_tar(decoder, compressed, Part::Both)?;
        return reader.finish();
    }
    if !archive.ends_with(".conda") {
        return Err(reader.bad("not a conda package (expected .conda or .tar.bz2)".into()));
    }
    let file = File::open(path).ctx("open", path)?;
    // SAFETY: read-only map; every byte published is hashed after it is read (see wheel.rs).
    let map = unsafe { memmap2::Mmap::map(&file) }.ctx("map", path)?;
    let index = ZipIndex::open(&map, &archive, 16)?;
    let mut info_member = None;
    let mut pkg_member = None;
    for e in &index.entries {
        if e.name == "metadata.json" {
            let text = index.extract(e)?;
            let meta: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|err| reader.bad(format!("metadata.json: {err}")))?;
            let version = meta
                .get("conda_pkg_format_version")
                .and_then(|v| v.as_u64());
            if version != Some(2) {
                return Err(reader.bad(format!(
                    "metadata.json: conda_pkg_format_version {version:?} (only 2 is known)"
                )));
            }
        } else if e.name.starts_with("info-")
            && e.name.ends_with(".tar.zst")
            && info_member.is_none()
        {
            info_member = Some(e);
        } else if e.name.starts_with("pkg-") && e.name.ends_with(".tar.zst") && pkg_member.is_none()
        {
            pkg_member = Some(e);
        } else {
            return Err(Error::UnsafeMember {
                archive: archive.clone(),
                member: e.name.clone(),
                reason: "unexpected member of a .conda archive".into(),
            });
        }
    }
    let (Some(info_member), Some(pkg_member)) = (info_member, pkg_member) else {
        return Err(reader.bad("a .conda archive holds info-*.tar.zst and pkg-*.tar.zst".into()));
    };
    for (member, part) in [(info_member, Part::Info), (pkg_member, Part::Pkg)] {
        let raw = index.extract(member)?;
        let decoder = zstd::stream::read::Decoder::new(raw.as_slice())
            .map_err(|e| reader.bad(format!("{}: {e}", member.name)))?;
        reader.read_tar(decoder, member.compressed_size, part)?;
    }
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Durability;
    use crate::testutil::{member, zip};

    /// One tar member: a file (`Some(data)`), or a symlink to `link`.
    struct T<'a> {
        path: &'a str,
        data: &'a [u8],
        link: Option<&'a str>,
    }

    fn f<'a>(path: &'a str, data: &'a [u8]) -> T<'a> {
        T {
            path,
            data,
            link: None,
        }
    }

    fn l<'a>(path: &'a str, target: &'a str) -> T<'a> {
        T {
            path,
            data: b"",
            link: Some(target),
        }
    }

    fn tar_bytes(members: &[T<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for m in members {
            let mut h = tar::Header::new_gnu();
            match m.link {
                Some(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    // set_link_name refuses some hostile targets; write the raw bytes.
                    let raw = &mut h.as_old_mut().linkname;
                    raw[..target.len()].copy_from_slice(target.as_bytes());
                }
                None => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(m.data.len() as u64);
                    h.set_mode(0o644);
                }
            }
            let raw = &mut h.as_old_mut().name;
            raw[..m.path.len()].copy_from_slice(m.path.as_bytes());
            h.set_cksum();
            b.append(&h, m.data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn paths_json(members: &[T<'_>]) -> String {
        let rows: Vec<String> = members
            .iter()
            .map(|m| match m.link {
                Some(_) => format!(r#"{{"_path":"{}","path_type":"softlink"}}"#, m.path),
                None => format!(
                    r#"{{"_path":"{}","path_type":"hardlink","sha256":"{}","size_in_bytes":{}}}"#,
                    m.path,
                    hex(&Sha256::digest(m.data)),
                    m.data.len()
                ),
            })
            .collect();
        format!(r#"{{"paths_version":1,"paths":[{}]}}"#, rows.join(","))
    }

    const INDEX: &[u8] =
        br#"{"name":"demo","version":"1.0","build":"h0_0","build_number":0,"subdir":"linux-64"}"#;

    fn conda(pkg: &[T<'_>], paths: &str) -> Vec<u8> {
        let info = tar_bytes(&[
            f("info/index.json", INDEX),
            f("info/paths.json", paths.as_bytes()),
        ]);
        let pkg = tar_bytes(pkg);
        zip(&[
            member("metadata.json", br#"{"conda_pkg_format_version": 2}"#),
            member(
                "info-demo-1.0-h0_0.tar.zst",
                &zstd::encode_all(info.as_slice(), 3).unwrap(),
            ),
            member(
                "pkg-demo-1.0-h0_0.tar.zst",
                &zstd::encode_all(pkg.as_slice(), 3).unwrap(),
            ),
        ])
    }

    fn tar_bz2(pkg: &[T<'_>], paths: &str) -> Vec<u8> {
        let mut all = vec![
            f("info/index.json", INDEX),
            f("info/paths.json", paths.as_bytes()),
        ];
        all.extend(pkg.iter().map(|m| T {
            path: m.path,
            data: m.data,
            link: m.link,
        }));
        let raw = tar_bytes(&all);
        let mut out = Vec::new();
        let mut enc = bzip2::read::BzEncoder::new(raw.as_slice(), bzip2::Compression::best());
        enc.read_to_end(&mut out).unwrap();
        out
    }

    fn run(
        bytes: &[u8],
        ext: &str,
        limits: IngestLimits,
    ) -> (Result<CondaIngest>, BlobStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("store"), Durability::None).unwrap();
        let path = dir.path().join(format!("demo-1.0-h0_0{ext}"));
        std::fs::write(&path, bytes).unwrap();
        (ingest_conda(&store, &path, &limits), store, dir)
    }

    fn reject(bytes: &[u8], ext: &str) -> Error {
        let (r, store, _d) = run(bytes, ext, IngestLimits::default());
        let err = r.expect_err("the package should be refused");
        assert!(
            store.list().unwrap().is_empty(),
            "refused package left blobs: {err}"
        );
        assert!(store.list_manifests().unwrap().is_empty());
        err
    }

    fn good_members() -> Vec<T<'static>> {
        vec![
            f("lib/libdemo.so.1.0", b"\x7fELF demo"),
            l("lib/libdemo.so.1", "libdemo.so.1.0"),
            f("bin/tool", b"#!/bin/sh\n"),
        ]
    }

    #[test]
    fn ingests_both_formats_to_the_same_manifest() {
        let m = good_members();
        let p = paths_json(&m);
        let (a, _s1, _d1) = run(&conda(&m, &p), ".conda", IngestLimits::default());
        let (b, _s2, _d2) = run(&tar_bz2(&m, &p), ".tar.bz2", IngestLimits::default());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.report.manifest_id, b.report.manifest_id);
        assert_eq!(a.info.name, "demo");
        assert_eq!(a.info.build, "h0_0");
        assert_eq!(a.info.subdir, "linux-64");
        assert!(a.info.files.contains_key("info/paths.json"));
        assert!(!a
            .report
            .manifest
            .entries
            .keys()
            .any(|k| k.starts_with("info")));
        assert!(matches!(
            a.report.manifest.entries["lib/libdemo.so.1"],
            Entry::Symlink { .. }
        ));
        assert_eq!(a.report.new_blobs, 2);
    }

    #[test]
    fn reports_placeholders() {
        let m = vec![f("lib/pkgconfig/demo.pc", b"prefix=/opt/build_placehold\n")];
        let sha = hex(&Sha256::digest(m[0].data));
        let p = format!(
            r#"{{"paths_version":1,"paths":[{{"_path":"lib/pkgconfig/demo.pc","path_type":"hardlink","sha256":"{sha}","size_in_bytes":28,"prefix_placeholder":"/opt/build_placehold","file_mode":"text"}}]}}"#
        );
        let (r, _s, _d) = run(&conda(&m, &p), ".conda", IngestLimits::default());
        let r = r.unwrap();
        assert_eq!(
            r.info.placeholders,
            vec![Placeholder {
                path: "lib/pkgconfig/demo.pc".into(),
                placeholder: "/opt/build_placehold".into(),
                binary: false
            }]
        );
    }

    #[test]
    fn refuses_path_escapes_in_both_formats() {
        for name in ["../evil", "/etc/evil", "lib/../../evil"] {
            let m = vec![f(name, b"x")];
            let p = paths_json(&m);
            for (bytes, ext) in [(conda(&m, &p), ".conda"), (tar_bz2(&m, &p), ".tar.bz2")] {
                let err = reject(&bytes, ext);
                assert!(
                    matches!(err, Error::UnsafeMember { .. }),
                    "{name}{ext}: {err}"
                );
            }
        }
    }

    #[test]
    fn refuses_symlinks_leaving_the_prefix() {
        for target in ["/etc/passwd", "../../outside", "../../../x"] {
            let m = vec![l("lib/link", target)];
            let p = paths_json(&m);
            for (bytes, ext) in [(conda(&m, &p), ".conda"), (tar_bz2(&m, &p), ".tar.bz2")] {
                let err = reject(&bytes, ext);
                assert!(err.to_string().contains("lib/link"), "{target}{ext}: {err}");
                assert!(matches!(err, Error::UnsafeMember { .. }), "{err}");
            }
        }
    }

    #[test]
    fn refuses_paths_json_mismatches() {
        let m = good_members();
        let good = paths_json(&m);
        // wrong sha256
        let wrong = good.replacen(&hex(&Sha256::digest(b"\x7fELF demo")), &"0".repeat(64), 1);
        let err = reject(&conda(&m, &wrong), ".conda");
        assert!(matches!(err, Error::PathsJson { .. }), "{err}");
        assert!(err.to_string().contains("sha256"), "{err}");
        // wrong size
        let wrong = good.replacen("\"size_in_bytes\":9", "\"size_in_bytes\":10", 1);
        assert!(reject(&conda(&m, &wrong), ".conda")
            .to_string()
            .contains("size is 9"));
        // listed but absent
        let absent = paths_json(&[
            f("lib/libdemo.so.1.0", b"\x7fELF demo"),
            l("lib/libdemo.so.1", "x"),
            f("bin/tool", b"#!/bin/sh\n"),
            f("bin/ghost", b""),
        ]);
        let err = reject(&conda(&m, &absent), ".conda");
        assert!(err.to_string().contains("bin/ghost"), "{err}");
        // present but not listed
        let partial = paths_json(&m[..2]);
        let err = reject(&tar_bz2(&m, &partial), ".tar.bz2");
        assert!(err.to_string().contains("not in info/paths.json"), "{err}");
        // a symlink listed as a file
        let as_file = good.replacen(
            r#"{"_path":"lib/libdemo.so.1","path_type":"softlink"}"#,
            r#"{"_path":"lib/libdemo.so.1","path_type":"hardlink"}"#,
            1,
        );
        assert!(matches!(
            reject(&conda(&m, &as_file), ".conda"),
            Error::PathsJson { .. }
        ));
        // an escaping path in paths.json itself
        let escaping = good.replacen("bin/tool", "../bin/tool", 1);
        assert!(matches!(
            reject(&conda(&m, &escaping), ".conda"),
            Error::PathsJson { .. }
        ));
    }

    #[test]
    fn refuses_structural_tricks() {
        let m = good_members();
        let p = paths_json(&m);
        let mut extra = conda(&m, &p);
        // an extra zip member
        let info = tar_bytes(&[
            f("info/index.json", INDEX),
            f("info/paths.json", p.as_bytes()),
        ]);
        let pkg = tar_bytes(&m);
        let with_extra = zip(&[
            member("metadata.json", br#"{"conda_pkg_format_version": 2}"#),
            member(
                "info-x.tar.zst",
                &zstd::encode_all(info.as_slice(), 3).unwrap(),
            ),
            member(
                "pkg-x.tar.zst",
                &zstd::encode_all(pkg.as_slice(), 3).unwrap(),
            ),
            member("evil.sh", b"rm -rf /"),
        ]);
        assert!(reject(&with_extra, ".conda")
            .to_string()
            .contains("evil.sh"));
        // payload smuggled into the info archive
        let info_with_payload = tar_bytes(&[
            f("info/index.json", INDEX),
            f("info/paths.json", p.as_bytes()),
            f("bin/sneaky", b"x"),
        ]);
        let smuggled = zip(&[
            member(
                "info-x.tar.zst",
                &zstd::encode_all(info_with_payload.as_slice(), 3).unwrap(),
            ),
            member(
                "pkg-x.tar.zst",
                &zstd::encode_all(pkg.as_slice(), 3).unwrap(),
            ),
        ]);
        assert!(reject(&smuggled, ".conda")
            .to_string()
            .contains("bin/sneaky"));
        // truncated
        extra.truncate(extra.len() / 2);
        assert!(matches!(reject(&extra, ".conda"), Error::BadArchive { .. }));
        let bz = tar_bz2(&m, &p);
        assert!(matches!(
            reject(&bz[..bz.len() / 2], ".tar.bz2"),
            Error::BadArchive { .. }
        ));
        // no paths.json
        let no_paths = tar_bytes(&[f("info/index.json", INDEX)]);
        let raw = zip(&[
            member(
                "info-x.tar.zst",
                &zstd::encode_all(no_paths.as_slice(), 3).unwrap(),
            ),
            member(
                "pkg-x.tar.zst",
                &zstd::encode_all(pkg.as_slice(), 3).unwrap(),
            ),
        ]);
        assert!(reject(&raw, ".conda")
            .to_string()
            .contains("no info/paths.json"));
    }

    #[test]
    fn refuses_bombs_while_decompressing() {
        let zeros = vec![0u8; 64 << 20];
        let m = vec![f("share/zeros", &zeros)];
        let p = paths_json(&m);
        for (bytes, ext) in [(conda(&m, &p), ".conda"), (tar_bz2(&m, &p), ".tar.bz2")] {
            let err = reject(&bytes, ext);
            assert!(matches!(err, Error::Limit { .. }), "{ext}: {err}");
            assert!(err.to_string().contains(":1"), "{err}");
            let limits = IngestLimits {
                max_total_size: 1 << 20,
                max_ratio: u64::MAX,
                ..IngestLimits::default()
            };
            let (r, store, _d) = run(&bytes, ext, limits);
            assert!(matches!(r, Err(Error::Limit { .. })), "{ext}");
            assert!(store.list().unwrap().is_empty());
        }
        let many: Vec<(String, Vec<u8>)> =
            (0..50).map(|i| (format!("share/f{i}"), vec![])).collect();
        let m: Vec<T<'_>> = many.iter().map(|(n, d)| f(n, d)).collect();
        let p = paths_json(&m);
        let limits = IngestLimits {
            max_files: 10,
            ..IngestLimits::default()
        };
        let (r, _s, _d) = run(&conda(&m, &p), ".conda", limits);
        assert!(matches!(r, Err(Error::Limit { .. })));
    }
}
