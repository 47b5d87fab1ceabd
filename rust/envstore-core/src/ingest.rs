//! What every ingestion path shares: the limits that bound work on untrusted archives and the
//! report handed back to callers.

use crate::manifest::{Manifest, ManifestId};

/// Bounds on an archive's claimed contents, checked before any member is decompressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    pub max_files: u64,
    pub max_total_size: u64,
    pub max_file_size: u64,
    /// Largest uncompressed/compressed ratio accepted for members above 1 MiB.
    pub max_ratio: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_files: 500_000,
            max_total_size: 16 << 30,
            max_file_size: 4 << 30,
            // Deflate tops out near 1032:1; real wheels reach a few hundred to one on padded
            // shared libraries (pillow.libs), so only near-pure zero runs are refused by default.
            max_ratio: 1000,
        }
    }
}

/// Members below this size are exempt from the ratio check: tiny files compress absurdly well.
pub const RATIO_EXEMPT_SIZE: u64 = 1 << 20;

#[derive(Clone, Debug)]
pub struct IngestReport {
    pub manifest_id: ManifestId,
    pub manifest: Manifest,
    pub files: u64,
    pub bytes: u64,
    pub new_blobs: u64,
    pub new_bytes: u64,
}
