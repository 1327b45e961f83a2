#![no_main]
//! The `handshake` check (fuzz/checks/handshake.rs) as a libFuzzer target; the same
//! check replays the corpus in `cargo test --test fuzz_replay`.

#[path = "../checks/common.rs"]
mod common;
#[path = "../checks/handshake.rs"]
mod handshake;

libfuzzer_sys::fuzz_target!(|data: &[u8]| handshake::check(data));
