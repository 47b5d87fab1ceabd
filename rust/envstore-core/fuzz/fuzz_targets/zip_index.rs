//! The strict ZIP reader alone, in memory: parse every header, then extract every member.
//! Must never panic, hang or allocate without bound, whatever the bytes.
#![no_main]

use envstore_core::zipread::ZipIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = ZipIndex::open(data, "fuzz.whl", 10_000) {
        for e in &index.entries {
            if e.size <= 1 << 20 {
                let _ = index.extract(e);
            }
        }
    }
});
