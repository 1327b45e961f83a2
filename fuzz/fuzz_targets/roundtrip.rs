#![no_main]
//! The `roundtrip` check (fuzz/checks/roundtrip.rs) as a libFuzzer target; the same
//! check replays the corpus in `cargo test --test fuzz_replay`.

#[path = "../checks/common.rs"]
mod common;
#[path = "../checks/roundtrip.rs"]
mod roundtrip;

libfuzzer_sys::fuzz_target!(|data: &[u8]| roundtrip::check(data));
