//! Whole wheel ingestion from bytes: ZIP reader, member-name checks, RECORD, staging and
//! publishing into a throwaway store. A rejected wheel must publish nothing.
#![no_main]

use std::sync::OnceLock;

use envstore_core::{wheel::ingest_wheel, BlobStore, Durability, IngestLimits};
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
        let file = dir.path().join("demo-1.0-py3-none-any.whl");
        Ctx { _dir: dir, store, file }
    })
}

fn blob_count(store: &BlobStore) -> usize {
    store.list().map(|l| l.len()).unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let c = ctx();
    std::fs::write(&c.file, data).expect("write input");
    let limits = IngestLimits { max_files: 2_000, max_total_size: 64 << 20, max_file_size: 16 << 20, max_ratio: 1000 };
    let before = blob_count(&c.store);
    if ingest_wheel(&c.store, &c.file, &limits).is_err() {
        assert_eq!(before, blob_count(&c.store), "a rejected wheel published blobs");
    }
});
