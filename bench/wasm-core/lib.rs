//! Exports for bench/run.mjs: the core's receive and send paths run inside
//! wasm with no JS in the loop (the same work as benches/frames.rs). The
//! same functions run natively in native.rs, which bench/lib/wasmcore.mjs
//! times in turn with the wasm build.

use wsproto::events::Event;
use wsproto::{Connection, ConnectionType, Opcode, SeededRandom};

/// The input of a workload, built here so that wasm and native get the same
/// bytes: `size` bytes of payload, or (`frames` != 0) `count` masked binary
/// frames of it (bench_input_len bytes). Leaked: one per workload.
#[no_mangle]
pub extern "C" fn bench_input(size: usize, count: usize, frames: u32) -> *const u8 {
    let data: Vec<u8> = (0..size as u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    if frames == 0 {
        return Box::leak(data.into_boxed_slice()).as_ptr();
    }
    let mut out = Vec::with_capacity(bench_input_len(size, count, frames));
    for i in 0..count {
        out.push(0x82);
        if size <= 125 {
            out.push(0x80 | size as u8);
        } else if size <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(size as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(size as u64).to_be_bytes());
        }
        let key = [(i * 37 + 1) as u8, 0x5a, 0xc3, (i * 11) as u8];
        out.extend_from_slice(&key);
        out.extend(data.iter().enumerate().map(|(j, b)| b ^ key[j & 3]));
    }
    Box::leak(out.into_boxed_slice()).as_ptr()
}

/// The length of what bench_input returns.
#[no_mangle]
pub extern "C" fn bench_input_len(size: usize, count: usize, frames: u32) -> usize {
    if frames == 0 {
        return size;
    }
    let head = if size <= 125 {
        6
    } else if size <= 0xffff {
        8
    } else {
        14
    };
    count * (head + size)
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
