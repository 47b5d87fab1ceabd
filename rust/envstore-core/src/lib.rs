//! The envstore core: content hashes, the blob store, archive ingestion, materialization,
//! GC sweeps and verification. Pure Rust: no Python types, no printing, no environment
//! variables; every policy decision (limits, durability) arrives as an argument.

pub mod blob;
pub mod conda;
pub mod error;
pub mod fsutil;
pub mod gc;
pub mod hash;
pub mod ingest;
pub mod layout;
pub mod link;
pub mod manifest;
pub mod materialize;
pub mod member_path;
pub mod record;
pub mod tarball;
#[cfg(test)]
mod testutil;
pub mod tree;
pub mod verify;
pub mod wheel;
pub mod zipread;

pub use blob::{BlobKey, BlobStore, Durability};
pub use error::{Error, Result};
pub use hash::ContentHash;
pub use ingest::{IngestLimits, IngestReport};
pub use manifest::{Entry, Manifest, ManifestId};
pub use materialize::{materialize, MaterializeReport};
