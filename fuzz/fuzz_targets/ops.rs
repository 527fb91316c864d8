//! Arbitrary operation sequences against the store and the plain in-memory model of
//! `tests/model/`: every read must agree (the harness panics on any disagreement).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    let ops = model::ops_from_bytes(data);
    if ops.is_empty() {
        return;
    }
    let mut harness = model::Harness::new();
    for op in &ops {
        harness.apply(op);
    }
    harness.check_everything();
});
