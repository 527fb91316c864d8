//! Every record and key decoder on arbitrary bytes: errors are fine, panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aurra::__fuzz::fuzz_decode_all(data);
});
