//! The core, compiled to wasm32 (with simd128, as the npm package is), run by
//! `wasm-pack test --node -- --test wasm`. Native `cargo test` covers the
//! protocol; these tests cover what only the wasm build has: the SIMD
//! masking and UTF-8 paths, `crypto.getRandomValues` through getrandom's js
//! backend, and 32-bit `usize` against 64-bit frame lengths. The JS binding
//! itself (src/wasm/) is tested through the package by js-tests/.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wsproto::events::{AcceptConnection, BytesMessage, CloseConnection, Event, Request, TextMessage};
use wsproto::{Config, ConnectionState, ConnectionType, SeededRandom, WSConnection};

fn pair(config: Config) -> (WSConnection, WSConnection) {
    let mut client = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(7)));
    let mut server = WSConnection::with_config(ConnectionType::Server, config);
    let request = Request { host: "localhost".into(), target: "/".into(), ..Default::default() };
    server.receive_data(Some(&client.send(request.into()).unwrap())).unwrap();
    assert!(matches!(server.next_event(), Some(Event::Request(_))));
    client.receive_data(Some(&server.send(AcceptConnection::default().into()).unwrap())).unwrap();
    assert!(matches!(client.next_event(), Some(Event::AcceptConnection(_))));
    (client, server)
}

/// Joins the data of every message piece the server has queued.
fn drain_bytes(server: &mut WSConnection) -> (Vec<u8>, Vec<Event>) {
    let mut data = Vec::new();
    let mut others = Vec::new();
    for event in server.events() {
        match event {
            Event::BytesMessage(m) => data.extend_from_slice(&m.data),
            Event::TextMessage(m) => data.extend_from_slice(m.data.as_bytes()),
            other => others.push(other),
        }
    }
    (data, others)
}

#[wasm_bindgen_test]
fn simd_simd128_is_enabled() {
    // The package is built with +simd128; so are these tests (Makefile).
    assert!(cfg!(target_feature = "simd128"), "build with -C target-feature=+simd128");
}

#[wasm_bindgen_test]
fn masking_round_trips_every_length_and_alignment() {
    let (mut client, mut server) = pair(Config::default());
    // Lengths around the SIMD widths and the frame-length encodings, each
    // fed whole and at odd split points so unmasking starts mid-key.
    for len in (0..80).chain([125, 126, 127, 1000, 65535, 65536, 100_003]) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let frame = client.send(BytesMessage::new(payload.clone()).into()).unwrap();
        for split in [frame.len(), 1, 3, 7, 17] {
            let split = split.min(frame.len());
            server.receive_data(Some(&frame[..split])).unwrap();
            server.receive_data(Some(&frame[split..])).unwrap();
            let (data, others) = drain_bytes(&mut server);
            assert!(others.is_empty(), "{others:?}");
            assert_eq!(data, payload, "length {len}, split {split}");
        }
    }
}

#[wasm_bindgen_test]
fn utf8_validation_accepts_valid_and_rejects_invalid_at_every_offset() {
    let text = "aé€😀".repeat(40);
    for cut in 0..text.len() {
        let (mut client, mut server) = pair(Config::default());
        let frame = client.send(TextMessage::new(text.clone()).into()).unwrap();
        server.receive_data(Some(&frame[..frame.len().min(6 + cut)])).unwrap();
        server.receive_data(Some(&frame[frame.len().min(6 + cut)..])).unwrap();
        let (data, others) = drain_bytes(&mut server);
        assert!(others.is_empty());
        assert_eq!(data, text.as_bytes());
    }
    // A lone continuation byte at each position: a 1007 close, never a panic.
    for pos in [0usize, 1, 15, 16, 17, 31, 32, 33, 63, 64, 100] {
        let (_client, mut server) = pair(Config::default());
        let mut bytes = vec![b'a'; 128];
        bytes[pos] = 0x80;
        // Frame the invalid bytes as text by hand: FIN|TEXT, masked with a zero key.
        let mut frame = vec![0x81, 0x80 | 126, 0, 128, 0, 0, 0, 0];
        frame.extend_from_slice(&bytes);
        server.receive_data(Some(&frame)).unwrap();
        let close = server.events().find_map(|e| match e {
            Event::CloseConnection(c) => Some(c),
            _ => None,
        });
        assert_eq!(close.map(|c| c.code), Some(1007), "invalid byte at {pos}");
    }
}

/// src/frame/mask.rs compiled into this test for its crate-private
/// fused unmask-and-ASCII-check, whose SIMD loop only wasm runs.
#[path = "../src/frame/mask.rs"]
#[allow(dead_code)]
mod mask;

#[wasm_bindgen_test]
fn unmasking_text_sees_every_high_bit() {
    mask::tests::check_ascii_masking();
}

/// src/utf8.rs compiled into this test for its crate-private UTF-16
/// transcoder, with stand-ins for the two crate items it uses.
#[path = "../src/utf8.rs"]
#[allow(dead_code)]
mod utf8;
mod close {
    pub use wsproto::close::INVALID_FRAME_PAYLOAD_DATA;
}
mod error {
    #[derive(Debug, PartialEq)]
    pub struct ParseFailed {
        pub code: u16,
    }
    impl ParseFailed {
        pub fn new(code: u16, _reason: &str) -> Self {
            Self { code }
        }
    }
}

#[wasm_bindgen_test]
fn utf16_transcoding_matches_std_at_every_block_alignment() {
    // The wasm build takes the SIMD path (16-byte blocks of every kind);
    // native tests cover only the scalar one.
    utf8::tests::check_utf16();
}

#[wasm_bindgen_test]
fn utf8_validation_matches_std_on_every_short_sequence() {
    // From 32 bytes up, the wasm build validates with its own SIMD code;
    // native tests cover `simdutf8`'s.
    utf8::tests::check_is_valid();
    utf8::tests::check_random_pieces();
}

#[wasm_bindgen_test]
fn os_random_comes_from_crypto_get_random_values() {
    // Two clients with the default (OS) source pick different keys.
    let request = || Request { host: "h".into(), target: "/".into(), ..Default::default() };
    let a = WSConnection::new(ConnectionType::Client).send(request().into()).unwrap();
    let b = WSConnection::new(ConnectionType::Client).send(request().into()).unwrap();
    assert_ne!(a, b);
}

/// A frame header declaring 2^40 bytes, masked with a zero key.
const FRAME_OF_2_POW_40: [u8; 14] = [0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[wasm_bindgen_test]
fn frame_lengths_beyond_usize_stream_within_raised_limits() {
    // A 64-bit length of 2^40 on a 32-bit target, within the limits.
    let (_client, mut server) =
        pair(Config { max_message_size: u64::MAX, max_frame_size: u64::MAX, ..Config::default() });
    server.receive_data(Some(&FRAME_OF_2_POW_40)).unwrap();
    // The header alone gives no event (no close, no attempt to allocate 1 TiB)...
    assert_eq!(server.events().collect::<Vec<Event>>(), vec![]);
    assert_eq!(server.state(), ConnectionState::Open);
    // ...and each read of payload is one piece of the message, as it comes.
    let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let piece = BytesMessage { data: chunk.clone(), frame_finished: false, message_finished: false };
    for _ in 0..3 {
        server.receive_data(Some(&chunk)).unwrap();
        let events: Vec<Event> = server.events().collect();
        // The start of each event, to keep a failure readable.
        let short: Vec<String> = events.iter().map(|e| format!("{e:?}").chars().take(100).collect()).collect();
        assert!(matches!(events.as_slice(), [Event::BytesMessage(m)] if *m == piece), "{short:?}");
    }
}

#[wasm_bindgen_test]
fn frame_lengths_beyond_usize_are_refused_cleanly() {
    // The same length over the frame size limit: a 1009 close, no allocation.
    let (_client, mut server) = pair(Config { max_frame_size: 1 << 20, ..Config::default() });
    server.receive_data(Some(&FRAME_OF_2_POW_40)).unwrap();
    let close = CloseConnection::with_reason(1009, "frame of 1099511627776 bytes exceeds the limit");
    assert_eq!(server.events().collect::<Vec<Event>>(), vec![Event::CloseConnection(close)]);
}

#[wasm_bindgen_test]
fn closing_handshake_in_wasm() {
    let (mut client, mut server) = pair(Config::default());
    let frame = client.send(CloseConnection::new(1000).into()).unwrap();
    assert_eq!(client.state(), ConnectionState::LocalClosing);
    server.receive_data(Some(&frame)).unwrap();
    let close = match server.next_event() {
        Some(Event::CloseConnection(c)) => c,
        other => panic!("{other:?}"),
    };
    client.receive_data(Some(&server.send(close.response().into()).unwrap())).unwrap();
    assert_eq!(server.state(), ConnectionState::Closed);
    // The client's state moves when it takes the server's close.
    assert_eq!(client.state(), ConnectionState::LocalClosing);
    assert!(matches!(client.next_event(), Some(Event::CloseConnection(c)) if c.code == 1000));
    assert_eq!(client.state(), ConnectionState::Closed);
}
