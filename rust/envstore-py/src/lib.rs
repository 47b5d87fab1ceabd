//! `envstore._core`: thin PyO3 wrappers over envstore-core. Every call that touches files
//! releases the GIL; core errors become EnvstoreError subclasses (or OSError for I/O) here, once.

use std::path::PathBuf;

use envstore_core as core;
use pyo3::exceptions::{PyAttributeError, PyOSError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The exception classes live in Python (envstore.errors, whose root carries `code` and `hint`);
/// the binding raises them. Looked up on first use rather than at module init, so that
/// importing envstore.errors never has to wait for, or cycle through, this module.
const ERRORS_MODULE: &str = "envstore.errors";
/// Re-exported as `envstore._core.<name>` (see `__getattr__`) for code that imports them here.
const ERROR_CLASSES: [&str; 4] = [
    "EnvstoreError",
    "ArchiveError",
    "StoreError",
    "ConflictError",
];

static ARCHIVE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONFLICT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn error_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<Bound<'py, PyType>> {
    cell.import(py, ERRORS_MODULE, name).cloned()
}

fn to_pyerr(py: Python<'_>, err: core::Error) -> PyErr {
    let message = err.to_string();
    if let core::Error::Io { op, path, source } = &err {
        let reason = source.to_string();
        let reason = reason
            .split(" (os error")
            .next()
            .unwrap_or(&reason)
            .to_string();
        let text = format!("failed to {op}: {reason}");
        return match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, text, path.display().to_string())),
            None => PyOSError::new_err(format!("{text}: {}", path.display())),
        };
    }
    let class = match &err {
        core::Error::UnsafeMember { .. }
        | core::Error::BadArchive { .. }
        | core::Error::Record { .. }
        | core::Error::PathsJson { .. }
        | core::Error::Limit { .. } => error_class(py, &ARCHIVE_ERROR, "ArchiveError"),
        core::Error::Conflict { .. } => error_class(py, &CONFLICT_ERROR, "ConflictError"),
        _ => error_class(py, &STORE_ERROR, "StoreError"),
    };
    let pyerr = match class {
        Ok(class) => PyErr::from_type(class, (message,)),
        // envstore.errors could not be imported: that failure is the one worth showing.
        Err(import_failure) => return import_failure,
    };
    let value = pyerr.value(py);
    let mut attrs: Vec<(&str, String)> = vec![("code", err.code().to_string())];
    match &err {
        core::Error::UnsafeMember {
            archive,
            member,
            reason,
        }
        | core::Error::Record {
            archive,
            member,
            reason,
        }
        | core::Error::PathsJson {
            archive,
            member,
            reason,
        } => {
            attrs.push(("archive", archive.clone()));
            attrs.push(("member", member.clone()));
            attrs.push(("reason", reason.clone()));
        }
        core::Error::BadArchive { archive, reason } | core::Error::Limit { archive, reason } => {
            attrs.push(("archive", archive.clone()));
            attrs.push(("reason", reason.clone()));
        }
        core::Error::Conflict {
            path,
            first,
            second,
        } => {
            attrs.push(("path", path.clone()));
            attrs.push(("first", first.clone()));
            attrs.push(("second", second.clone()));
        }
        core::Error::MissingBlob { blob, path } => {
            attrs.push(("blob", blob.clone()));
            attrs.push(("path", path.clone()));
        }
        _ => {}
    }
    for (name, v) in attrs {
        // Setting attributes on a fresh exception instance cannot fail in practice; if it did,
        // the message still carries everything.
        let _ = value.setattr(name, v);
    }
    pyerr
}

/// Limits applied to untrusted archives before anything is decompressed.
#[pyclass(frozen, get_all, from_py_object, module = "envstore._core")]
#[derive(Clone)]
struct Limits {
    max_files: u64,
    max_total_size: u64,
    max_file_size: u64,
    max_ratio: u64,
}

#[pymethods]
impl Limits {
    #[new]
    #[pyo3(signature = (max_files=None, max_total_size=None, max_file_size=None, max_ratio=None))]
    fn new(
        max_files: Option<u64>,
        max_total_size: Option<u64>,
        max_file_size: Option<u64>,
        max_ratio: Option<u64>,
    ) -> Self {
        let d = core::IngestLimits::default();
        Limits {
            max_files: max_files.unwrap_or(d.max_files),
            max_total_size: max_total_size.unwrap_or(d.max_total_size),
            max_file_size: max_file_size.unwrap_or(d.max_file_size),
            max_ratio: max_ratio.unwrap_or(d.max_ratio),
        }
    }
}

fn core_limits(l: Option<Limits>) -> core::IngestLimits {
    match l {
        None => core::IngestLimits::default(),
        Some(l) => core::IngestLimits {
            max_files: l.max_files,
            max_total_size: l.max_total_size,
            max_file_size: l.max_file_size,
            max_ratio: l.max_ratio,
        },
    }
}

#[pyclass(frozen, get_all, module = "envstore._core")]
struct IngestResult {
    manifest_id: String,
    files: u64,
    bytes: u64,
    new_blobs: u64,
    new_bytes: u64,
}

impl From<core::IngestReport> for IngestResult {
    fn from(r: core::IngestReport) -> Self {
        IngestResult {
            manifest_id: r.manifest_id.to_hex(),
            files: r.files,
            bytes: r.bytes,
            new_blobs: r.new_blobs,
            new_bytes: r.new_bytes,
        }
    }
}

/// A conda package ingested: its payload's manifest plus what its `info/` says.
#[pyclass(frozen, get_all, module = "envstore._core")]
struct CondaIngestResult {
    manifest_id: String,
    files: u64,
    bytes: u64,
    new_blobs: u64,
    new_bytes: u64,
    name: String,
    version: String,
    build: String,
    subdir: String,
    noarch: String,
    /// (path, placeholder, binary) for every file naming the build prefix.
    placeholders: Vec<(String, String, bool)>,
    no_link: Vec<String>,
    /// Raw text of the kept info files, by path (`info/index.json`, `info/paths.json`, ...).
    info: std::collections::BTreeMap<String, String>,
}

impl From<core::conda::CondaIngest> for CondaIngestResult {
    fn from(c: core::conda::CondaIngest) -> Self {
        let r = c.report;
        let i = c.info;
        CondaIngestResult {
            manifest_id: r.manifest_id.to_hex(),
            files: r.files,
            bytes: r.bytes,
            new_blobs: r.new_blobs,
            new_bytes: r.new_bytes,
            name: i.name,
            version: i.version,
            build: i.build,
            subdir: i.subdir,
            noarch: i.noarch,
            placeholders: i
                .placeholders
                .into_iter()
                .map(|p| (p.path, p.placeholder, p.binary))
                .collect(),
            no_link: i.no_link,
            info: i.files,
        }
    }
}

#[pyclass(frozen, get_all, module = "envstore._core")]
struct MaterializeResult {
    files: u64,
    dirs: u64,
    symlinks: u64,
    hardlinked: u64,
    reflinked: u64,
    copied: u64,
    /// (errno name, files) for every link error that forced a reflink or copy, e.g. ("EXDEV", 3).
    link_fallbacks: Vec<(String, u64)>,
}

#[pyclass(frozen, get_all, module = "envstore._core")]
struct SweepResult {
    blobs_removed: u64,
    bytes_removed: u64,
    manifests_removed: u64,
    junk_removed: u64,
    removed: Vec<String>,
}

#[pyclass(frozen, get_all, module = "envstore._core")]
struct VerifyProblem {
    path: String,
    kind: String,
    expected: String,
    actual: String,
}

#[pyclass(frozen, get_all, module = "envstore._core")]
struct VerifyResult {
    checked: u64,
    bytes: u64,
    problems: Vec<Py<VerifyProblem>>,
}

/// A store root: blobs, manifests and staging space.
#[pyclass(frozen, module = "envstore._core")]
struct Store {
    inner: core::BlobStore,
}

fn parse_ids(ids: &[String]) -> core::Result<Vec<core::ManifestId>> {
    ids.iter().map(|s| core::ContentHash::from_hex(s)).collect()
}

impl Store {
    fn load(&self, manifests: &[(String, String)]) -> core::Result<Vec<(String, core::Manifest)>> {
        manifests
            .iter()
            .map(|(label, id)| Ok((label.clone(), self.inner.get_manifest(id)?)))
            .collect()
    }
}

fn problem(p: core::verify::Problem) -> VerifyProblem {
    use core::verify::ProblemKind as K;
    let kind = match p.kind {
        K::Content => "content",
        K::Mode => "mode",
        K::Junk => "junk",
        K::Unreadable => "unreadable",
        K::Missing => "missing",
        K::Extra => "extra",
        K::Type => "type",
        K::Unlinked => "unlinked",
    };
    VerifyProblem {
        path: p.path.display().to_string(),
        kind: kind.to_string(),
        expected: p.expected,
        actual: p.actual,
    }
}

/// The `blob.before_publish` crash: an uncatchable kill, as a power cut or `kill -9` would be.
fn kill_self() {
    // SAFETY: kill(2) on our own pid with a constant signal has no memory-safety conditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}

#[pymethods]
impl Store {
    /// `test_link_errno` and `test_max_links` are the link-failure test hooks (RELIABILITY rows
    /// 22/23), passed in from envstore.settings: every link attempt fails with that errno, or
    /// with EMLINK once the blob has that many links.
    #[new]
    #[pyo3(signature = (root, fsync=true, test_link_errno=None, test_max_links=None))]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        fsync: bool,
        test_link_errno: Option<i32>,
        test_max_links: Option<u64>,
    ) -> PyResult<Self> {
        let durability = if fsync {
            core::Durability::Fsync
        } else {
            core::Durability::None
        };
        let mut inner = py
            .detach(|| core::BlobStore::open(root, durability))
            .map_err(|e| to_pyerr(py, e))?;
        inner.set_link_faults(core::link::LinkFaults {
            errno: test_link_errno,
            max_links: test_max_links,
        });
        Ok(Store { inner })
    }

    #[getter]
    fn root(&self) -> String {
        self.inner.root().display().to_string()
    }

    #[pyo3(signature = (data, executable=false))]
    fn add_bytes(&self, py: Python<'_>, data: Vec<u8>, executable: bool) -> PyResult<String> {
        let (key, _) = py
            .detach(|| self.inner.add_bytes(&data, executable))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(key.to_string())
    }

    /// Add many (data, executable) contents in one batch (one flush); returns their keys.
    fn add_many(&self, py: Python<'_>, items: Vec<(Vec<u8>, bool)>) -> PyResult<Vec<String>> {
        let (keys, _) = py
            .detach(|| self.inner.add_many(&items))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(keys.iter().map(|k| k.to_string()).collect())
    }

    /// Add a file; its executable bit comes from the file unless given.
    #[pyo3(signature = (path, executable=None))]
    fn add_file(
        &self,
        py: Python<'_>,
        path: PathBuf,
        executable: Option<bool>,
    ) -> PyResult<String> {
        let result = py.detach(|| {
            let exec = match executable {
                Some(e) => e,
                None => {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::metadata(&path)
                        .map_err(|e| core::Error::io("stat", &path, e))?
                        .permissions()
                        .mode()
                        & 0o111
                        != 0
                }
            };
            self.inner.add_file(&path, exec)
        });
        let (key, _) = result.map_err(|e| to_pyerr(py, e))?;
        Ok(key.to_string())
    }

    fn blob_path(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        let key = core::BlobKey::parse(key).map_err(|e| to_pyerr(py, e))?;
        Ok(self.inner.blob_path(&key).display().to_string())
    }

    /// `test_crash_before_publish` is the `blob.before_publish` test hook: SIGKILL the process
    /// after the wheel's blobs are staged and synced, before any is published.
    #[pyo3(signature = (path, limits=None, test_crash_before_publish=false))]
    fn ingest_wheel(
        &self,
        py: Python<'_>,
        path: PathBuf,
        limits: Option<Limits>,
        test_crash_before_publish: bool,
    ) -> PyResult<IngestResult> {
        let limits = core_limits(limits);
        if test_crash_before_publish {
            let mut store = py
                .detach(|| core::BlobStore::open(self.inner.root(), self.inner.durability()))
                .map_err(|e| to_pyerr(py, e))?;
            store.set_link_faults(self.inner.link_faults());
            store.set_before_publish(Some(kill_self));
            return py
                .detach(|| core::wheel::ingest_wheel(&store, &path, &limits))
                .map(Into::into)
                .map_err(|e| to_pyerr(py, e));
        }
        py.detach(|| core::wheel::ingest_wheel(&self.inner, &path, &limits))
            .map(Into::into)
            .map_err(|e| to_pyerr(py, e))
    }

    #[pyo3(signature = (path, limits=None))]
    fn ingest_tar(
        &self,
        py: Python<'_>,
        path: PathBuf,
        limits: Option<Limits>,
    ) -> PyResult<IngestResult> {
        let limits = core_limits(limits);
        py.detach(|| core::tarball::ingest_tar(&self.inner, &path, &limits))
            .map(Into::into)
            .map_err(|e| to_pyerr(py, e))
    }

    /// A `.conda` or `.tar.bz2` package, every payload file checked against `info/paths.json`.
    #[pyo3(signature = (path, limits=None))]
    fn ingest_conda(
        &self,
        py: Python<'_>,
        path: PathBuf,
        limits: Option<Limits>,
    ) -> PyResult<CondaIngestResult> {
        let limits = core_limits(limits);
        py.detach(|| core::conda::ingest_conda(&self.inner, &path, &limits))
            .map(Into::into)
            .map_err(|e| to_pyerr(py, e))
    }

    #[pyo3(signature = (path, exclude=Vec::new(), limits=None))]
    fn ingest_dir(
        &self,
        py: Python<'_>,
        path: PathBuf,
        exclude: Vec<String>,
        limits: Option<Limits>,
    ) -> PyResult<IngestResult> {
        let limits = core_limits(limits);
        py.detach(|| core::tree::ingest_dir(&self.inner, &path, &exclude, &limits))
            .map(Into::into)
            .map_err(|e| to_pyerr(py, e))
    }

    /// The canonical JSON of a stored manifest (checked against its id).
    fn manifest_json(&self, py: Python<'_>, manifest_id: &str) -> PyResult<String> {
        py.detach(|| self.inner.get_manifest(manifest_id))
            .map(|m| m.to_json())
            .map_err(|e| to_pyerr(py, e))
    }

    /// Validate and store a manifest given as JSON (every blob must exist); returns its id.
    fn put_manifest(&self, py: Python<'_>, manifest_json: &str) -> PyResult<String> {
        py.detach(|| self.inner.put_manifest_json(manifest_json))
            .map(|id| id.to_hex())
            .map_err(|e| to_pyerr(py, e))
    }

    /// Compare a materialized tree with its manifests; returns the problems found.
    fn verify_tree(
        &self,
        py: Python<'_>,
        manifests: Vec<(String, String)>,
        root: PathBuf,
    ) -> PyResult<Vec<Py<VerifyProblem>>> {
        let problems = py
            .detach(|| {
                let loaded = self.load(&manifests)?;
                core::verify::verify_tree(&self.inner, &loaded, &root)
            })
            .map_err(|e| to_pyerr(py, e))?;
        problems
            .into_iter()
            .map(|p| Py::new(py, problem(p)))
            .collect()
    }

    /// True when every blob of the manifest passes the cheap check (file, size, mode).
    fn manifest_blobs_present(&self, py: Python<'_>, manifest_id: &str) -> PyResult<bool> {
        py.detach(|| self.inner.manifest_blobs_present(manifest_id))
            .map_err(|e| to_pyerr(py, e))
    }

    /// The blob files a manifest's regular files are hardlinks of (the key rule stays in the core).
    fn manifest_blob_paths(&self, py: Python<'_>, manifest_id: &str) -> PyResult<Vec<String>> {
        let manifest = py
            .detach(|| self.inner.get_manifest(manifest_id))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(manifest
            .entries
            .values()
            .filter_map(|e| e.blob())
            .map(|k| self.inner.blob_path(&k).display().to_string())
            .collect())
    }

    /// Ids of every manifest in the store.
    fn manifest_ids(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let listing = py
            .detach(|| self.inner.list_manifests())
            .map_err(|e| to_pyerr(py, e))?;
        Ok(listing
            .into_iter()
            .filter_map(|(_, id)| id.map(|i| i.to_hex()))
            .collect())
    }

    /// Build `dest` from (label, manifest id) pairs; labels name the sources in conflicts.
    #[pyo3(signature = (manifests, dest, copy=false))]
    fn materialize(
        &self,
        py: Python<'_>,
        manifests: Vec<(String, String)>,
        dest: PathBuf,
        copy: bool,
    ) -> PyResult<MaterializeResult> {
        let strategy = if copy {
            core::link::LinkStrategy::Copy
        } else {
            core::link::LinkStrategy::Auto
        };
        let report = py
            .detach(|| {
                let loaded = self.load(&manifests)?;
                core::materialize(&self.inner, &loaded, &dest, strategy)
            })
            .map_err(|e| to_pyerr(py, e))?;
        Ok(MaterializeResult {
            files: report.files,
            dirs: report.dirs,
            symlinks: report.symlinks,
            hardlinked: report.hardlinked,
            reflinked: report.reflinked,
            copied: report.copied,
            link_fallbacks: [
                ("EXDEV", report.fallbacks.exdev),
                ("EMLINK", report.fallbacks.emlink),
                ("EPERM", report.fallbacks.eperm),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (name.to_string(), n))
            .collect(),
        })
    }

    /// Delete every blob and manifest not reachable from the manifests in `keep`.
    #[pyo3(signature = (keep, dry_run=false))]
    fn sweep(&self, py: Python<'_>, keep: Vec<String>, dry_run: bool) -> PyResult<SweepResult> {
        let report = py
            .detach(|| {
                let ids = parse_ids(&keep)?;
                let report = core::gc::sweep(&self.inner, &ids, dry_run)?;
                if !dry_run {
                    core::gc::prune_empty_dirs(&self.inner)?;
                }
                Ok(report)
            })
            .map_err(|e| to_pyerr(py, e))?;
        Ok(SweepResult {
            blobs_removed: report.blobs_removed,
            bytes_removed: report.bytes_removed,
            manifests_removed: report.manifests_removed,
            junk_removed: report.junk_removed,
            removed: report
                .removed
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        })
    }

    /// Rehash every blob; report content, mode and junk problems.
    fn verify(&self, py: Python<'_>) -> PyResult<VerifyResult> {
        let report = py
            .detach(|| core::verify::verify_blobs(&self.inner))
            .map_err(|e| to_pyerr(py, e))?;
        let problems = report
            .problems
            .into_iter()
            .map(|p| Py::new(py, problem(p)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(VerifyResult {
            checked: report.checked,
            bytes: report.bytes,
            problems,
        })
    }
}

/// BLAKE3 of `data`, as the 64-hex-digit text used in blob names.
#[pyfunction]
fn hash_bytes(py: Python<'_>, data: Vec<u8>) -> String {
    py.detach(|| core::ContentHash::of_bytes(&data).to_hex())
}

/// BLAKE3 of a file's content (memory-mapped and multi-threaded for large files).
#[pyfunction]
fn hash_file(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    py.detach(|| core::ContentHash::of_file(&path))
        .map(|h| h.to_hex())
        .map_err(|e| to_pyerr(py, e))
}

/// Delete a tree, including read-only directories, without following symlinks.
#[pyfunction]
fn remove_tree(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    py.detach(|| core::fsutil::remove_tree(&path))
        .map_err(|e| to_pyerr(py, e))
}

/// Make every directory under `path` read-only (files keep their modes); returns the count.
#[pyfunction]
fn make_dirs_read_only(py: Python<'_>, path: PathBuf) -> PyResult<u64> {
    py.detach(|| core::fsutil::make_dirs_read_only(&path))
        .map_err(|e| to_pyerr(py, e))
}

/// Flush the filesystem holding `path` (one syncfs): makes a just-published tree durable.
#[pyfunction]
fn sync_filesystem(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    py.detach(|| core::fsutil::sync_filesystem(&path))
        .map_err(|e| to_pyerr(py, e))
}

/// The envstore-shim executable built alongside this extension (see build.rs);
/// `store shims install` writes it out.
static SHIM_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/envstore-shim"));

/// The bytes of the native shim executable for this platform.
#[pyfunction]
fn shim_binary(py: Python<'_>) -> Bound<'_, pyo3::types::PyBytes> {
    pyo3::types::PyBytes::new(py, SHIM_BINARY)
}

/// `envstore._core.ArchiveError` and the other error classes, as module attributes (PEP 562):
/// the classes of envstore.errors, imported when first asked for.
#[pyfunction]
#[pyo3(name = "__getattr__")]
fn module_getattr(py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
    if ERROR_CLASSES.contains(&name) {
        return Ok(py.import(ERRORS_MODULE)?.getattr(name)?.unbind());
    }
    Err(PyAttributeError::new_err(format!(
        "module 'envstore._core' has no attribute '{name}'"
    )))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(module_getattr, m)?)?;
    m.add_class::<Store>()?;
    m.add_class::<Limits>()?;
    m.add_class::<IngestResult>()?;
    m.add_class::<CondaIngestResult>()?;
    m.add_class::<MaterializeResult>()?;
    m.add_class::<SweepResult>()?;
    m.add_class::<VerifyProblem>()?;
    m.add_class::<VerifyResult>()?;
    m.add_function(wrap_pyfunction!(hash_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(hash_file, m)?)?;
    m.add_function(wrap_pyfunction!(remove_tree, m)?)?;
    m.add_function(wrap_pyfunction!(make_dirs_read_only, m)?)?;
    m.add_function(wrap_pyfunction!(sync_filesystem, m)?)?;
    m.add_function(wrap_pyfunction!(shim_binary, m)?)?;
    // The on-disk names the core owns, so Python never spells them again.
    m.add("BLOBS_DIR", core::layout::BLOBS_DIR)?;
    m.add("MANIFESTS_DIR", core::layout::MANIFESTS_DIR)?;
    m.add("TMP_DIR", core::layout::TMP_DIR)?;
    m.add("MANIFEST_VERSION", core::manifest::MANIFEST_VERSION)?;
    Ok(())
}
