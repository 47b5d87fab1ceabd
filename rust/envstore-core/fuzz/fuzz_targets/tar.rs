//! Tar ingestion (plain, gzip or zstd) from bytes into a throwaway store.
#![no_main]

use std::sync::OnceLock;

use envstore_core::{tarball::ingest_tar, BlobStore, Durability, IngestLimits};
use libfuzzer_sys::fuzz_target;

struct Ctx {
    _dir: tempfile::TempDir,
    store: BlobStore,
    file: std::path::PathBuf,
}

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path().join("store"), Durability::None).expect("store");
        let file = dir.path().join("archive.tar");
        Ctx { _dir: dir, store, file }
    })
}

fuzz_target!(|data: &[u8]| {
    let c = ctx();
    std::fs::write(&c.file, data).expect("write input");
    let limits = IngestLimits { max_files: 2_000, max_total_size: 64 << 20, max_file_size: 16 << 20, max_ratio: 1000 };
    let _ = ingest_tar(&c.store, &c.file, &limits);
});
