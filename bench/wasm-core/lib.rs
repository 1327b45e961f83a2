//! Exports for bench/run.mjs: the core's receive and send paths run inside
//! wasm with no JS in the loop (the same work as benches/frames.rs).

use wsproto::events::Event;
use wsproto::{Connection, ConnectionType, Opcode, SeededRandom};

/// A zeroed buffer of `len` bytes for JS to fill (leaked: one per workload).
#[no_mangle]
pub extern "C" fn bench_alloc(len: usize) -> *mut u8 {
    Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr()
}

/// Feeds the `len` bytes at `ptr` (masked frames) to one server connection
/// `iters` times, in `chunk`-byte pieces, draining every event; returns
/// the payload bytes delivered.
#[no_mangle]
pub extern "C" fn bench_receive(ptr: *const u8, len: usize, chunk: usize, iters: u32) -> f64 {
    // SAFETY: JS passes a buffer it got from bench_alloc, with its length.
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
