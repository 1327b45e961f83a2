//! Replays every committed fuzz input through the fuzz targets' checks
//! (fuzz/checks/), on stable Rust: the seed corpora in `fuzz/corpus/` and
//! the inputs that once failed, kept in `fuzz/regressions/`. Nothing new
//! is explored here (that is `make fuzz`), so the verdict is the same on
//! every machine. As under libFuzzer's `-malloc_limit_mb=64`, a single
//! allocation over 64 MiB fails the run.

#[path = "../fuzz/checks/common.rs"]
mod common;
#[path = "../fuzz/checks/deflate.rs"]
mod deflate;
#[path = "../fuzz/checks/frames.rs"]
mod frames;
#[path = "../fuzz/checks/handshake.rs"]
mod handshake;
#[path = "../fuzz/checks/roundtrip.rs"]
mod roundtrip;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};

/// Refuses any single allocation over 64 MiB: nothing the engine does for a
/// fuzz input should allocate by a length the peer declared.
struct Capped;

const CAP: usize = 64 << 20;

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        assert!(layout.size() <= CAP, "an allocation of {} bytes", layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        assert!(new_size <= CAP, "a reallocation to {new_size} bytes");
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Capped = Capped;

/// The committed inputs of a target, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        files.extend(entries.map(|e| e.expect("a directory entry").path()));
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`, naming the input that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "{target}: no committed inputs in fuzz/corpus/{target}/");
    for file in files {
        let data = std::fs::read(&file).expect("a fuzz input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: {} fails; replay it with WSPROTO_FUZZ_DEBUG=1", file.display());
        }
    }
}

#[test]
fn frames_corpus_and_regressions() {
    replay("frames", frames::check);
}

#[test]
fn handshake_corpus_and_regressions() {
    replay("handshake", handshake::check);
}

#[test]
fn roundtrip_corpus_and_regressions() {
    replay("roundtrip", roundtrip::check);
}

#[test]
fn deflate_corpus_and_regressions() {
    replay("deflate", deflate::check);
}

/// The first finding the `frames` target's chunking check made (issue 15):
/// fed whole, this stream ended in 1009 ("x-double: too big"); in the
/// fuzzer's chunks, in 1007. An invalid UTF-8 byte comes before the limit
/// in the doubled stream, so 1007 is right both ways.
#[test]
fn frames_chunking_1_ends_in_1007_however_it_is_chunked() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/frames/chunking-1.bin");
    let data = std::fs::read(path).expect("the finding");
    let ((chunked, _), (whole, _)) = frames::outcomes(&data);
    assert_eq!(chunked, whole);
    let invalid = common::Norm::Close(1007, "invalid UTF-8 in text message".into());
    assert_eq!(whole.last(), Some(&invalid), "{whole:?}");
}
