//! Helpers shared by the `parity_*` suites (included with `mod parity_common;`).
//!
//! The parity suites check that the engine does everything Python
//! wsproto's own test-suite checks, with exact bytes and exact events.
//! Reference values marked "wsproto:" were produced by Python wsproto 1.3.2
//! (with its nonce generator pinned to the same key).
#![allow(dead_code)]

#[path = "common/frames.rs"]
mod frames;

use base64::Engine as _;
#[allow(unused_imports)]
pub use frames::{masked_with, plain, push_len};
use sha1::{Digest, Sha1};
use std::sync::{Arc, Mutex};
use wsproto::events::{Event, Headers, RejectConnection, Request};
use wsproto::extensions::Extension;
use wsproto::{
    ConnectionType, Error, LocalProtocolError, Opcode, ParseFailed, RandomSource, RemoteProtocolError, Rsv,
    SeededRandom, WSConnection,
};

/// The Sec-WebSocket-Key a client seeded with `SeededRandom::new(1)` sends.
pub const KEY1: &str = "wVwCiewtCpFn7I5loY3rvg==";
/// wsproto: `generate_accept_token(KEY1)`.
pub const ACCEPT1: &str = "N5nKR3YXrMAhPTm+l7izTUefAAo=";
/// RFC 6455's sample nonce and its accept token.
pub const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The mask key `masked` uses.
pub const MASK: [u8; 4] = *b"abcd";

/// A header pair.
pub fn h(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
    (name.as_bytes().to_vec(), value.as_bytes().to_vec())
}

/// Sec-WebSocket-Accept for `key`, computed independently of the engine.
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The key a client seeded with `seed` sends in its first request.
pub fn key_for_seed(seed: u64) -> String {
    let mut nonce = [0u8; 16];
    SeededRandom::new(seed).fill(&mut nonce).unwrap();
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

pub fn client() -> WSConnection {
    WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(1)))
}

pub fn server() -> WSConnection {
    WSConnection::new(ConnectionType::Server)
}

pub fn localhost() -> Request {
    Request { host: "localhost".into(), target: "/".into(), ..Default::default() }
}

/// A client (seed 1) that sent `request`; returns it and the request bytes.
pub fn client_sent(request: Request) -> (WSConnection, Vec<u8>) {
    let mut c = client();
    let bytes = c.send(request.into()).expect("send request");
    (c, bytes)
}

/// `lines` joined as an HTTP head (each line CRLF-terminated, then a blank line).
pub fn head(first: &str, lines: &[&str]) -> Vec<u8> {
    let mut out = format!("{first}\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The header lines of a valid request (as wsproto's server tests send them).
pub fn good_request_lines() -> Vec<String> {
    vec![
        "Host: localhost".into(),
        "Connection: Keep-Alive, Upgrade".into(),
        "Upgrade: websocket".into(),
        "Sec-WebSocket-Version: 13".into(),
        format!("Sec-WebSocket-Key: {RFC_KEY}"),
    ]
}

pub fn request_with(lines: &[String]) -> Vec<u8> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    head("GET / HTTP/1.1", &refs)
}

/// A valid request, plus `extra` header lines.
pub fn good_request(extra: &[&str]) -> Vec<u8> {
    let mut lines = good_request_lines();
    lines.extend(extra.iter().map(|s| s.to_string()));
    request_with(&lines)
}

/// A 101 answering KEY1, plus `extra` header lines.
pub fn response_101(extra: &[&str]) -> Vec<u8> {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT1}");
    let mut lines = vec!["Connection: Upgrade", "Upgrade: websocket", accept.as_str()];
    lines.extend_from_slice(extra);
    head("HTTP/1.1 101 Switching Protocols", &lines)
}

/// Drains all pending events.
pub fn drain(conn: &mut WSConnection) -> Vec<Event> {
    conn.events().collect()
}

/// Feeds bytes and drains the events, panicking on error.
pub fn feed(conn: &mut WSConnection, bytes: &[u8]) -> Vec<Event> {
    conn.receive_data(Some(bytes)).expect("receive_data");
    drain(conn)
}

/// The RemoteProtocolError of a failed `receive_data`.
pub fn remote(result: Result<(), Error>) -> RemoteProtocolError {
    match result {
        Err(Error::Remote(e)) => e,
        other => panic!("expected a RemoteProtocolError, got {other:?}"),
    }
}

/// The LocalProtocolError of a failed `receive_data`.
pub fn local(result: Result<(), Error>) -> LocalProtocolError {
    match result {
        Err(Error::Local(e)) => e,
        other => panic!("expected a LocalProtocolError, got {other:?}"),
    }
}

/// A `RejectConnection` hint as an event.
pub fn hint(status_code: u16, headers: Headers) -> Event {
    Event::RejectConnection(RejectConnection { status_code, headers, has_body: false })
}

/// Asserts a remote error's message and its hint (a bodiless RejectConnection).
pub fn assert_remote(err: &RemoteProtocolError, message: &str, status: u16, headers: Headers) {
    assert_eq!(err.message(), message);
    assert_eq!(err.event_hint(), Some(&hint(status, headers)), "hint for {message:?}");
}

/// A frame as a client sends it, masked with `MASK`.
pub fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    masked_with(MASK, first, payload)
}

/// Unmasks a frame a client sent (any length encoding); returns (first byte, payload).
pub fn unmask(frame: &[u8]) -> (u8, Vec<u8>) {
    assert!(frame[1] & 0x80 != 0, "client frames are masked");
    let (len, at) = match frame[1] & 0x7f {
        126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
        127 => (u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize, 10),
        n => (n as usize, 2),
    };
    let key = &frame[at..at + 4];
    let payload: Vec<u8> = frame[at + 4..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    assert_eq!(payload.len(), len);
    (frame[0], payload)
}

/// A source that always yields the same bytes (cycled): a fixed mask key.
#[derive(Debug, Clone)]
pub struct FixedRandom(pub Vec<u8>);

impl RandomSource for FixedRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LocalProtocolError> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.0[i % self.0.len()];
        }
        Ok(())
    }
}

/// wsproto's tests' `FakeExtension`: named "fake", with a configurable offer
/// and accept response, recording what it was offered and finalized with.
#[derive(Debug, Clone, Default)]
pub struct FakeExtension {
    /// Parameters to offer (client side); "" offers the bare name.
    pub offer_params: String,
    /// Server side: parameters to accept with, or `None` to decline.
    pub accept_response: Option<String>,
    /// Calls seen: "accept:<offer>" and "finalize:<response>".
    pub log: Arc<Mutex<Vec<String>>>,
}

impl FakeExtension {
    pub fn offering(params: &str) -> Self {
        FakeExtension { offer_params: params.into(), ..Default::default() }
    }
    pub fn accepting(response: Option<&str>) -> Self {
        FakeExtension { accept_response: response.map(String::from), ..Default::default() }
    }
    pub fn calls(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Extension for FakeExtension {
    fn name(&self) -> &str {
        "fake"
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn offer(&self) -> String {
        self.offer_params.clone()
    }
    fn accept(&mut self, offer: &str) -> Option<String> {
        self.log.lock().unwrap().push(format!("accept:{offer}"));
        self.accept_response.clone()
    }
    fn finalize(&mut self, response: &str) -> Result<(), String> {
        self.log.lock().unwrap().push(format!("finalize:{response}"));
        Ok(())
    }
    fn frame_inbound_header(&mut self, _opcode: Opcode, _rsv: Rsv, _len: u64) -> Result<Rsv, ParseFailed> {
        Ok(Rsv::NONE)
    }
}
