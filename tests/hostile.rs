//! Hostile input, drawn from the CVE history of WebSocket implementations.
//! Every case has an exact expected outcome (events, error message, close
//! code), and where the attack is about time or memory, a bound:
//!
//! - ReDoS in list headers (ws CVE-2021-32640: Sec-WebSocket-Protocol of
//!   spaces; similar extension-header parsers): linear time;
//! - prototype pollution through extension and protocol names (ws
//!   `__proto__` handling): names are plain strings, reported verbatim;
//! - header floods (ws CVE-2024-37890: many headers crash the server; h11
//!   and Node's http limits): 431;
//! - slowloris-style byte-at-a-time heads: linear time and memory;
//! - 64-bit lengths (integer overflow and allocate-by-declared-length bugs
//!   in many frame parsers; JS Numbers lose precision past 2^53): 1009 or
//!   1002 without allocating;
//! - floods of tiny frames and tiny reads, ping floods: bounded memory;
//! - bytes after a close: ignored, not buffered;
//! - header injection (CRLF / NUL in outgoing headers): LocalProtocolError,
//!   leaving no bytes and no state change behind.
//!
//! Memory is measured by a counting global allocator that tracks, per
//! thread, the bytes currently allocated, their peak, the total ever
//! allocated and the allocation calls. Linear time is checked by scaling,
//! not by a clock limit: 8x the input must cost about 8x (quadratic work
//! costs 64x) in allocation, counted exactly, and in this thread's CPU time,
//! which does not grow while other work has the CPU.

mod common;

use common::cpu::cpu_time;
use common::frames::{masked_with, plain};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use wsproto::events::{
    AcceptConnection, BytesMessage, CloseConnection, Event, Ping, RejectConnection, RejectData, Request, TextMessage,
};
use wsproto::extensions::Extension;
use wsproto::{
    Config, Connection, ConnectionState, ConnectionType, Error, LocalProtocolError, SeededRandom, WSConnection,
};

// ---- a counting allocator -------------------------------------------------------

struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one call that allocates (or grows) a block.
fn count_call() {
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

fn track(delta: isize) {
    // try_with: the thread's counters may already be gone at thread exit.
    let _ = CURRENT.try_with(|current| {
        let now = current.get() + delta;
        current.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        if delta > 0 {
            let _ = TOTAL.try_with(|total| total.set(total.get() + delta as usize));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size() as isize);
            count_call();
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(layout.size() as isize);
            count_call();
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(new_size as isize - layout.size() as isize);
            count_call();
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What `f` allocated on this thread: the peak above what was live before
/// it started, the total of every allocation it made, and how many calls
/// allocated or grew a block.
#[derive(Debug)]
struct Usage {
    peak: usize,
    total: usize,
    calls: usize,
}

fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let total_before = TOTAL.with(Cell::get);
    let calls_before = CALLS.with(Cell::get);
    let result = f();
    let peak = PEAK.with(Cell::get) - base;
    let total = TOTAL.with(Cell::get) - total_before;
    let calls = CALLS.with(Cell::get) - calls_before;
    (result, Usage { peak: peak.max(0) as usize, total, calls })
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Tests that time things or allocate a lot run one at a time, so that
/// they do not disturb each other's measurements.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How much larger the large input of a scaling check is than the small one.
const SCALE: usize = 8;

/// Checks that `work` costs about SCALE times more on `large` than on
/// `small` (SCALE times larger), where quadratic work would cost SCALE
/// times more again: allocated bytes and allocation calls (exact counts)
/// within 1.5x, CPU time within 3x plus 0.2 ms for clock granularity. The
/// time is the fastest of five runs on `small`, and of up to five on `large`
/// (run again while over the bound, unless far over it). Returns the large
/// input's result and allocation.
fn assert_linear<I: ?Sized, R>(what: &str, small: &I, large: &I, mut work: impl FnMut(&I) -> R) -> (R, Usage) {
    let mut run = |input: &I| {
        let start = cpu_time();
        let (result, usage) = measure(|| work(input));
        (result, usage, cpu_time() - start)
    };
    let (_, small_usage, mut small_time) = run(small);
    for _ in 1..5 {
        small_time = small_time.min(run(small).2);
    }
    let (mut result, large_usage, mut large_time) = run(large);
    let (small_total, large_total) = (small_usage.total, large_usage.total);
    assert!(large_total <= small_total * SCALE * 3 / 2 + KIB, "{what}: allocated {small_total} then {large_total}");
    let (small_calls, large_calls) = (small_usage.calls, large_usage.calls);
    assert!(large_calls <= small_calls * SCALE * 3 / 2 + 16, "{what}: {small_calls} allocations then {large_calls}");
    let bound = small_time * (3 * SCALE) as u32 + Duration::from_micros(200);
    for _ in 1..5 {
        if large_time < bound || large_time > 2 * bound {
            break;
        }
        let (again, _, time) = run(large);
        (result, large_time) = (again, large_time.min(time));
    }
    assert!(large_time < bound, "{what}: CPU time {small_time:?} then {large_time:?}");
    (result, large_usage)
}

// ---- helpers ----------------------------------------------------------------------

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The key a client seeded with SeededRandom::new(0) sends, and its accept token.
const KEY0: &str = "r80dezmoIOL0Zbmhap54bg==";
const ACCEPT0: &str = "iHMz0/J1GsQtRh2NfVC0Q7CZKMQ=";
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A request head with the five required headers, then `extra` lines.
fn request_head(extra: &[&[u8]]) -> Vec<u8> {
    let mut head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".to_vec();
    head.extend_from_slice(format!("Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n").as_bytes());
    for line in extra {
        head.extend_from_slice(line);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// A request head of exactly `size` bytes (padded with an X-Pad header).
fn request_of_size(size: usize) -> Vec<u8> {
    let base = request_head(&[]).len() + b"X-Pad: \r\n".len();
    let pad = format!("X-Pad: {}", "p".repeat(size - base));
    let head = request_head(&[pad.as_bytes()]);
    assert_eq!(head.len(), size);
    head
}

/// A 101 response to KEY0 with `extra` lines.
fn response_head(extra: &[&[u8]]) -> Vec<u8> {
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".to_vec();
    head.extend_from_slice(format!("Sec-WebSocket-Accept: {ACCEPT0}\r\n").as_bytes());
    for line in extra {
        head.extend_from_slice(line);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn big_limits() -> Config {
    Config { max_handshake_size: 4 * MIB, ..Config::default() }
}

fn server_with(config: Config) -> WSConnection {
    WSConnection::with_config(ConnectionType::Server, config)
}

/// A client that sent its request (offering `subprotocols`) with key KEY0.
fn client_with(config: Config, subprotocols: &[&str]) -> WSConnection {
    let mut client =
        WSConnection::with_config(ConnectionType::Client, config).with_random(Box::new(SeededRandom::new(0)));
    let request = Request {
        host: "example.com".into(),
        target: "/chat".into(),
        subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    };
    let bytes = client.send(request.into()).expect("request");
    assert!(String::from_utf8_lossy(&bytes).contains(KEY0));
    client
}

/// Feeds `bytes` in one call: the result and the events.
fn feed(conn: &mut WSConnection, bytes: &[u8]) -> (Result<(), Error>, Vec<Event>) {
    let result = conn.receive_data(Some(bytes));
    (result, conn.events().collect())
}

/// The request a server reads from `head` (which must be accepted).
fn request_from(config: Config, head: &[u8]) -> Request {
    let mut server = server_with(config);
    let (result, events) = feed(&mut server, head);
    result.expect("a valid request");
    match events.as_slice() {
        [Event::Request(r)] => r.clone(),
        other => panic!("expected one Request, got {other:?}"),
    }
}

/// Asserts a remote error with this message and a bodiless hint with `status`.
fn assert_remote(result: Result<(), Error>, message: &str, status: u16) {
    match result {
        Err(Error::Remote(e)) => {
            assert_eq!(e.message(), message);
            match e.event_hint() {
                Some(Event::RejectConnection(r)) => assert_eq!(r.status_code, status, "hint for {message:?}"),
                other => panic!("hint {other:?} for {message:?}"),
            }
        }
        other => panic!("expected remote error {message:?}, got {other:?}"),
    }
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    masked_with(MASK, first, payload)
}

/// A frame header declaring `len` bytes with the 8-byte length form.
fn header64(first: u8, len: u64, masked: bool) -> Vec<u8> {
    let mut out = vec![first, if masked { 0xFF } else { 0x7F }];
    out.extend_from_slice(&len.to_be_bytes());
    if masked {
        out.extend_from_slice(&MASK);
    }
    out
}

fn conn(role: ConnectionType, config: Config) -> Connection {
    Connection::with_config(role, vec![], b"", config)
}

fn close(code: u16, reason: &str) -> Event {
    Event::CloseConnection(CloseConnection::with_reason(code, reason))
}

/// An extension that accepts every offer and finalizes every response,
/// optionally answering or offering with the given parameters.
#[derive(Clone, Debug)]
struct Plain {
    name: &'static str,
    params: &'static str,
}

impl Extension for Plain {
    fn name(&self) -> &str {
        self.name
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn offer(&self) -> String {
        self.params.to_owned()
    }
    fn accept(&mut self, _offer: &str) -> Option<String> {
        Some(self.params.to_owned())
    }
    fn finalize(&mut self, _response: &str) -> Result<(), String> {
        Ok(())
    }
}

// ---- ReDoS-shaped list headers -----------------------------------------------------

/// Shapes that make backtracking list parsers (`/^\s*|\s*,\s*|\s*$/`-style
/// regexes, nested quantifiers over quoted strings) take quadratic or
/// exponential time, `n` bytes each, with the elements a correct parser yields.
fn redos_shapes(n: usize) -> Vec<(&'static str, Vec<u8>, Vec<String>)> {
    let mut unclosed = b"a; p=\"".to_vec();
    unclosed.extend(std::iter::repeat(b',').take(n));
    let unclosed_element = String::from_utf8(unclosed.clone()).unwrap();
    let mut backslashes = b"b; q=\"".to_vec();
    backslashes.extend(std::iter::repeat(b'\\').take(n));
    let backslash_element = String::from_utf8(backslashes.clone()).unwrap();
    let mut space_then_x = vec![b' '; n];
    space_then_x.push(b'x');
    vec![
        ("spaces", vec![b' '; n], vec![]),
        ("tabs and spaces", b" \t".repeat(n / 2), vec![]),
        ("spaces, then a token", space_then_x, vec!["x".to_owned()]),
        ("commas", vec![b','; n], vec![]),
        ("' ,'", b" ,".repeat(n / 2), vec![]),
        ("one-letter elements", b"a,".repeat(n / 2), vec!["a".to_owned(); n / 2]),
        ("an unclosed quote before commas", unclosed, vec![unclosed_element]),
        ("quote pairs", b"\"\"".repeat(n / 2), vec!["\"\"".repeat(n / 2)]),
        ("backslashes in a quote", backslashes, vec![backslash_element]),
        ("';'", vec![b';'; n], vec![";".repeat(n)]),
    ]
}

#[test]
fn redos_shaped_request_lists_are_parsed_in_linear_time() {
    let _serial = serial();
    let small = redos_shapes(8 * KIB);
    for ((what, small_value, _), (_, value, expected)) in small.into_iter().zip(redos_shapes(SCALE * 8 * KIB)) {
        for name in ["Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"] {
            let head = |value: &[u8]| request_head(&[&[format!("{name}: ").as_bytes(), value].concat()]);
            let what = format!("{name}: {what}");
            let (request, _) =
                assert_linear(&what, &head(&small_value), &head(&value), |head| request_from(big_limits(), head));
            let got = if name == "Sec-WebSocket-Protocol" { &request.subprotocols } else { &request.extensions };
            assert_eq!(got, &expected, "{what}");
        }
    }
}

#[test]
fn redos_shaped_lists_over_the_default_limit_are_431_at_once() {
    let _serial = serial();
    // Refused on the byte that fills the limit: what is read and kept is
    // the limit's worth, however long the head.
    let large = redos_shapes(512 * KIB);
    for ((what, value, _), (_, large_value, _)) in redos_shapes(64 * KIB).into_iter().zip(large) {
        let mut usages = Vec::new();
        for value in [value, large_value] {
            let head = request_head(&[&[&b"Sec-WebSocket-Protocol: "[..], &value].concat()]);
            let mut server = WSConnection::new(ConnectionType::Server);
            let ((result, events), usage) = measure(|| feed(&mut server, &head));
            assert_remote(result, "HTTP head exceeds 16384 bytes", 431);
            assert_eq!(events, vec![]);
            assert!(usage.total < 18 * KIB, "{what}: {usage:?}");
            usages.push((usage.total, usage.calls));
        }
        assert_eq!(usages[0], usages[1], "{what}: the same work for 64 KiB and 512 KiB");
    }
}

#[test]
fn redos_shaped_response_lists_are_parsed_in_linear_time() {
    let _serial = serial();
    let n = 8 * KIB;
    let response = |line: &[u8], value: &[u8]| response_head(&[&[line, value].concat()]);
    // Extensions: nothing but whitespace and commas names no extension.
    for (what, unit) in [("spaces", &b" "[..]), ("commas", b","), ("' ,\\t'", b" ,\t")] {
        let (small, large) = (unit.repeat(n / unit.len()), unit.repeat(SCALE * n / unit.len()));
        let line = b"Sec-WebSocket-Extensions: ";
        let ((result, events), _) = assert_linear(what, &response(line, &small), &response(line, &large), |head| {
            feed(&mut client_with(big_limits(), &[]), head)
        });
        result.expect("accepted");
        match events.as_slice() {
            [Event::AcceptConnection(a)] => assert_eq!((a.extensions.len(), a.subprotocol.as_ref()), (0, None)),
            other => panic!("{other:?}"),
        }
    }
    // An unclosed quote swallows the rest: one element, naming nothing offered.
    let line = b"Sec-WebSocket-Extensions: x; p=\"";
    let (small, large) = (vec![b','; n], vec![b','; SCALE * n]);
    let ((result, events), _) =
        assert_linear("unclosed quote", &response(line, &small), &response(line, &large), |head| {
            feed(&mut client_with(big_limits(), &[]), head)
        });
    assert_remote(result, "unrecognized extension x", 400);
    assert_eq!(events, vec![]);
    // The subprotocol is one value, not a list: a value of spaces is empty,
    // which was not offered.
    let line = b"Sec-WebSocket-Protocol: ";
    let (small, large) = (vec![b' '; n], vec![b' '; SCALE * n]);
    let ((result, events), _) =
        assert_linear("blank subprotocol", &response(line, &small), &response(line, &large), |head| {
            feed(&mut client_with(big_limits(), &["chat"]), head)
        });
    assert_remote(result, "unrecognized subprotocol ", 400);
    assert_eq!(events, vec![]);
}

// ---- prototype-pollution-shaped names ------------------------------------------------

const PROTO_NAMES: [&str; 6] =
    ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString", "__defineGetter__"];

#[test]
fn prototype_names_are_reported_verbatim_and_declined() {
    let list = PROTO_NAMES.join(", ");
    let offers = format!("Sec-WebSocket-Extensions: {list}, __proto__; constructor=1; prototype=\"x\"");
    let protocols = format!("Sec-WebSocket-Protocol: {list}");
    let head = request_head(&[offers.as_bytes(), protocols.as_bytes(), b"__proto__: polluted", b"constructor: x"]);
    let mut server = WSConnection::new(ConnectionType::Server);
    let (result, events) = feed(&mut server, &head);
    result.expect("a valid request");
    let [Event::Request(request)] = events.as_slice() else { panic!("{events:?}") };
    let mut expected_offers: Vec<String> = PROTO_NAMES.iter().map(|s| s.to_string()).collect();
    expected_offers.push("__proto__; constructor=1; prototype=\"x\"".into());
    assert_eq!(request.extensions, expected_offers);
    assert_eq!(request.subprotocols, PROTO_NAMES);
    let tail: Vec<(Vec<u8>, Vec<u8>)> = request.extra_headers.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(tail, vec![(b"__proto__".to_vec(), b"polluted".to_vec()), (b"constructor".to_vec(), b"x".to_vec())]);
    // A server supporting another extension declines them all: no
    // extensions header, no extension in use. Choosing "__proto__" as the
    // subprotocol is just choosing a string the client offered.
    let accept = AcceptConnection {
        subprotocol: Some("__proto__".into()),
        handlers: vec![Box::new(Plain { name: "permessage-deflate", params: "" })],
        ..AcceptConnection::default()
    };
    let bytes = server.send(accept.into()).expect("accept");
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("Sec-WebSocket-Extensions"), "{text}");
    assert!(text.contains("\r\nSec-WebSocket-Protocol: __proto__\r\n"), "{text}");
    assert!(server.extensions().is_empty());
}

#[test]
fn prototype_names_in_a_response_are_refused_unless_offered() {
    for name in PROTO_NAMES {
        // An extension the client never offered.
        let line = format!("Sec-WebSocket-Extensions: {name}");
        let mut client = client_with(Config::default(), &[]);
        let (result, events) = feed(&mut client, &response_head(&[line.as_bytes()]));
        assert_remote(result, &format!("unrecognized extension {name}"), 400);
        assert_eq!(events, vec![]);
        // A subprotocol the client never offered.
        let line = format!("Sec-WebSocket-Protocol: {name}");
        let mut client = client_with(Config::default(), &["chat"]);
        let (result, _) = feed(&mut client, &response_head(&[line.as_bytes()]));
        assert_remote(result, &format!("unrecognized subprotocol {name}"), 400);
        // Offered, it is accepted like any other string.
        let mut client = client_with(Config::default(), &["chat", name]);
        let (result, events) = feed(&mut client, &response_head(&[line.as_bytes()]));
        result.expect("accepted");
        let [Event::AcceptConnection(a)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(a.subprotocol.as_deref(), Some(name));
    }
}

// ---- missing, duplicated and too many headers -------------------------------------------

#[test]
fn a_request_without_upgrade_is_refused() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut server = WSConnection::new(ConnectionType::Server);
    let (result, events) = feed(&mut server, head);
    assert_remote(result.clone(), "Missing header, 'Upgrade: websocket'", 400);
    assert_eq!(events, vec![]);
    // The failure sticks: a valid request afterwards is not read.
    assert_eq!(feed(&mut server, &request_head(&[])), (result, vec![]));
    assert_eq!(server.state(), ConnectionState::Connecting);
}

#[test]
fn a_101_without_upgrade_is_refused() {
    let head =
        format!("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT0}\r\n\r\n");
    let mut client = client_with(Config::default(), &[]);
    let (result, events) = feed(&mut client, head.as_bytes());
    assert_remote(result, "Missing header, 'Upgrade: websocket'", 400);
    assert_eq!(events, vec![]);
    assert_eq!(client.state(), ConnectionState::Connecting);
}

#[test]
fn duplicated_singleton_headers_are_refused() {
    for (line, name) in [
        (&b"Host: evil.example"[..], "Host"),
        (b"HOST: example.com", "Host"),
        (b"Upgrade: websocket", "Upgrade"),
        (b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==", "Sec-WebSocket-Key"),
        (b"sec-websocket-version: 13", "Sec-WebSocket-Version"),
    ] {
        let mut server = WSConnection::new(ConnectionType::Server);
        let (result, events) = feed(&mut server, &request_head(&[line]));
        assert_remote(result, &format!("Duplicate header, '{name}'"), 400);
        assert_eq!(events, vec![]);
    }
    let accept_line = format!("Sec-WebSocket-Accept: {ACCEPT0}");
    for (line, name) in [(&b"Upgrade: websocket"[..], "Upgrade"), (accept_line.as_bytes(), "Sec-WebSocket-Accept")] {
        let mut client = client_with(Config::default(), &[]);
        let (result, events) = feed(&mut client, &response_head(&[line]));
        assert_remote(result, &format!("Duplicate header, '{name}'"), 400);
        assert_eq!(events, vec![]);
    }
    let mut client = client_with(Config::default(), &["a"]);
    let (result, _) = feed(&mut client, &response_head(&[b"Sec-WebSocket-Protocol: a", b"Sec-WebSocket-Protocol: a"]));
    assert_remote(result, "Duplicate header, 'Sec-WebSocket-Protocol'", 400);
}

#[test]
fn duplicated_list_headers_are_joined() {
    let request = request_from(
        Config::default(),
        &request_head(&[
            b"Sec-WebSocket-Protocol: a",
            b"Sec-WebSocket-Protocol: b, a",
            b"Sec-WebSocket-Extensions: x",
            b"sec-websocket-extensions: x",
            b"Connection: keep-alive",
        ]),
    );
    assert_eq!(request.subprotocols, ["a", "b", "a"]);
    assert_eq!(request.extensions, ["x", "x"]);
}

#[test]
fn two_thousand_headers_are_431() {
    let _serial = serial();
    // Short lines, so that the head fits the size limit.
    let lines: Vec<Vec<u8>> = (0..2000).map(|i| format!("X: {}", i % 10).into_bytes()).collect();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let head = request_head(&refs);
    assert!(head.len() < 16 * KIB, "fits the size limit: the count is what fails");
    let mut server = WSConnection::new(ConnectionType::Server);
    let ((result, events), usage) = measure(|| feed(&mut server, &head));
    assert_remote(result, "Too many headers", 431);
    assert_eq!(events, vec![]);
    // The header table is sized by the limit (100), not by the input.
    assert!(usage.peak < 64 * KIB, "{usage:?}");
    // Raised limits: all 2005 are read, in linear time (2000 headers cost
    // about 8x what 250 do).
    let config = Config { max_headers: 4000, ..big_limits() };
    let small = request_head(&refs[..2000 / SCALE]);
    let (request, _) = assert_linear("2000 headers", &small, &head, |head| request_from(config.clone(), head));
    assert_eq!(request.extra_headers.len(), 2000 + 4);
    // The same for a response.
    let mut head = response_head(&refs);
    let mut client = client_with(Config::default(), &[]);
    let (result, events) = feed(&mut client, &head);
    assert_remote(result, "Too many headers", 431);
    assert_eq!(events, vec![]);
    // And for a refusal.
    head.splice(..12, b"HTTP/1.1 403".iter().copied());
    let mut client = client_with(Config::default(), &[]);
    assert_remote(feed(&mut client, &head).0, "Too many headers", 431);
}

#[test]
fn the_header_count_limit_is_exact() {
    let lines: Vec<Vec<u8>> = (0..95).map(|i| format!("X-{i}: {i}").into_bytes()).collect();
    let mut refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    assert_eq!(request_from(Config::default(), &request_head(&refs)).extra_headers.len(), 99);
    refs.push(b"X-One-More: 1");
    let mut server = WSConnection::new(ConnectionType::Server);
    assert_remote(feed(&mut server, &request_head(&refs)).0, "Too many headers", 431);
}

// ---- heads fed one byte at a time ------------------------------------------------------

/// Feeds `head` one byte per call; returns the index of the call that
/// failed, if one did, and the events.
fn feed_bytewise(conn: &mut WSConnection, head: &[u8]) -> (Option<(usize, Error)>, Vec<Event>) {
    let mut events = Vec::new();
    for (i, byte) in head.iter().enumerate() {
        let result = conn.receive_data(Some(std::slice::from_ref(byte)));
        events.extend(conn.events());
        if let Err(e) = result {
            return (Some((i, e)), events);
        }
    }
    (None, events)
}

#[test]
fn a_16_kib_handshake_one_byte_at_a_time_is_linear() {
    let _serial = serial();
    let (small, head) = (request_of_size(16 * KIB / SCALE), request_of_size(16 * KIB));
    let ((failure, events), usage) = assert_linear("16 KiB bytewise", &small, &head, |head| {
        feed_bytewise(&mut WSConnection::new(ConnectionType::Server), head)
    });
    assert!(failure.is_none(), "{failure:?}");
    assert!(matches!(events.as_slice(), [Event::Request(r)] if r.target == "/chat"));
    // The head is kept once (capacity doubling: at most 2x, plus the parse),
    // growing a logarithmic number of times, not once per byte.
    assert!(usage.total < 8 * 16 * KIB, "{usage:?}");
    assert!(usage.calls < 100, "{usage:?}");
    // One more byte and the head no longer fits: refused on the byte that
    // fills the limit without ending the head.
    let head = request_of_size(16 * KIB + 1);
    let mut server = WSConnection::new(ConnectionType::Server);
    let (failure, events) = feed_bytewise(&mut server, &head);
    let (index, error) = failure.expect("refused");
    assert_eq!(index, 16 * KIB - 1);
    assert_remote(Err(error), "HTTP head exceeds 16384 bytes", 431);
    assert_eq!(events, vec![]);
}

#[test]
fn bytewise_heads_scale_linearly() {
    let _serial = serial();
    // Heads over the default limit (raised): 8x the bytes must cost about
    // 8x, not 64x.
    let (small, large) = (request_of_size(8 * KIB), request_of_size(SCALE * 8 * KIB));
    let ((failure, events), usage) =
        assert_linear("64 KiB bytewise", &small, &large, |head| feed_bytewise(&mut server_with(big_limits()), head));
    assert!(failure.is_none() && events.len() == 1, "{failure:?} {events:?}");
    assert!(usage.total < 8 * 64 * KIB, "{usage:?}");
    assert!(usage.calls < 100, "{usage:?}");
}

/// A 101 response to KEY0 of exactly `size` bytes (padded with an X-Pad header).
fn response_of_size(size: usize) -> Vec<u8> {
    let base = response_head(&[]).len() + b"X-Pad: \r\n".len();
    let pad = format!("X-Pad: {}", "p".repeat(size - base));
    let head = response_head(&[pad.as_bytes()]);
    assert_eq!(head.len(), size);
    head
}

#[test]
fn a_16_kib_response_one_byte_at_a_time_is_linear() {
    let _serial = serial();
    let (small, head) = (response_of_size(16 * KIB / SCALE), response_of_size(16 * KIB));
    let ((failure, events), usage) = assert_linear("16 KiB response bytewise", &small, &head, |head| {
        feed_bytewise(&mut client_with(Config::default(), &[]), head)
    });
    assert!(failure.is_none(), "{failure:?}");
    assert!(matches!(events.as_slice(), [Event::AcceptConnection(_)]));
    assert!(usage.total < 8 * 16 * KIB, "{usage:?}");
    assert!(usage.calls < 100, "{usage:?}");
}

// ---- 64-bit lengths ------------------------------------------------------------------

#[test]
fn huge_64_bit_lengths_close_with_1009_without_allocating() {
    for len in [(1u64 << 63) - 1, (1u64 << 53) + 1, (1u64 << 32) + 1, 64 * MIB as u64 + 1] {
        for role in [ConnectionType::Server, ConnectionType::Client] {
            let header = header64(0x82, len, role == ConnectionType::Server);
            let mut c = conn(role, Config::default());
            let (events, usage) = measure(|| {
                c.receive_data(Some(&header)).unwrap();
                c.events().collect::<Vec<_>>()
            });
            assert_eq!(events, vec![close(1009, &format!("frame of {len} bytes exceeds the limit"))], "{role:?}");
            assert!(usage.peak < 4 * KIB, "{len}: {usage:?}");
            // Whatever payload follows is ignored, not buffered.
            let (_, usage) = measure(|| c.receive_data(Some(&vec![0u8; MIB][..])).unwrap());
            assert!(usage.peak <= MIB + 4 * KIB, "{usage:?}");
            assert_eq!(c.events().count(), 0);
        }
    }
}

#[test]
fn huge_64_bit_lengths_within_raised_limits_stream_in_bounded_memory() {
    let _serial = serial();
    let config = Config { max_frame_size: u64::MAX, max_message_size: u64::MAX, ..Config::default() };
    for len in [(1u64 << 63) - 1, (1u64 << 53) + 1] {
        let mut c = conn(ConnectionType::Client, config.clone());
        let chunk = vec![7u8; 64 * KIB];
        let (received, usage) = measure(|| {
            c.receive_data(Some(&header64(0x82, len, false))).unwrap();
            assert_eq!(c.events().count(), 0, "a header alone says nothing");
            let mut received = 0usize;
            for _ in 0..16 {
                c.receive_data(Some(&chunk)).unwrap();
                for event in c.events() {
                    let Event::BytesMessage(m) = event else { panic!("{event:?}") };
                    assert!(!m.frame_finished && !m.message_finished);
                    received += m.data.len();
                }
            }
            received
        });
        assert_eq!(received, MIB);
        // Bounded by one chunk's event, whatever the declared length.
        assert!(usage.peak < 256 * KIB, "{len}: {usage:?}");
    }
}

#[test]
fn a_64_bit_length_with_the_msb_set_is_1002() {
    for len in [1u64 << 63, u64::MAX, (1u64 << 63) | 0xFFFF_FFFF] {
        for role in [ConnectionType::Server, ConnectionType::Client] {
            let config = Config { max_frame_size: u64::MAX, max_message_size: u64::MAX, ..Config::default() };
            let mut c = conn(role, config);
            let header = header64(0x82, len, role == ConnectionType::Server);
            let (events, usage) = measure(|| {
                c.receive_data(Some(&header)).unwrap();
                c.events().collect::<Vec<_>>()
            });
            assert_eq!(events, vec![close(1002, "8-byte payload length with non-zero MSB")], "{len:#x} {role:?}");
            assert!(usage.peak < 4 * KIB, "{usage:?}");
        }
    }
}

#[test]
fn fragment_lengths_that_would_overflow_a_sum() {
    // A peer cannot make the declared lengths of several fragments add up
    // (each fragment must end before the next begins), but it can declare
    // 2^63-1 after others. The message size counts received bytes in u64;
    // the check compares exactly, with no wrap-around.
    let frag1 = masked(0x02, b"12345");
    let frag2 = header64(0x00, (1 << 63) - 1, true);
    let total = 5 + ((1u64 << 63) - 1); // 2^63 + 4
    for (max_message, expected) in
        [(total - 1, vec![close(1009, "message exceeds the size limit")]), (total, vec![]), (u64::MAX, vec![])]
    {
        let config = Config { max_frame_size: u64::MAX, max_message_size: max_message, ..Config::default() };
        let mut c = conn(ConnectionType::Server, config);
        c.receive_data(Some(&frag1)).unwrap();
        assert_eq!(c.events().count(), 1);
        let (events, usage) = measure(|| {
            c.receive_data(Some(&frag2)).unwrap();
            c.events().collect::<Vec<_>>()
        });
        assert_eq!(events, expected, "max_message_size {max_message}");
        assert!(usage.peak < 4 * KIB, "{usage:?}");
    }
    // With the default limits the frame limit speaks first.
    let mut c = conn(ConnectionType::Server, Config::default());
    c.receive_data(Some(&frag1)).unwrap();
    c.receive_data(Some(&frag2)).unwrap();
    let events: Vec<Event> = c.events().collect();
    assert_eq!(events.last(), Some(&close(1009, &format!("frame of {} bytes exceeds the limit", (1u64 << 63) - 1))));
    // Many full-size fragments: the message limit counts across them.
    let config = Config { max_frame_size: 65535, max_message_size: 4 * 65535, ..Config::default() };
    let mut c = conn(ConnectionType::Server, config);
    let frag = masked(0x00, &[0u8; 65535]);
    c.receive_data(Some(&masked(0x02, &[0u8; 65535]))).unwrap();
    for _ in 0..3 {
        c.receive_data(Some(&frag)).unwrap();
    }
    c.receive_data(Some(&masked(0x80, b"x"))).unwrap();
    let events: Vec<Event> = c.events().collect();
    assert_eq!(events.len(), 5);
    assert_eq!(events.last(), Some(&close(1009, "message exceeds the size limit")));
}

// ---- floods of tiny frames and tiny reads -----------------------------------------------

#[test]
fn a_million_empty_continuation_frames_in_bounded_memory() {
    let _serial = serial();
    const N: usize = 1_000_000;
    const PER_CHUNK: usize = 1000;
    let mut c = conn(ConnectionType::Server, Config::default());
    let empty_continuation = masked(0x00, b"");
    assert_eq!(empty_continuation.len(), 6);
    let chunk = empty_continuation.repeat(PER_CHUNK);
    let (counts, usage) = measure(|| {
        c.receive_data(Some(&masked(0x01, b""))).unwrap();
        let mut counts = (0usize, 0usize); // (events, max pending at once)
        let mut pending = Vec::with_capacity(PER_CHUNK + 1);
        for _ in 0..N / PER_CHUNK {
            c.receive_data(Some(&chunk)).unwrap();
            pending.extend(c.events());
            counts.1 = counts.1.max(pending.len());
            for event in pending.drain(..) {
                assert_eq!(
                    event,
                    Event::TextMessage(TextMessage {
                        data: String::new(),
                        frame_finished: true,
                        message_finished: false
                    })
                );
                counts.0 += 1;
            }
        }
        c.receive_data(Some(&masked(0x80, b"end"))).unwrap();
        let last: Vec<Event> = c.events().collect();
        assert_eq!(last, vec![Event::TextMessage(TextMessage::new("end"))]);
        counts
    });
    // One event per frame (as wsproto), the first included.
    assert_eq!(counts.0, N + 1);
    // Nothing accumulates across calls: at most one chunk's events are pending.
    assert_eq!(counts.1, PER_CHUNK + 1);
    assert!(usage.peak < 2 * MIB, "{usage:?}");
}

#[test]
fn a_million_one_byte_reads_in_bounded_memory() {
    let _serial = serial();
    const N: usize = 1_000_000;
    // A binary message of a million bytes, one byte per receive_data call.
    let payload: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let frame = masked(0x82, &payload);
    let mut c = conn(ConnectionType::Server, Config::default());
    let ((events, bytes_ok), usage) = measure(|| {
        let (mut events, mut bytes_ok) = (0usize, true);
        for (i, byte) in frame.iter().enumerate() {
            c.receive_data(Some(std::slice::from_ref(byte))).unwrap();
            for event in c.events() {
                let Event::BytesMessage(m) = event else { panic!("{event:?}") };
                let offset = i - 14;
                bytes_ok &= m.data == [payload[offset]] && m.frame_finished == (offset == N - 1);
                events += 1;
            }
        }
        (events, bytes_ok)
    });
    assert!(bytes_ok);
    assert_eq!(events, N, "one event per payload byte, none for the 14 header bytes");
    assert!(usage.peak < 64 * KIB, "{usage:?}");
    // Text: a two-byte code point split across reads comes out whole, once.
    let text = "é".repeat(N / 2);
    let frame = masked(0x81, text.as_bytes());
    let mut c = conn(ConnectionType::Server, Config::default());
    let (events, usage) = measure(|| {
        let mut events = 0;
        for byte in &frame {
            c.receive_data(Some(std::slice::from_ref(byte))).unwrap();
            for event in c.events() {
                let Event::TextMessage(m) = event else { panic!("{event:?}") };
                assert_eq!(m.data, "é");
                events += 1;
            }
        }
        events
    });
    assert_eq!(events, N / 2);
    assert!(usage.peak < 64 * KIB, "{usage:?}");
}

#[test]
fn a_million_one_byte_reads_of_a_handshake_and_frames() {
    let _serial = serial();
    // The handshake and then 100k one-byte pings, all one byte per call.
    let mut wire = request_head(&[]);
    for i in 0..100_000u32 {
        wire.extend(masked(0x89, &[i as u8]));
    }
    assert!(wire.len() > 700_000);
    let mut server = WSConnection::new(ConnectionType::Server);
    let (pings, usage) = measure(|| {
        let mut pings = 0u32;
        for byte in &wire {
            server.receive_data(Some(std::slice::from_ref(byte))).unwrap();
            while let Some(event) = server.next_event() {
                match event {
                    Event::Request(_) => {
                        server.send(AcceptConnection::default().into()).unwrap();
                    }
                    Event::Ping(p) => {
                        assert_eq!(p.payload, [pings as u8]);
                        pings += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        pings
    });
    assert_eq!(pings, 100_000);
    assert!(usage.peak < 64 * KIB, "{usage:?}");
}

#[test]
fn a_hundred_thousand_pings_in_one_chunk() {
    let _serial = serial();
    const N: u32 = 100_000;
    let mut wire = Vec::new();
    for i in 0..N {
        wire.extend(masked(0x89, &i.to_be_bytes()));
    }
    assert_eq!(wire.len(), 1_000_000);
    let mut c = conn(ConnectionType::Server, Config::default());
    let (_, usage) = measure(|| c.receive_data(Some(&wire)).unwrap());
    // Proportional to the input: one queued event (and its 4-byte payload)
    // per 10-byte ping, the queue growing by doubling.
    let per_event = std::mem::size_of::<Event>() + 4;
    assert!(usage.peak <= 2 * N as usize * per_event + 64 * KIB, "{usage:?} ({per_event} B/event)");
    let events: Vec<Event> = c.events().collect();
    assert_eq!(events.len(), N as usize);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event, &Event::Ping(Ping::new((i as u32).to_be_bytes())));
    }
    // Answering them all is possible and exact.
    let mut replies = Vec::new();
    for event in events {
        let Event::Ping(p) = event else { unreachable!() };
        c.send_into(p.response().into(), &mut replies).unwrap();
    }
    assert_eq!(replies.len(), N as usize * 6);
    assert_eq!(&replies[..6], b"\x8a\x04\x00\x00\x00\x00");
}

#[test]
fn the_worst_event_amplification_is_bounded_by_the_read() {
    let _serial = serial();
    // The densest input: empty unmasked pings to a client, 2 bytes each.
    // Events are parsed eagerly into the queue, so one read of 64 KiB
    // queues 32768 events. Memory is proportional to the read (not to
    // anything declared), and draining between reads keeps it there.
    let read = b"\x89\x00".repeat(32 * KIB);
    let mut c = conn(ConnectionType::Client, Config::default());
    let (_, usage) = measure(|| c.receive_data(Some(&read)).unwrap());
    let events = 32 * KIB;
    assert!(usage.peak <= 2 * events * std::mem::size_of::<Event>(), "{usage:?}");
    assert!(c.events().all(|e| e == Event::Ping(Ping::new(vec![]))));
    // The queue's memory is reused: ten more reads, drained as they come,
    // allocate nothing new for the queue.
    let (_, usage) = measure(|| {
        for _ in 0..10 {
            c.receive_data(Some(&read)).unwrap();
            assert_eq!(c.events().count(), events);
        }
    });
    assert!(usage.peak < 64 * KIB, "{usage:?}");
}

// ---- bytes after a close ---------------------------------------------------------------

#[test]
fn a_close_followed_by_a_mebibyte_of_garbage_ignores_the_garbage() {
    let _serial = serial();
    let garbage = vec![0xFFu8; MIB];
    for role in [ConnectionType::Server, ConnectionType::Client] {
        let is_server = role == ConnectionType::Server;
        let mut wire = if is_server { masked(0x88, b"\x03\xe8bye") } else { plain(0x88, b"\x03\xe8bye") };
        wire.extend_from_slice(&garbage);
        let mut c = conn(role, Config::default());
        let (events, usage) = measure(|| {
            c.receive_data(Some(&wire)).unwrap();
            c.events().collect::<Vec<_>>()
        });
        assert_eq!(events, vec![close(1000, "bye")]);
        assert_eq!(c.state(), ConnectionState::RemoteClosing);
        assert!(usage.peak < 4 * KIB, "the garbage is not copied: {usage:?}");
        // More garbage: still nothing.
        let (_, usage) = measure(|| c.receive_data(Some(&garbage)).unwrap());
        assert!(usage.peak < 4 * KIB, "{usage:?}");
        assert_eq!(c.events().count(), 0);
        // The reply closes; after that, data is an error.
        c.send(CloseConnection::new(1000).into()).unwrap();
        assert_eq!(c.state(), ConnectionState::Closed);
        assert_eq!(
            c.receive_data(Some(b"x")),
            Err(Error::Local(LocalProtocolError::new("Connection already closed.")))
        );
    }
    // After our own close, the peer's reply ends it; garbage behind it is ignored.
    let mut c = conn(ConnectionType::Server, Config::default());
    c.send(CloseConnection::new(1001).into()).unwrap();
    let mut wire = masked(0x88, b"\x03\xe9");
    wire.extend_from_slice(&garbage);
    c.receive_data(Some(&wire)).unwrap();
    assert_eq!(c.events().collect::<Vec<_>>(), vec![close(1001, "")]);
    assert_eq!(c.state(), ConnectionState::Closed);
    // After a protocol failure, too.
    let mut c = conn(ConnectionType::Server, Config::default());
    let mut wire = masked(0x83, b"");
    wire.extend_from_slice(&garbage);
    c.receive_data(Some(&wire)).unwrap();
    assert_eq!(c.events().collect::<Vec<_>>(), vec![close(1002, "Invalid opcode 0x3")]);
    c.receive_data(Some(&garbage)).unwrap();
    assert_eq!(c.events().count(), 0);
}

#[test]
fn a_close_right_after_the_handshake_in_the_same_chunk() {
    // The request, a close and garbage in one read: the server holds the
    // frames until it accepts, then reads the close and ignores the rest.
    let mut wire = request_head(&[]);
    wire.extend(masked(0x88, b"\x03\xe8"));
    wire.extend_from_slice(&[0xFF; 1000]);
    let mut server = WSConnection::new(ConnectionType::Server);
    let (result, events) = feed(&mut server, &wire);
    result.unwrap();
    assert!(matches!(events.as_slice(), [Event::Request(_)]));
    server.send(AcceptConnection::default().into()).unwrap();
    assert_eq!(server.events().collect::<Vec<_>>(), vec![close(1000, "")]);
    assert_eq!(server.state(), ConnectionState::RemoteClosing);
}

// ---- the refusal body ---------------------------------------------------------------

#[test]
fn a_huge_content_length_streams_without_allocating() {
    let _serial = serial();
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 18446744073709551615\r\n\r\n";
    let mut client = client_with(Config::default(), &[]);
    let (result, events) = feed(&mut client, head);
    result.unwrap();
    assert_eq!(
        events,
        vec![Event::RejectConnection(RejectConnection {
            status_code: 403,
            headers: vec![(b"content-length".to_vec(), b"18446744073709551615".to_vec())],
            has_body: true
        })]
    );
    let chunk = vec![b'z'; 64 * KIB];
    let (received, usage) = measure(|| {
        let mut received = 0;
        for _ in 0..16 {
            client.receive_data(Some(&chunk)).unwrap();
            for event in client.events() {
                let Event::RejectData(d) = event else { panic!("{event:?}") };
                assert!(!d.body_finished);
                received += d.data.len();
            }
        }
        received
    });
    assert_eq!(received, MIB);
    assert!(usage.peak < 256 * KIB, "{usage:?}");
    // EOF before the declared end is abnormal.
    client.receive_data(None).unwrap();
    assert_eq!(client.events().collect::<Vec<_>>(), vec![close(1006, "")]);
}

#[test]
fn hostile_chunked_bodies() {
    let _serial = serial();
    let head = b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n";
    // A chunk size that overflows u64.
    let mut client = client_with(Config::default(), &[]);
    feed(&mut client, head).0.unwrap();
    client.events().for_each(drop);
    let (result, events) = feed(&mut client, b"10000000000000000\r\n");
    assert_remote(result, "Bad chunked encoding: invalid chunk size", 400);
    assert_eq!(events, vec![]);
    // The largest size streams like any other.
    let mut client = client_with(Config::default(), &[]);
    feed(&mut client, head).0.unwrap();
    client.events().for_each(drop);
    let (result, events) = feed(&mut client, b"ffffffffffffffff\r\nabc");
    result.unwrap();
    assert_eq!(events, vec![Event::RejectData(RejectData { data: b"abc".to_vec(), body_finished: false })]);
    // A chunk-size line of a mebibyte (chunk extensions) is refused without
    // being buffered.
    let mut client = client_with(Config::default(), &[]);
    feed(&mut client, head).0.unwrap();
    client.events().for_each(drop);
    let mut line = b"5;x=".to_vec();
    line.extend(std::iter::repeat(b'y').take(MIB));
    let ((result, events), usage) = measure(|| feed(&mut client, &line));
    assert_remote(result, "Bad chunked encoding: chunk-size line too long", 400);
    assert_eq!(events, vec![]);
    assert!(usage.peak < 64 * KIB, "{usage:?}");
    // Endless trailer lines are read, not kept.
    let mut client = client_with(Config::default(), &[]);
    feed(&mut client, head).0.unwrap();
    client.events().for_each(drop);
    feed(&mut client, b"0\r\n").0.unwrap();
    let trailer = b"X-T: 1\r\n".repeat(128 * KIB);
    let ((result, events), usage) = measure(|| feed(&mut client, &trailer));
    result.unwrap();
    assert_eq!(events, vec![]);
    assert!(usage.peak < 4 * KIB, "{usage:?}");
    let (result, events) = feed(&mut client, b"\r\n");
    result.unwrap();
    assert_eq!(events, vec![Event::RejectData(RejectData { data: vec![], body_finished: true })]);
    assert_eq!(client.state(), ConnectionState::Closed);
}

#[test]
fn body_errors_are_sticky() {
    // After a malformed chunked body, bytes that would be valid again are
    // not read: the same error repeats, with no events.
    let head = b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX";
    let mut client = client_with(Config::default(), &[]);
    let (result, events) = feed(&mut client, head);
    assert_remote(result.clone(), "Bad chunked encoding: missing CRLF after chunk data", 400);
    let reject = Event::RejectConnection(RejectConnection {
        status_code: 403,
        headers: vec![(b"transfer-encoding".to_vec(), b"chunked".to_vec())],
        has_body: true,
    });
    // Body bytes decoded in the read that fails come before the failure,
    // as in wsproto.
    let data = Event::RejectData(RejectData { data: b"abc".to_vec(), body_finished: false });
    assert_eq!(events, vec![reject.clone(), data.clone()]);
    assert_eq!(feed(&mut client, b"\r\n0\r\n\r\n"), (result.clone(), vec![]));
    assert_eq!(client.state(), ConnectionState::Rejecting);
    client.receive_data(None).unwrap();
    assert_eq!(client.events().collect::<Vec<_>>(), vec![close(1006, "")]);
    // In two reads, the good bytes are delivered before the failure.
    let mut client = client_with(Config::default(), &[]);
    let (ok, events) = feed(&mut client, &head[..head.len() - 2]);
    ok.unwrap();
    assert_eq!(events, vec![reject.clone(), data]);
    assert_eq!(feed(&mut client, b"XX"), (result.clone(), vec![]));
    // Several good chunks, then a bad one, in one read: all of them first.
    let mut client = client_with(Config::default(), &[]);
    let (failed, events) = feed(
        &mut client,
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\nworld!\r\nZZ\r\n",
    );
    assert!(failed.is_err());
    // (One RejectData per read, where wsproto gives one per chunk.)
    let data = Event::RejectData(RejectData { data: b"helloworld!".to_vec(), body_finished: false });
    assert_eq!(events, vec![reject, data]);
}

#[test]
fn status_below_100_is_refused() {
    // RFC 9110 section 15: status codes are 100-599 (three digits, first 1-5);
    // h11 (and so wsproto) refuses anything below 100 as a RemoteProtocolError.
    for status in ["000", "011", "099", "600", "999"] {
        let head = format!("HTTP/1.1 {status} Odd\r\nContent-Length: 0\r\n\r\n");
        let mut client = client_with(Config::default(), &[]);
        let (result, events) = feed(&mut client, head.as_bytes());
        assert_remote(result, "Bad HTTP message", 400);
        assert_eq!(events, vec![], "status {status}");
    }
}

// ---- bytes held before the server answers ----------------------------------------------

#[test]
fn too_much_data_behind_a_request() {
    let _serial = serial();
    // More than max_handshake_size behind the request in the same read: the
    // handshake fails before the request is reported, and the excess is
    // not kept.
    let mut wire = request_head(&[]);
    wire.extend(std::iter::repeat(0u8).take(MIB));
    let mut server = WSConnection::new(ConnectionType::Server);
    let ((result, events), usage) = measure(|| feed(&mut server, &wire));
    assert_remote(result.clone(), "too much data before the handshake completed", 400);
    assert_eq!(events, vec![]);
    assert!(usage.peak < 64 * KIB, "{usage:?}");
    assert_eq!(feed(&mut server, &request_head(&[])), (result, vec![]), "the failure sticks");
}

#[test]
fn too_much_data_held_while_the_server_decides() {
    // The request, then reads while the application decides: at most
    // max_handshake_size bytes are held.
    let mut server = WSConnection::new(ConnectionType::Server);
    let (result, events) = feed(&mut server, &request_head(&[]));
    result.unwrap();
    assert!(matches!(events.as_slice(), [Event::Request(_)]));
    let piece = vec![0u8; 4 * KIB];
    for _ in 0..4 {
        server.receive_data(Some(&piece)).unwrap();
    }
    let result = server.receive_data(Some(b"!"));
    assert_remote(result.clone(), "too much data before the handshake completed", 400);
    // The failure sticks, and the connection can no longer be accepted:
    // the refused bytes are gone, so the frame stream would be out of step.
    assert_eq!(server.receive_data(Some(b"")), result);
    let err = server.send(AcceptConnection::default().into()).unwrap_err();
    assert_eq!(err.message(), "Event AcceptConnection cannot be sent in state CONNECTING.");
    // The hint can be sent.
    let Err(Error::Remote(e)) = result else { unreachable!() };
    let bytes = server.send(e.event_hint().unwrap().clone()).unwrap();
    assert!(bytes.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(server.state(), ConnectionState::Closed);
}

// ---- header injection ------------------------------------------------------------------

const INJECTIONS: [&str; 5] = ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\0b", "\r\n\r\nGET / HTTP/1.1"];

/// Sends `event`, expecting a LocalProtocolError with `message` that
/// appends nothing and leaves the state as it was.
fn refused(conn: &mut WSConnection, event: Event, message: &str) {
    let state = conn.state();
    let mut out = b"already here".to_vec();
    let err = conn.send_into(event, &mut out).expect_err(message);
    assert_eq!(err.message(), message);
    assert_eq!(out, b"already here", "a refused event appended bytes");
    assert_eq!(conn.state(), state);
}

fn localhost() -> Request {
    Request { host: "localhost".into(), target: "/".into(), ..Request::default() }
}

#[test]
fn crlf_and_nul_in_request_fields_are_refused() {
    let header_error = |name: &str| format!("Illegal header value for {name}: CR, LF and NUL are not allowed");
    for bad in INJECTIONS {
        let cases: Vec<(Request, String)> = vec![
            (Request { host: bad.into(), ..localhost() }, format!("Invalid host {bad:?}")),
            (
                Request { target: format!("/{bad}"), ..localhost() },
                format!("Invalid request target {:?}", format!("/{bad}")),
            ),
            (
                Request { subprotocols: vec!["chat".into(), bad.into()], ..localhost() },
                format!("Invalid subprotocol {bad:?}"),
            ),
            (Request { extensions: vec![bad.into()], ..localhost() }, header_error("Sec-WebSocket-Extensions")),
            (
                Request { handlers: vec![Box::new(Plain { name: "x", params: "p=1\r\nX-Evil: 1" })], ..localhost() },
                header_error("Sec-WebSocket-Extensions"),
            ),
            (
                Request { extra_headers: vec![(b"X-A".to_vec(), bad.as_bytes().to_vec())], ..localhost() },
                header_error("X-A"),
            ),
            (
                Request { extra_headers: vec![(bad.as_bytes().to_vec(), b"v".to_vec())], ..localhost() },
                format!("Illegal header name {bad:?}"),
            ),
        ];
        for (request, message) in cases {
            let mut client = WSConnection::new(ConnectionType::Client);
            refused(&mut client, request.into(), &message);
            // The refusal left nothing behind: a valid request still goes out.
            assert!(client.send(localhost().into()).is_ok());
        }
    }
}

#[test]
fn crlf_and_nul_in_server_responses_are_refused() {
    for bad in INJECTIONS {
        let value_error = |name: &str| format!("Illegal header value for {name}: CR, LF and NUL are not allowed");
        let new_server = || {
            let mut server = WSConnection::new(ConnectionType::Server);
            feed(&mut server, &request_head(&[b"Sec-WebSocket-Extensions: x"])).0.unwrap();
            server.events().for_each(drop);
            server
        };
        let accept_cases: Vec<(AcceptConnection, String)> = vec![
            (
                AcceptConnection {
                    extra_headers: vec![(b"X-A".to_vec(), bad.as_bytes().to_vec())],
                    ..Default::default()
                },
                value_error("X-A"),
            ),
            (
                AcceptConnection {
                    extra_headers: vec![(bad.as_bytes().to_vec(), b"v".to_vec())],
                    ..Default::default()
                },
                format!("Illegal header name {bad:?}"),
            ),
            // An extension answering with an injection.
            (
                AcceptConnection {
                    handlers: vec![Box::new(Plain { name: "x", params: "p\r\nX-Evil: 1" })],
                    ..Default::default()
                },
                value_error("Sec-WebSocket-Extensions"),
            ),
        ];
        for (accept, message) in accept_cases {
            let mut server = new_server();
            refused(&mut server, accept.into(), &message);
            assert_eq!(server.state(), ConnectionState::Connecting);
            assert!(server.extensions().is_empty());
            // The refusal left nothing behind: a valid accept still goes out.
            assert!(server.send(AcceptConnection::default().into()).is_ok());
            assert_eq!(server.state(), ConnectionState::Open);
        }
        let reject_cases: Vec<(RejectConnection, String)> = vec![
            (
                RejectConnection { headers: vec![(b"X-A".to_vec(), bad.as_bytes().to_vec())], ..Default::default() },
                value_error("X-A"),
            ),
            (
                RejectConnection { headers: vec![(bad.as_bytes().to_vec(), b"v".to_vec())], ..Default::default() },
                format!("Illegal header name {bad:?}"),
            ),
        ];
        for (reject, message) in reject_cases {
            let mut server = new_server();
            refused(&mut server, reject.into(), &message);
            assert!(server.send(RejectConnection::default().into()).is_ok());
            assert_eq!(server.state(), ConnectionState::Closed);
        }
        // A refusal body is bytes, not headers: anything goes, framed.
        let mut server = new_server();
        server.send(RejectConnection { has_body: true, ..Default::default() }.into()).unwrap();
        let body = server.send(RejectData::new(bad.as_bytes().to_vec()).into()).unwrap();
        assert_eq!(body, [format!("{:x}\r\n", bad.len()).as_bytes(), bad.as_bytes(), b"\r\n0\r\n\r\n"].concat());
    }
}

#[test]
fn crlf_and_nul_in_an_upgrade_from_a_framework_are_refused() {
    for bad in INJECTIONS {
        let headers = vec![(b"Host".to_vec(), b"a".to_vec()), (b"X-A".to_vec(), bad.as_bytes().to_vec())];
        let mut server = WSConnection::new(ConnectionType::Server);
        match server.initiate_upgrade_connection(&headers, "/") {
            Err(Error::Local(e)) => {
                assert_eq!(e.message(), "Illegal header value for X-A: CR, LF and NUL are not allowed")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.events().count(), 0);
        let mut server = WSConnection::new(ConnectionType::Server);
        match server.initiate_upgrade_connection(&[], &format!("/{bad}")) {
            Err(Error::Local(e)) => assert_eq!(e.message(), format!("invalid request target {:?}", format!("/{bad}"))),
            other => panic!("{other:?}"),
        }
    }
}

// ---- odds and ends from the CVE lists -----------------------------------------------------

#[test]
fn received_heads_with_nul_or_bad_bytes_are_400() {
    for head in [
        &b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"[..],
        b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nX Y: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\n folded: 1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", // a TLS ClientHello on a plain port
    ] {
        let mut server = WSConnection::new(ConnectionType::Server);
        let (result, events) = feed(&mut server, head);
        assert_remote(result, "Bad HTTP message", 400);
        assert_eq!(events, vec![]);
    }
}

#[test]
fn an_oversized_key_is_invalid_not_buffered_twice() {
    let _serial = serial();
    let key = format!("Sec-WebSocket-Key: {}", "A".repeat(12 * KIB));
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".to_vec();
    head.extend_from_slice(key.as_bytes());
    head.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let mut server = WSConnection::new(ConnectionType::Server);
    let ((result, events), usage) = measure(|| feed(&mut server, &head));
    assert_remote(result, "Invalid header, 'Sec-WebSocket-Key'", 400);
    assert_eq!(events, vec![]);
    assert!(usage.peak < 4 * head.len(), "{usage:?}");
}

#[test]
fn a_flood_of_tiny_messages_is_exact() {
    let _serial = serial();
    // 200k one-byte text messages in one read: all delivered, in order.
    let mut wire = Vec::new();
    for i in 0..200_000u32 {
        wire.extend(masked(0x81, &[b'a' + (i % 26) as u8]));
    }
    let mut c = conn(ConnectionType::Server, Config::default());
    c.receive_data(Some(&wire)).unwrap();
    let mut n = 0u32;
    for event in c.events() {
        assert_eq!(event, Event::TextMessage(TextMessage::new(((b'a' + (n % 26) as u8) as char).to_string())));
        n += 1;
    }
    assert_eq!(n, 200_000);
    // And binary, answered one by one.
    let mut c = conn(ConnectionType::Client, Config::default());
    let wire = plain(0x82, b"x").repeat(100_000);
    c.receive_data(Some(&wire)).unwrap();
    assert!(c.events().all(|e| e == Event::BytesMessage(BytesMessage::new(b"x".to_vec()))));
}
