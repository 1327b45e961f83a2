//! Exports for bench/run.mjs: the core's receive and send paths run inside
//! wasm with no JS in the loop (the same work as benches/frames.rs). The
//! same functions run natively in native.rs, which bench/lib/wasmcore.mjs
//! times in turn with the wasm build.

use wsproto::events::Event;
use std::sync::atomic::{AtomicUsize, Ordering};
use wsproto::{Connection, ConnectionType, Opcode, SeededRandom};

/// The input of a workload, built here so that wasm and native get the same
/// bytes: `size` bytes of payload, or (`frames` != 0) `count` masked binary
/// frames of it, framed by a client connection (the crate's own encoder).
/// Leaked: one per workload; its length is `bench_input_len()`.
#[no_mangle]
pub extern "C" fn bench_input(size: usize, count: usize, frames: u32) -> *const u8 {
    let data: Vec<u8> = (0..size as u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let out = if frames == 0 {
        data
    } else {
        let mut client = Connection::new(ConnectionType::Client, vec![], b"").with_random(Box::new(SeededRandom::new(7)));
        let mut out = Vec::new();
        for _ in 0..count {
            if client.send_data(Opcode::Binary, &data, true, &mut out).is_err() {
                return std::ptr::null();
            }
        }
        out
    };
    INPUT_LEN.store(out.len(), Ordering::Relaxed);
    Box::leak(out.into_boxed_slice()).as_ptr()
}

static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);

/// The length of what the last `bench_input` returned.
#[no_mangle]
pub extern "C" fn bench_input_len() -> usize {
    INPUT_LEN.load(Ordering::Relaxed)
}

/// Feeds the `len` bytes at `ptr` (masked frames) to one server connection
/// `iters` times, in `chunk`-byte pieces, draining every event; returns
/// the payload bytes delivered.
#[no_mangle]
pub extern "C" fn bench_receive(ptr: *const u8, len: usize, chunk: usize, iters: u32) -> f64 {
    // SAFETY: the caller passes a buffer from bench_input, with its length.
    let stream = unsafe { std::slice::from_raw_parts(ptr, len) };
    let mut conn = Connection::new(ConnectionType::Server, vec![], b"");
    let mut got = 0usize;
    for _ in 0..iters {
        for piece in stream.chunks(chunk.max(1)) {
            if conn.receive_data(Some(piece)).is_err() {
                return -1.0;
            }
            for event in conn.events() {
                got += match event {
                    Event::BytesMessage(m) => m.data.len(),
                    Event::TextMessage(m) => m.data.len(),
                    _ => return -1.0,
                };
            }
        }
    }
    got as f64
}

/// Frames (and masks) the `len` bytes at `ptr` as a binary message `count`
/// times on one client connection, reusing one output buffer; returns the
/// frame bytes produced.
#[no_mangle]
pub extern "C" fn bench_send(ptr: *const u8, len: usize, count: u32) -> f64 {
    // SAFETY: as in bench_receive.
    let data = unsafe { std::slice::from_raw_parts(ptr, len) };
    let mut conn = Connection::new(ConnectionType::Client, vec![], b"").with_random(Box::new(SeededRandom::new(1)));
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for _ in 0..count {
        out.clear();
        // As the package does: framed straight from the borrowed payload.
        if conn.send_data(Opcode::Binary, data, true, &mut out).is_err() {
            return -1.0;
        }
        bytes += out.len();
    }
    bytes as f64
}
