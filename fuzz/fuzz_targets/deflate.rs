#![no_main]
//! The `deflate` check (fuzz/checks/deflate.rs) as a libFuzzer target; the
//! same check replays the corpus in `cargo test --test fuzz_replay`.

#[path = "../checks/common.rs"]
mod common;
#[path = "../checks/deflate.rs"]
mod deflate;

libfuzzer_sys::fuzz_target!(|data: &[u8]| deflate::check(data));
