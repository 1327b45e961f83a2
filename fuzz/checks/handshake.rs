//! The opening handshake on arbitrary bytes: a server `WSConnection`
//! reading a request, or a client `WSConnection` that sent its request
//! reading the response (101, or a refusal with a Content-Length, chunked
//! or read-until-EOF body), in fuzzer-chosen chunks, then frames, then EOF.
//!
//! Flags (byte 0, see common.rs for the layout):
//!   bit 0  role: 0 = server, 1 = client
//!   bit 1  server: accept the request (else refuse it); client: offer
//!          the subprotocols "chat" and "superchat"
//!   bit 2  server: pick the first offered subprotocol; client: offer the
//!          x-double extension
//!   bit 3  server: support the x-double extension; client: also offer a raw
//!          "x-raw; a=1" extension (no handler: accepting it is an error)
//!   bit 4  server: the refusal has a (chunked) body
//!   bit 5  end with receive_data(None)
//!   bit 6  small limits (max_handshake_size 512, max_headers 8)
//!   bit 7  server: on a handshake error, send the hinted response
//! More flags (high bits of byte 1):
//!   bit 4  server: answer the request only after the next chunk (or at the
//!          end), so that bytes following the request are held meanwhile
//!          (more than max_handshake_size of them fail the handshake)
//!
//! The client's key comes from SeededRandom::new(0):
//! Sec-WebSocket-Key "r80dezmoIOL0Zbmhap54bg==", so a valid 101 carries
//! Sec-WebSocket-Accept "iHMz0/J1GsQtRh2NfVC0Q7CZKMQ=".
//!
//! Asserts: no panic; events come in the only order the protocol allows;
//! a hinted response can always be sent; a handshake failure repeats itself;
//! received heads respect the limits; after the handshake the frame
//! invariants of common.rs hold.
use crate::common::{expect_closed_error, Checker, Doubler, Input};

use wsproto::events::{AcceptConnection, Event, RejectConnection, RejectData, Request};
use wsproto::extensions::Extension;
use wsproto::{Config, ConnectionState, ConnectionType, Error, SeededRandom, WSConnection};

/// The client's Sec-WebSocket-Key with SeededRandom::new(0).
const KEY: &[u8] = b"r80dezmoIOL0Zbmhap54bg==";

/// Runs one input.
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    if input.flags & 1 == 0 {
        server(&input);
    } else {
        client(&input);
    }
}

fn config(flags: u8) -> Config {
    if flags & 0x40 != 0 {
        Config { max_handshake_size: 512, max_headers: 8, ..Config::default() }
    } else {
        Config::default()
    }
}

/// Where the handshake stands, as the application sees it.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing decided yet.
    Connecting,
    /// Server: the request arrived and is not answered yet.
    Requested,
    /// The handshake succeeded: frames from now on.
    Open,
    /// Refused (sent or received); `done` once the body ended.
    Rejected { done: bool },
    /// Client: the refusal's body was malformed with this error, which
    /// every later call repeats.
    BrokenBody(Error),
    /// The handshake failed with this error.
    Failed(Error),
}

fn header_bytes(headers: &[(Vec<u8>, Vec<u8>)]) -> usize {
    headers.iter().map(|(n, v)| n.len() + v.len()).sum()
}

// ---- server ----------------------------------------------------------------

fn server(input: &Input<'_>) {
    let flags = input.flags;
    let delay = input.more & 0x01 != 0;
    let config = config(flags);
    let mut conn =
        WSConnection::with_config(ConnectionType::Server, config.clone()).with_random(Box::new(SeededRandom::new(3)));
    let mut phase = Phase::Connecting;
    let mut checker = Checker::new(config.max_message_size, Some(config.max_frame_size));
    let mut pending: Option<Request> = None;
    let mut answered = false;
    for chunk in input.chunks() {
        let state = conn.state();
        let result = conn.receive_data(Some(chunk));
        // Answer a request that waited for one more chunk, unless that
        // chunk was refused (too much held data): then only a refusal fits.
        if let Some(request) = pending.take() {
            if result.is_ok() {
                answer(&mut conn, &request, flags, &mut phase, &mut checker);
                answered = true;
            }
        }
        while let Some(event) = conn.next_event() {
            match (&phase, event) {
                (Phase::Connecting, Event::Request(request)) => {
                    check_request(&request, &config);
                    phase = Phase::Requested;
                    if delay {
                        pending = Some(request);
                    } else {
                        answer(&mut conn, &request, flags, &mut phase, &mut checker);
                        answered = true;
                    }
                }
                (Phase::Open, event) => checker.see(event),
                (phase, event) => panic!("event {event:?} in phase {phase:?}"),
            }
        }
        let failed_now = result.is_err() && matches!(phase, Phase::Connecting | Phase::Requested);
        on_result(&mut conn, &mut phase, result, state);
        if failed_now {
            // A failed handshake cannot be accepted any more.
            let state = conn.state();
            let mut out = Vec::new();
            assert!(conn.send_into(AcceptConnection::default().into(), &mut out).is_err());
            assert!(out.is_empty() && conn.state() == state);
        }
        if let (Phase::Failed(Error::Remote(e)), false) = (&phase, answered) {
            if flags & 0x80 != 0 {
                if let Some(hint) = e.event_hint().cloned() {
                    send_hint(&mut conn, hint);
                    answered = true;
                }
            }
        }
    }
    if let Some(request) = pending.take() {
        answer(&mut conn, &request, flags, &mut phase, &mut checker);
        conn.events().for_each(|e| checker.see(e));
    }
    finish(&mut conn, &mut phase, &mut checker, flags);
}

fn check_request(request: &Request, config: &Config) {
    // Everything kept came from a head within the limit. List elements are
    // decoded lossily (each invalid byte becomes a 3-byte U+FFFD), so they
    // may take up to three times their size on the wire.
    let raw = request.host.len() + request.target.len() + header_bytes(&request.extra_headers);
    assert!(raw <= config.max_handshake_size, "request of {raw} bytes");
    let lists = request.subprotocols.iter().chain(&request.extensions).map(String::len).sum::<usize>();
    assert!(lists <= 3 * config.max_handshake_size, "lists of {lists} bytes");
    assert!(request.extra_headers.len() <= config.max_headers);
    assert!(request.handlers.is_empty());
    assert!(!request.target.is_empty());
    for (name, _) in &request.extra_headers {
        assert!(!name.iter().any(u8::is_ascii_uppercase), "header names are lower-cased");
    }
    for element in request.subprotocols.iter().chain(&request.extensions) {
        assert!(!element.is_empty() && element.trim_matches([' ', '\t']) == element, "element {element:?}");
    }
}

/// The server's decision: accept (with or without a subprotocol and the
/// extension) or refuse (with or without a body). Sending it must succeed.
fn answer(conn: &mut WSConnection, request: &Request, flags: u8, phase: &mut Phase, checker: &mut Checker) {
    assert_eq!(conn.state(), ConnectionState::Connecting);
    if flags & 0x02 != 0 {
        let subprotocol = if flags & 0x04 != 0 { request.subprotocols.first().cloned() } else { None };
        let handlers: Vec<Box<dyn Extension>> =
            if flags & 0x08 != 0 { vec![Box::new(Doubler::default())] } else { vec![] };
        let accept = AcceptConnection {
            subprotocol,
            extensions: vec![],
            handlers,
            extra_headers: vec![(b"X-Fuzz".to_vec(), b"1".to_vec())],
        };
        let bytes = conn.send(accept.into()).expect("accepting a parsed request");
        assert!(bytes.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
        // Only extensions whose offer was made can be in use.
        for ext in conn.extensions() {
            assert_eq!(ext.name(), "x-double");
            assert!(request.extensions.iter().any(|offer| offer.starts_with("x-double")));
            *checker = Checker::new(checker.max_message, None);
        }
        // Held bytes were parsed at once: the state may have moved on.
        assert_ne!(conn.state(), ConnectionState::Connecting);
        *phase = Phase::Open;
    } else {
        let has_body = flags & 0x10 != 0;
        let reject = RejectConnection { status_code: 403, headers: vec![], has_body };
        let bytes = conn.send(reject.into()).expect("refusing a parsed request");
        assert!(bytes.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
        if has_body {
            assert_eq!(conn.state(), ConnectionState::Rejecting);
            conn.send(RejectData { data: b"no".to_vec(), body_finished: false }.into()).expect("body");
            conn.send(RejectData::new(b"!".to_vec()).into()).expect("end of body");
        }
        assert_eq!(conn.state(), ConnectionState::Closed);
        *phase = Phase::Rejected { done: true };
    }
}

fn send_hint(conn: &mut WSConnection, hint: Event) {
    let Event::RejectConnection(r) = &hint else { panic!("hint {hint:?}") };
    assert!(matches!(r.status_code, 400 | 426 | 431), "hint status {}", r.status_code);
    let status = r.status_code;
    let bytes = conn.send(hint).expect("a hinted response is always sendable");
    assert!(bytes.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
    assert_eq!(conn.state(), ConnectionState::Closed);
}

// ---- both --------------------------------------------------------------------

/// Checks what `receive_data` returned, given the phase (after the events
/// of the call were seen) and the state before the call.
fn on_result(conn: &mut WSConnection, phase: &mut Phase, result: Result<(), Error>, state_before: ConnectionState) {
    let err = match result {
        Ok(()) => {
            assert!(
                !matches!(phase, Phase::Failed(_) | Phase::BrokenBody(_)),
                "a failed handshake accepted more bytes"
            );
            return;
        }
        Err(err) => err,
    };
    match phase {
        Phase::Failed(first) => {
            assert_eq!(&err, first, "a failed handshake must keep failing the same way");
            return;
        }
        Phase::Open | Phase::Rejected { done: true } => {
            expect_closed_error(Err(err), state_before == ConnectionState::Closed);
            return;
        }
        Phase::Rejected { done: false } => {
            // A malformed refusal body.
            assert!(matches!(err, Error::Remote(_)), "{err:?}");
            assert_eq!(conn.state(), ConnectionState::Rejecting);
            *phase = Phase::BrokenBody(err);
            return;
        }
        Phase::BrokenBody(first) => {
            assert_eq!(&err, first, "a malformed body must keep failing the same way");
            return;
        }
        Phase::Connecting | Phase::Requested => {}
    }
    let Error::Remote(_) = &err else { panic!("local error {err:?} during the handshake") };
    assert_eq!(conn.state(), state_before, "a handshake error changed the state");
    *phase = Phase::Failed(err);
}

/// EOF (if asked) and the final checks shared by both roles.
fn finish(conn: &mut WSConnection, phase: &mut Phase, checker: &mut Checker, flags: u8) {
    if crate::common::debug() {
        eprintln!("phase {phase:?}, state {:?}, frame events {:?}", conn.state(), checker.norm);
    }
    if flags & 0x20 == 0 {
        return;
    }
    let state = conn.state();
    checker.eof();
    conn.receive_data(None).expect("EOF is always accepted");
    let events: Vec<Event> = conn.events().collect();
    match phase {
        Phase::Open => events.into_iter().for_each(|e| checker.see(e)),
        Phase::Rejected { done: false } if state != ConnectionState::Closed => match events.as_slice() {
            [Event::RejectData(RejectData { data, body_finished: true })] => assert!(data.is_empty()),
            [Event::CloseConnection(c)] => assert_eq!((c.code, c.reason.as_str()), (1006, "")),
            other => panic!("EOF while reading a refusal gave {other:?}"),
        },
        Phase::BrokenBody(_) => match events.as_slice() {
            // The body did not end properly: the transport closing is abnormal.
            [Event::CloseConnection(c)] => assert_eq!((c.code, c.reason.as_str()), (1006, "")),
            other => panic!("EOF after a malformed body gave {other:?}"),
        },
        _ if state == ConnectionState::Closed => assert!(events.is_empty(), "EOF after CLOSED gave {events:?}"),
        _ => match events.as_slice() {
            [Event::CloseConnection(c)] => assert_eq!((c.code, c.reason.as_str()), (1006, "")),
            other => panic!("EOF in {phase:?} gave {other:?}"),
        },
    }
    assert_eq!(conn.state(), ConnectionState::Closed);
    conn.receive_data(None).expect("second EOF");
    assert_eq!(conn.events().count(), 0);
}

// ---- client ----------------------------------------------------------------

fn client(input: &Input<'_>) {
    let flags = input.flags;
    let config = config(flags);
    let mut conn =
        WSConnection::with_config(ConnectionType::Client, config.clone()).with_random(Box::new(SeededRandom::new(0)));
    let subprotocols: Vec<String> = if flags & 0x02 != 0 { vec!["chat".into(), "superchat".into()] } else { vec![] };
    let handlers: Vec<Box<dyn Extension>> = if flags & 0x04 != 0 { vec![Box::new(Doubler::default())] } else { vec![] };
    let extensions = if flags & 0x08 != 0 { vec!["x-raw; a=1".to_string()] } else { vec![] };
    let request = Request {
        host: "example.com".into(),
        target: "/chat".into(),
        subprotocols: subprotocols.clone(),
        extensions,
        handlers,
        extra_headers: vec![],
    };
    let bytes = conn.send(request.into()).expect("a valid request");
    assert!(bytes.windows(KEY.len()).any(|w| w == KEY), "the seeded key changed");
    let mut phase = Phase::Connecting;
    let mut checker = Checker::new(config.max_message_size, Some(config.max_frame_size));
    for chunk in input.chunks() {
        let state = conn.state();
        let result = conn.receive_data(Some(chunk));
        while let Some(event) = conn.next_event() {
            match (&phase, event) {
                (Phase::Connecting, Event::AcceptConnection(accept)) => {
                    if let Some(p) = &accept.subprotocol {
                        assert!(subprotocols.contains(p), "unoffered subprotocol {p:?}");
                    }
                    assert_eq!(accept.extensions.len(), accept.handlers.len());
                    assert!(accept.handlers.iter().all(|h| h.name() == "x-double"));
                    assert!(accept.extra_headers.len() <= config.max_headers);
                    assert!(header_bytes(&accept.extra_headers) <= config.max_handshake_size);
                    phase = Phase::Open;
                    // With an extension the data may grow beyond the frame size.
                    if !accept.handlers.is_empty() {
                        checker = Checker::new(config.max_message_size, None);
                    }
                }
                (Phase::Connecting, Event::RejectConnection(reject)) => {
                    // RFC 9110 section 15 (tests/hostile.rs, status_below_100_is_refused).
                    assert!((100..=599).contains(&reject.status_code) && reject.status_code != 101);
                    assert!(reject.headers.len() <= config.max_headers);
                    phase = Phase::Rejected { done: !reject.has_body };
                }
                (Phase::Rejected { done: false }, Event::RejectData(d)) => {
                    if d.body_finished {
                        phase = Phase::Rejected { done: true };
                    } else {
                        assert!(!d.data.is_empty(), "an empty, unfinished RejectData");
                    }
                }
                (Phase::Open, event) => checker.see(event),
                (phase, event) => panic!("event {event:?} in phase {phase:?}"),
            }
        }
        if phase == (Phase::Rejected { done: true }) && conn.state() != ConnectionState::Closed {
            panic!("refusal complete but state {:?}", conn.state());
        }
        on_result(&mut conn, &mut phase, result, state);
    }
    finish(&mut conn, &mut phase, &mut checker, flags);
}
