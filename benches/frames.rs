//! The core's frame decoder and encoder natively, through the public API,
//! with tungstenite as a native reference. `make bench` runs it (and
//! `bench/run.mjs` puts its figures next to the wasm ones); alone:
//!
//! ```text
//! cargo bench --bench frames [-- --quick] [-- FILTER]
//! ```
//!
//! Each iteration moves `count` messages of `size` bytes (one message from
//! 64 KiB up; about 64 KiB of payload below that), the throughput criterion
//! reports is payload bytes:
//! - `receive/SIZE`: a server `Connection` fed a stream of masked binary
//!   frames in 64 KiB chunks (`receive_data`), every event drained;
//! - `receive-text/SIZE`: the same with text (multi-byte UTF-8);
//! - `send/SIZE`: a client `Connection` framing and masking binary messages
//!   (`send_data` from the borrowed payload, as the JS package does; one
//!   reused output buffer);
//! - `tungstenite-receive/SIZE`, `tungstenite-send/SIZE`: tungstenite's
//!   `WebSocket` doing the same over an in-memory stream.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use std::io::{self, Read, Write};
use std::time::Duration;
use wsproto::events::Event;
use wsproto::{Connection, ConnectionType, Opcode};

const CHUNK: usize = 64 << 10;
const SIZES: [usize; 5] = [16, 1024, 64 << 10, 1 << 20, 16 << 20];

/// Short runs (the whole bench stays near a minute); fewer samples for the
/// large sizes.
fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, size: usize) {
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(if size >= 1 << 20 { 10 } else { 30 });
}

fn count_for(size: usize) -> usize {
    (CHUNK / size.max(1)).max(1)
}

fn payload(size: usize, text: bool) -> Vec<u8> {
    if text {
        let unit = "héllo wörld, ça va? Привет мир — 你好，世界 😀👍 ".as_bytes();
        let mut out = Vec::with_capacity(size);
        while out.len() + unit.len() <= size {
            out.extend_from_slice(unit);
        }
        out.resize(size, b'a');
        out
    } else {
        let mut state = 0x2545_f491_u32;
        (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }
}

/// `count` masked frames of `data` (as a client sends them).
fn masked_stream(data: &[u8], count: usize, text: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (data.len() + 14));
    for i in 0..count {
        out.push(0x80 | if text { 1 } else { 2 });
        let len = data.len();
        if len <= 125 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = (0x9e37_79b9_u32.wrapping_mul(i as u32 + 1)).to_le_bytes();
        out.extend_from_slice(&key);
        out.extend(data.iter().enumerate().map(|(j, b)| b ^ key[j % 4]));
    }
    out
}

fn receive(c: &mut Criterion, group: &str, text: bool) {
    let mut g = c.benchmark_group(group);
    for size in SIZES {
        let count = count_for(size);
        let stream = masked_stream(&payload(size, text), count, text);
        g.throughput(Throughput::Bytes((size * count) as u64));
        configure(&mut g, size);
        g.bench_with_input(BenchmarkId::from_parameter(size), &stream, |b, stream| {
            let mut conn = Connection::new(ConnectionType::Server, vec![], b"");
            b.iter(|| {
                let mut got = 0usize;
                for chunk in stream.chunks(CHUNK) {
                    conn.receive_data(Some(chunk)).unwrap();
                    for event in conn.events() {
                        got += match event {
                            Event::BytesMessage(m) => m.data.len(),
                            Event::TextMessage(m) => m.data.len(),
                            other => panic!("unexpected {other:?}"),
                        };
                    }
                }
                assert_eq!(got, size * count);
                black_box(got)
            })
        });
    }
    g.finish();
}

fn receive_binary(c: &mut Criterion) {
    receive(c, "receive", false);
}

fn receive_text(c: &mut Criterion) {
    receive(c, "receive-text", true);
}

fn send(c: &mut Criterion) {
    let mut g = c.benchmark_group("send");
    for size in SIZES {
        let count = count_for(size);
        let data = payload(size, false);
        g.throughput(Throughput::Bytes((size * count) as u64));
        configure(&mut g, size);
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            let mut conn = Connection::new(ConnectionType::Client, vec![], b"");
            let mut out = Vec::new();
            b.iter(|| {
                let mut bytes = 0;
                for _ in 0..count {
                    out.clear();
                    conn.send_data(Opcode::Binary, data, true, &mut out).unwrap();
                    bytes += out.len();
                }
                black_box(bytes)
            })
        });
    }
    g.finish();
}

// ---- tungstenite -----------------------------------------------------------------

/// Serves `data` in reads of at most 64 KiB, from the start again on `rewind`;
/// writes are counted and dropped.
struct MemStream {
    data: Vec<u8>,
    at: usize,
    written: usize,
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK).min(self.data.len() - self.at);
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(64 << 20))
}

fn tungstenite_receive(c: &mut Criterion) {
    use tungstenite::protocol::{Role, WebSocket};
    let mut g = c.benchmark_group("tungstenite-receive");
    for size in SIZES {
        let count = count_for(size);
        let stream = masked_stream(&payload(size, false), count, false);
        g.throughput(Throughput::Bytes((size * count) as u64));
        configure(&mut g, size);
        g.bench_with_input(BenchmarkId::from_parameter(size), &stream, |b, stream| {
            let mem = MemStream { data: stream.clone(), at: 0, written: 0 };
            let mut ws = WebSocket::from_raw_socket(mem, Role::Server, Some(tungstenite_config()));
            b.iter(|| {
                ws.get_mut().at = 0;
                let mut got = 0usize;
                for _ in 0..count {
                    got += ws.read().unwrap().len();
                }
                assert_eq!(got, size * count);
                black_box(got)
            })
        });
    }
    g.finish();
}

fn tungstenite_send(c: &mut Criterion) {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::Message;
    let mut g = c.benchmark_group("tungstenite-send");
    for size in SIZES {
        let count = count_for(size);
        let data = payload(size, false);
        g.throughput(Throughput::Bytes((size * count) as u64));
        configure(&mut g, size);
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            let mem = MemStream { data: Vec::new(), at: 0, written: 0 };
            let mut ws = WebSocket::from_raw_socket(mem, Role::Client, Some(tungstenite_config()));
            b.iter(|| {
                for _ in 0..count {
                    ws.send(Message::binary(data.clone())).unwrap();
                }
                black_box(ws.get_ref().written)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, receive_binary, receive_text, send, tungstenite_receive, tungstenite_send);
criterion_main!(benches);
