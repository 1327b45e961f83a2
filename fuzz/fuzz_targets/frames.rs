#![no_main]
//! The `frames` check (fuzz/checks/frames.rs) as a libFuzzer target; the same
//! check replays the corpus in `cargo test --test fuzz_replay`.

#[path = "../checks/common.rs"]
mod common;
#[path = "../checks/frames.rs"]
mod frames;

libfuzzer_sys::fuzz_target!(|data: &[u8]| frames::check(data));
