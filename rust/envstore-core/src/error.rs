//! One error type for the core. Every variant names the operation and the thing it failed on,
//! and `code()` gives a stable machine-readable tag the bindings map to exception classes.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{reason} '{member}' in {archive}")]
    UnsafeMember {
        archive: String,
        member: String,
        reason: String,
    },
    #[error("invalid archive {archive}: {reason}")]
    BadArchive { archive: String, reason: String },
    #[error("RECORD mismatch for '{member}' in {archive}: {reason}")]
    Record {
        archive: String,
        member: String,
        reason: String,
    },
    #[error("info/paths.json mismatch for '{member}' in {archive}: {reason}")]
    PathsJson {
        archive: String,
        member: String,
        reason: String,
    },
    #[error("{archive} exceeds a limit: {reason}")]
    Limit { archive: String, reason: String },
    #[error("conflicting files at '{path}': {first} and {second} provide different content")]
    Conflict {
        path: String,
        first: String,
        second: String,
    },
    #[error("invalid manifest {id}: {reason}")]
    Manifest { id: String, reason: String },
    #[error("blob {blob} needed for '{path}' is missing from the store")]
    MissingBlob { blob: String, path: String },
    #[error("invalid content hash '{0}'")]
    BadHash(String),
    #[error("destination {} already exists", .0.display())]
    DestinationExists(PathBuf),
}

impl Error {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Stable tag for this kind of failure; part of the CLI's error contract.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::UnsafeMember { .. } => "unsafe-member",
            Error::BadArchive { .. } => "bad-archive",
            Error::Record { .. } => "record-mismatch",
            Error::PathsJson { .. } => "paths-mismatch",
            Error::Limit { .. } => "limit-exceeded",
            Error::Conflict { .. } => "conflict",
            Error::Manifest { .. } => "bad-manifest",
            Error::MissingBlob { .. } => "missing-blob",
            Error::BadHash(_) => "bad-hash",
            Error::DestinationExists(_) => "destination-exists",
        }
    }
}

/// Attach an operation and path to an `io::Result`.
pub trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}
