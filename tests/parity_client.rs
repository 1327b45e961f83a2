//! Parity with wsproto's tests/test_client.py, plus the client-side
//! handshake rules of issue 2: the request on the wire, the validation of
//! the 101, and the reading of a refusal.
//!
//! wsproto cases not ported:
//! - `test_connection_request_tuple_extra_headers`: "headers may be any
//!   sequence" is a Python typing matter; Rust's `Headers` is one type.
//! - `test_connection_request_simple_extension_no_offer`: a wsproto extension
//!   may decline to be offered (`offer()` returning False); ours always
//!   offers, and an application that does not want one leaves it out of
//!   `Request::handlers` (covered by `no_extensions_header_without_offers`).

mod parity_common;

use parity_common::*;
use wsproto::events::{
    AcceptConnection, BytesMessage, CloseConnection, Event, Ping, Pong, RejectConnection, RejectData, Request,
    TextMessage,
};
use wsproto::extensions::Extension;
use wsproto::{Config, ConnectionState, ConnectionType, RandomSource, SeededRandom, WSConnection};

fn text(s: &str) -> String {
    s.to_string()
}

/// The client's request, as text.
fn request_text(request: Request) -> String {
    let (_, bytes) = client_sent(request);
    String::from_utf8(bytes).unwrap()
}

/// A client that sent the default request and read `response`.
fn client_reading(response: &[u8]) -> (WSConnection, Result<(), wsproto::Error>) {
    let (mut c, _) = client_sent(localhost());
    let result = c.receive_data(Some(response));
    (c, result)
}

fn client_offering(subprotocols: &[&str], handlers: Vec<Box<dyn Extension>>) -> WSConnection {
    let request =
        Request { subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(), handlers, ..localhost() };
    client_sent(request).0
}

fn reject(status_code: u16, headers: Vec<(Vec<u8>, Vec<u8>)>, has_body: bool) -> Event {
    Event::RejectConnection(RejectConnection { status_code, headers, has_body })
}

fn data(bytes: &[u8], body_finished: bool) -> Event {
    Event::RejectData(RejectData { data: bytes.to_vec(), body_finished })
}

// ---- the request (test_connection_request*) -------------------------------

#[test]
fn connection_request_exact_bytes() {
    // wsproto: WSConnection(CLIENT).send(Request(host="localhost", target="/")) with the same nonce.
    let (c, bytes) = client_sent(localhost());
    assert_eq!(
        bytes,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: wVwCiewtCpFn7I5loY3rvg==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    assert_eq!(c.state(), ConnectionState::Connecting);
}

#[test]
fn connection_request_with_everything_exact_bytes() {
    // wsproto: the same request with subprotocols, an extension offering
    // "p=1" and extra headers, byte for byte.
    let request = Request {
        host: "example.com:8080".into(),
        target: "/chat?x=1".into(),
        subprotocols: vec![text("chat"), text("superchat")],
        handlers: vec![Box::new(FakeExtension::offering("p=1"))],
        extra_headers: vec![h("Origin", "http://example.com"), h("X-Foo", "Bar")],
        ..Default::default()
    };
    assert_eq!(
        request_text(request),
        "GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: wVwCiewtCpFn7I5loY3rvg==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: fake; p=1\r\n\
         Origin: http://example.com\r\nX-Foo: Bar\r\n\r\n"
    );
}

#[test]
fn connection_request_additional_headers() {
    let request = Request { extra_headers: vec![h("X-Foo", "Bar"), h("X-Bar", "Foo")], ..localhost() };
    assert!(request_text(request).ends_with("Sec-WebSocket-Version: 13\r\nX-Foo: Bar\r\nX-Bar: Foo\r\n\r\n"));
}

#[test]
fn extra_headers_keep_their_case_order_and_duplicates() {
    let request = Request {
        extra_headers: vec![h("x-lower", "a"), h("X-UPPER", "b"), h("x-lower", "c"), h("X-Empty", "")],
        ..localhost()
    };
    assert!(request_text(request).ends_with("13\r\nx-lower: a\r\nX-UPPER: b\r\nx-lower: c\r\nX-Empty: \r\n\r\n"));
}

#[test]
fn connection_request_simple_extension() {
    let request = Request { handlers: vec![Box::new(FakeExtension::offering(""))], ..localhost() };
    assert!(request_text(request).ends_with("Version: 13\r\nSec-WebSocket-Extensions: fake\r\n\r\n"));
}

#[test]
fn connection_request_parametrised_extension() {
    let offer = "parameter1=value1; parameter2=value2";
    let request = Request { handlers: vec![Box::new(FakeExtension::offering(offer))], ..localhost() };
    assert!(
        request_text(request).ends_with("Sec-WebSocket-Extensions: fake; parameter1=value1; parameter2=value2\r\n\r\n")
    );
}

#[test]
fn handler_offers_come_before_raw_offers() {
    let request = Request {
        handlers: vec![Box::new(FakeExtension::offering("p=1"))],
        extensions: vec![text("x-raw"), text("x-other; q")],
        ..localhost()
    };
    assert!(request_text(request).ends_with("Sec-WebSocket-Extensions: fake; p=1, x-raw, x-other; q\r\n\r\n"));
}

#[test]
fn no_extensions_header_without_offers() {
    // Differs from wsproto: an extension cannot decline to be offered; not
    // listing it is how it is not offered.
    let text = request_text(localhost());
    assert!(!text.to_ascii_lowercase().contains("sec-websocket-extensions"));
    assert!(!text.to_ascii_lowercase().contains("sec-websocket-protocol"));
}

#[test]
fn connection_request_subprotocols() {
    let request = Request { subprotocols: vec![text("one"), text("two")], ..localhost() };
    assert!(request_text(request).ends_with("Version: 13\r\nSec-WebSocket-Protocol: one, two\r\n\r\n"));
}

#[test]
fn request_key_is_drawn_from_the_random_source() {
    let mut keys = Vec::new();
    for seed in [1u64, 2, 3, 0xDEAD_BEEF] {
        let mut c = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(seed)));
        let bytes = c.send(localhost().into()).unwrap();
        let key = key_for_seed(seed);
        assert_eq!(key.len(), 24);
        assert!(key.ends_with("=="));
        let line = format!("\r\nSec-WebSocket-Key: {key}\r\n");
        assert!(String::from_utf8(bytes).unwrap().contains(&line), "seed {seed}");
        keys.push(key);
    }
    assert_eq!(keys[0], KEY1);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "every seed gives a different key");
}

#[test]
fn default_random_source_gives_fresh_valid_keys() {
    let mut keys = Vec::new();
    for _ in 0..8 {
        let mut c = WSConnection::new(ConnectionType::Client);
        let bytes = String::from_utf8(c.send(localhost().into()).unwrap()).unwrap();
        let key = bytes.split("Sec-WebSocket-Key: ").nth(1).unwrap().split("\r\n").next().unwrap().to_string();
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(&key).unwrap();
        assert_eq!(raw.len(), 16, "{key}");
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8);
}

#[test]
fn accept_token_helper_matches_wsproto() {
    assert_eq!(accept_for(KEY1), ACCEPT1);
    assert_eq!(accept_for(RFC_KEY), RFC_ACCEPT);
}

// ---- states (test_connection_send_state) ----------------------------------

#[test]
fn connection_send_state() {
    let mut c = client();
    assert_eq!(c.state(), ConnectionState::Connecting);
    c.send(localhost().into()).unwrap();
    assert_eq!(c.state(), ConnectionState::Connecting);
    assert_eq!(feed(&mut c, &response_101(&[])), vec![Event::AcceptConnection(AcceptConnection::default())]);
    assert_eq!(c.state(), ConnectionState::Open);
    let err = c.send(localhost().into()).unwrap_err();
    assert_eq!(err.message(), "Event Request cannot be sent in state OPEN.");
    // "foobar" is not a valid frame: one close event (0x66: opcode 6 is reserved).
    assert_eq!(
        feed(&mut c, b"foobar"),
        vec![Event::CloseConnection(CloseConnection::with_reason(1002, "Invalid opcode 0x6"))]
    );
}

#[test]
fn second_request_is_refused_while_connecting() {
    let (mut c, _) = client_sent(localhost());
    let err = c.send(localhost().into()).unwrap_err();
    assert_eq!(err.message(), "Event Request cannot be sent in state CONNECTING.");
}

#[test]
fn events_refused_while_connecting() {
    let events: Vec<Event> = vec![
        TextMessage::new("x").into(),
        BytesMessage::new(*b"x").into(),
        Ping::default().into(),
        Pong::default().into(),
        CloseConnection::new(1000).into(),
        AcceptConnection::default().into(),
        RejectConnection::default().into(),
        RejectData::new(*b"x").into(),
    ];
    for sent_request in [false, true] {
        for event in &events {
            let mut c = client();
            if sent_request {
                c.send(localhost().into()).unwrap();
            }
            let err = c.send(event.clone()).unwrap_err();
            assert_eq!(err.message(), format!("Event {} cannot be sent in state CONNECTING.", event.name()));
            assert_eq!(c.state(), ConnectionState::Connecting);
        }
    }
}

// ---- the 101 (test_handshake*) --------------------------------------------

#[test]
fn handshake() {
    let (mut c, result) = client_reading(&response_101(&[]));
    result.unwrap();
    assert_eq!(drain(&mut c), vec![Event::AcceptConnection(AcceptConnection::default())]);
    assert_eq!(c.state(), ConnectionState::Open);
}

#[test]
fn handshake_with_h11_style_lowercase_headers() {
    // wsproto: the 101 an h11 server writes (lower-case names, empty reason phrase).
    let response = format!(
        "HTTP/1.1 101 \r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: {ACCEPT1}\r\n\r\n"
    );
    let (mut c, result) = client_reading(response.as_bytes());
    result.unwrap();
    assert_eq!(drain(&mut c), vec![Event::AcceptConnection(AcceptConnection::default())]);
}

#[test]
fn handshake_header_names_and_tokens_are_case_insensitive() {
    let response = head(
        "HTTP/1.1 101 Switching Protocols",
        &["CONNECTION: keep-alive, UPGRADE", "uPgRaDe: WebSocket", &format!("SEC-WEBSOCKET-ACCEPT: {ACCEPT1}")],
    );
    let (mut c, result) = client_reading(&response);
    result.unwrap();
    assert_eq!(drain(&mut c), vec![Event::AcceptConnection(AcceptConnection::default())]);
}

#[test]
fn connection_upgrade_may_be_in_any_connection_header() {
    let response = response_101(&["Connection: keep-alive"]);
    let (_, result) = client_reading(&response);
    result.unwrap();
    let response = head(
        "HTTP/1.1 101 Switching Protocols",
        &[
            "Connection: keep-alive",
            "Connection: upgrade",
            "Upgrade: websocket",
            &format!("Sec-WebSocket-Accept: {ACCEPT1}"),
        ],
    );
    let (_, result) = client_reading(&response);
    result.unwrap();
}

#[test]
fn broken_handshake_102() {
    // wsproto: the exact informational response h11 writes.
    let response = format!(
        "HTTP/1.1 102 \r\nconnection: Upgrade\r\nupgrade: websocket\r\nSec-WebSocket-Accept: {ACCEPT1}\r\n\r\n"
    );
    let (mut c, result) = client_reading(response.as_bytes());
    result.unwrap();
    assert_eq!(
        drain(&mut c),
        vec![reject(
            102,
            vec![h("connection", "Upgrade"), h("upgrade", "websocket"), h("sec-websocket-accept", ACCEPT1)],
            false
        )]
    );
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn handshake_extra_accept_headers() {
    let (mut c, result) = client_reading(&response_101(&["X-Foo: bar"]));
    result.unwrap();
    assert_eq!(
        drain(&mut c),
        vec![Event::AcceptConnection(AcceptConnection {
            extra_headers: vec![h("x-foo", "bar")],
            ..Default::default()
        })]
    );
}

#[test]
fn handshake_response_broken_connection_header() {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT1}");
    for lines in [
        vec!["Upgrade: websocket", accept.as_str()],
        vec!["Upgrade: websocket", "Connection: Keep-Alive", accept.as_str()],
    ] {
        let (_, result) = client_reading(&head("HTTP/1.1 101 Switching Protocols", &lines));
        assert_remote(&remote(result), "Missing header, 'Connection: Upgrade'", 400, vec![]);
    }
}

#[test]
fn handshake_response_broken_upgrade_header() {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT1}");
    for lines in [
        vec!["Connection: Upgrade", accept.as_str()],
        vec!["Connection: Upgrade", "Upgrade: h2", accept.as_str()],
        vec!["Connection: Upgrade", "Upgrade: websocket, h2c", accept.as_str()],
    ] {
        let (_, result) = client_reading(&head("HTTP/1.1 101 Switching Protocols", &lines));
        assert_remote(&remote(result), "Missing header, 'Upgrade: websocket'", 400, vec![]);
    }
}

#[test]
fn handshake_response_missing_accept() {
    let response = head("HTTP/1.1 101 Switching Protocols", &["Connection: Upgrade", "Upgrade: websocket"]);
    let (c, result) = client_reading(&response);
    assert_remote(&remote(result), "Bad accept token", 400, vec![]);
    assert_eq!(c.state(), ConnectionState::Connecting);
}

#[test]
fn handshake_response_accept_must_match_exactly() {
    let wrong = [
        accept_for(RFC_KEY),                  // the token for another key
        ACCEPT1.to_lowercase(),               // base64 is case-sensitive
        ACCEPT1.trim_end_matches('=').into(), // no padding
        format!("{ACCEPT1}x"),                // trailing garbage
        String::new(),                        // empty
        format!("{ACCEPT1}, {ACCEPT1}"),      // a list
        KEY1.into(),                          // the key itself
    ];
    for accept in wrong {
        let line = format!("Sec-WebSocket-Accept: {accept}");
        let response = head("HTTP/1.1 101 Switching Protocols", &["Connection: Upgrade", "Upgrade: websocket", &line]);
        let (_, result) = client_reading(&response);
        assert_remote(&remote(result), "Bad accept token", 400, vec![]);
    }
}

#[test]
fn handshake_response_duplicate_headers() {
    // Differs from wsproto: a repeated Upgrade / Accept / Protocol header in
    // the 101 is refused instead of one of the values being used.
    for (line, name) in
        [("Upgrade: websocket", "Upgrade"), (&*format!("Sec-WebSocket-Accept: {ACCEPT1}"), "Sec-WebSocket-Accept")]
    {
        let (_, result) = client_reading(&response_101(&[line]));
        assert_remote(&remote(result), &format!("Duplicate header, '{name}'"), 400, vec![]);
    }
    let mut c = client_offering(&["one"], vec![]);
    let result = c.receive_data(Some(&response_101(&["Sec-WebSocket-Protocol: one", "Sec-WebSocket-Protocol: one"])));
    assert_remote(&remote(result), "Duplicate header, 'Sec-WebSocket-Protocol'", 400, vec![]);
}

#[test]
fn handshake_with_subprotocol() {
    for chosen in ["one", "two"] {
        let mut c = client_offering(&["one", "two"], vec![]);
        let line = format!("Sec-WebSocket-Protocol: {chosen}");
        assert_eq!(
            feed(&mut c, &response_101(&[&line])),
            vec![Event::AcceptConnection(AcceptConnection { subprotocol: Some(chosen.into()), ..Default::default() })]
        );
    }
}

#[test]
fn handshake_bad_subprotocol() {
    let (_, result) = client_reading(&response_101(&["Sec-WebSocket-Protocol: new"]));
    assert_remote(&remote(result), "unrecognized subprotocol new", 400, vec![]);
    let mut c = client_offering(&["one", "two"], vec![]);
    let result = c.receive_data(Some(&response_101(&["Sec-WebSocket-Protocol: new"])));
    assert_remote(&remote(result), "unrecognized subprotocol new", 400, vec![]);
    // Subprotocols are compared exactly.
    let mut c = client_offering(&["one"], vec![]);
    let result = c.receive_data(Some(&response_101(&["Sec-WebSocket-Protocol: ONE"])));
    assert_remote(&remote(result), "unrecognized subprotocol ONE", 400, vec![]);
}

#[test]
fn handshake_with_extension() {
    let fake = FakeExtension::offering("");
    let mut c = client_offering(&[], vec![Box::new(fake.clone())]);
    let events = feed(&mut c, &response_101(&["Sec-WebSocket-Extensions: fake"]));
    assert_eq!(
        events,
        vec![Event::AcceptConnection(AcceptConnection {
            extensions: vec![text("fake")],
            handlers: vec![Box::new(fake.clone())],
            ..Default::default()
        })]
    );
    // finalize() saw the server's element; the connection uses the extension.
    assert_eq!(fake.calls(), vec![text("finalize:fake")]);
    assert_eq!(c.extensions().iter().map(|e| e.name().to_string()).collect::<Vec<_>>(), vec![text("fake")]);
}

#[test]
fn handshake_with_extension_params() {
    let fake = FakeExtension::offering("parameter1=value1");
    let mut c = client_offering(&[], vec![Box::new(fake.clone())]);
    let events = feed(&mut c, &response_101(&["Sec-WebSocket-Extensions: fake; parameter1=value2"]));
    let Some(Event::AcceptConnection(accept)) = events.first() else { panic!("{events:?}") };
    assert_eq!(accept.extensions, vec![text("fake; parameter1=value2")]);
    assert_eq!(fake.calls(), vec![text("finalize:fake; parameter1=value2")]);
}

#[test]
fn handshake_without_extension_accepted() {
    let fake = FakeExtension::offering("");
    let mut c = client_offering(&[], vec![Box::new(fake.clone())]);
    assert_eq!(feed(&mut c, &response_101(&[])), vec![Event::AcceptConnection(AcceptConnection::default())]);
    assert!(fake.calls().is_empty(), "finalize is not called for a declined extension");
    assert!(c.extensions().is_empty());
}

#[test]
fn handshake_bad_extension() {
    let (_, result) = client_reading(&response_101(&["Sec-WebSocket-Extensions: bad, foo"]));
    assert_remote(&remote(result), "unrecognized extension bad", 400, vec![]);
    // Offered "fake" but the server accepted something else.
    let mut c = client_offering(&[], vec![Box::new(FakeExtension::offering(""))]);
    let result = c.receive_data(Some(&response_101(&["Sec-WebSocket-Extensions: fake, other"])));
    assert_remote(&remote(result), "unrecognized extension other", 400, vec![]);
    // Nothing offered at all.
    let (_, result) = client_reading(&response_101(&["Sec-WebSocket-Extensions: fake"]));
    assert_remote(&remote(result), "unrecognized extension fake", 400, vec![]);
}

#[test]
fn handshake_extension_accepted_twice() {
    let mut c = client_offering(&[], vec![Box::new(FakeExtension::offering(""))]);
    let result =
        c.receive_data(Some(&response_101(&["Sec-WebSocket-Extensions: fake", "Sec-WebSocket-Extensions: fake; x"])));
    assert_remote(&remote(result), "extension fake accepted more than once", 400, vec![]);
}

#[test]
fn response_validation_order() {
    // Connection, then Upgrade, then the accept token, then the subprotocol,
    // then the extensions (wsproto's order).
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT1}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "Missing header, 'Connection: Upgrade'"),
        (vec!["Sec-WebSocket-Protocol: zz", "Sec-WebSocket-Extensions: zz"], "Missing header, 'Connection: Upgrade'"),
        (vec!["Connection: Upgrade", "Sec-WebSocket-Accept: nope"], "Missing header, 'Upgrade: websocket'"),
        (vec!["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Protocol: zz"], "Bad accept token"),
        (
            vec![
                "Connection: Upgrade",
                "Upgrade: websocket",
                &accept,
                "Sec-WebSocket-Protocol: zz",
                "Sec-WebSocket-Extensions: zz",
            ],
            "unrecognized subprotocol zz",
        ),
        (
            vec!["Connection: Upgrade", "Upgrade: websocket", &accept, "Sec-WebSocket-Extensions: zz"],
            "unrecognized extension zz",
        ),
    ];
    for (lines, message) in cases {
        let (_, result) = client_reading(&head("HTTP/1.1 101 Switching Protocols", &lines));
        assert_remote(&remote(result), message, 400, vec![]);
    }
}

#[test]
fn protocol_error() {
    let (_, result) = client_reading(b"broken nonsense\r\n\r\n");
    assert_remote(&remote(result), "Bad HTTP message", 400, vec![]);
}

#[test]
fn malformed_responses() {
    for response in [
        &b"HTTP/1.1 101\r\nConnection Upgrade\r\n\r\n"[..],
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"HTTP/2 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nX: a\r\n b\r\n\r\n",
    ] {
        let (_, result) = client_reading(response);
        assert_remote(&remote(result), "Bad HTTP message", 400, vec![]);
    }
}

#[test]
fn a_failed_handshake_keeps_failing() {
    // Differs from wsproto: after a bad 101 wsproto ignores further bytes;
    // we keep returning the same error.
    let (mut c, result) = client_reading(&response_101(&["Sec-WebSocket-Protocol: new"]));
    let first = remote(result);
    for more in [&b"x"[..], &response_101(&[]), &plain(0x81, b"hi")] {
        let again = remote(c.receive_data(Some(more)));
        assert_eq!(again, first);
    }
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.state(), ConnectionState::Connecting);
    assert_eq!(
        c.send(TextMessage::new("x").into()).unwrap_err().message(),
        "Event TextMessage cannot be sent in state CONNECTING."
    );
    // The end of the stream still closes it.
    c.receive_data(None).unwrap();
    assert_eq!(drain(&mut c), vec![Event::CloseConnection(CloseConnection::new(1006))]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn data_before_the_request_is_an_error() {
    let mut c = client();
    let err = remote(c.receive_data(Some(&response_101(&[]))));
    assert_eq!(err.message(), "response received before the request was sent");
    assert_eq!(err.event_hint(), None);
}

// ---- the 101 arrives in pieces, or with frames ------------------------------

#[test]
fn response_fed_one_byte_at_a_time() {
    let (mut c, _) = client_sent(localhost());
    let response = response_101(&["X-Extra: 1"]);
    for (i, byte) in response.iter().enumerate() {
        c.receive_data(Some(std::slice::from_ref(byte))).unwrap();
        if i + 1 < response.len() {
            assert!(drain(&mut c).is_empty(), "no event before the head ends (byte {i})");
            assert_eq!(c.state(), ConnectionState::Connecting);
        }
    }
    assert_eq!(
        drain(&mut c),
        vec![Event::AcceptConnection(AcceptConnection {
            extra_headers: vec![h("x-extra", "1")],
            ..Default::default()
        })]
    );
    assert_eq!(c.state(), ConnectionState::Open);
}

#[test]
fn frames_in_the_same_read_as_the_101_follow_the_accept() {
    let mut input = response_101(&[]);
    input.extend(plain(0x81, b"Hi"));
    input.extend(plain(0x89, b"p"));
    input.extend(plain(0x82, b"\x00\x01\x02")[..3].to_vec()); // a partial frame
    let (mut c, result) = client_reading(&input);
    result.unwrap();
    assert_eq!(
        drain(&mut c),
        vec![
            Event::AcceptConnection(AcceptConnection::default()),
            Event::TextMessage(TextMessage::new("Hi")),
            Event::Ping(Ping::new(*b"p")),
            Event::BytesMessage(BytesMessage { data: vec![0], frame_finished: false, message_finished: false }),
        ]
    );
    assert_eq!(
        feed(&mut c, b"\x01\x02"),
        vec![Event::BytesMessage(BytesMessage { data: vec![1, 2], frame_finished: true, message_finished: true })]
    );
}

#[test]
fn a_close_in_the_same_read_as_the_101() {
    let mut input = response_101(&[]);
    input.extend(plain(0x88, b"\x03\xe8bye"));
    let (mut c, result) = client_reading(&input);
    result.unwrap();
    assert_eq!(
        drain(&mut c),
        vec![
            Event::AcceptConnection(AcceptConnection::default()),
            Event::CloseConnection(CloseConnection::with_reason(1000, "bye")),
        ]
    );
    assert_eq!(c.state(), ConnectionState::RemoteClosing);
}

#[test]
fn masked_frame_after_the_101_fails_with_1002() {
    let mut input = response_101(&[]);
    input.extend(masked(0x81, b"Hi"));
    let (mut c, result) = client_reading(&input);
    result.unwrap();
    assert_eq!(
        drain(&mut c),
        vec![
            Event::AcceptConnection(AcceptConnection::default()),
            Event::CloseConnection(CloseConnection::with_reason(1002, "client received unexpected masked frame")),
        ]
    );
}

#[test]
fn frames_after_the_handshake_are_masked_from_the_same_random_source() {
    let (mut c, result) = client_reading(&response_101(&[]));
    result.unwrap();
    // The key took the first 16 bytes of the seed-1 stream; masks come next.
    let mut stream = SeededRandom::new(1);
    let mut nonce = [0u8; 16];
    stream.fill(&mut nonce).unwrap();
    let mut mask = [0u8; 4];
    stream.fill(&mut mask).unwrap();
    let mut expected = vec![0x81, 0x85];
    expected.extend_from_slice(&mask);
    expected.extend(b"Hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    assert_eq!(c.send(TextMessage::new("Hello").into()).unwrap(), expected);
}

// ---- refusals (test_handshake_rejection*) -------------------------------------

#[test]
fn handshake_rejection() {
    // wsproto: what an h11 server writes for Response(400) + EndOfMessage.
    let (mut c, result) = client_reading(b"HTTP/1.1 400 \r\nTransfer-Encoding: chunked\r\n\r\n");
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(400, vec![h("transfer-encoding", "chunked")], true)]);
    assert_eq!(c.state(), ConnectionState::Rejecting);
    assert_eq!(feed(&mut c, b"0\r\n\r\n"), vec![data(b"", true)]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn handshake_rejection_with_body() {
    let (mut c, result) = client_reading(b"HTTP/1.1 400 \r\nContent-Length: 5\r\n\r\nHello");
    result.unwrap();
    // Differs from wsproto: wsproto yields RejectData(b"Hello", False) then an
    // empty RejectData(b"", True); we mark the piece that ends the body as
    // finished instead of adding an empty one.
    assert_eq!(drain(&mut c), vec![reject(400, vec![h("content-length", "5")], true), data(b"Hello", true)]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_content_length_body_in_pieces() {
    let (mut c, result) = client_reading(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nhello");
    result.unwrap();
    // wsproto: the same two events for this read.
    assert_eq!(drain(&mut c), vec![reject(403, vec![h("content-length", "10")], true), data(b"hello", false)]);
    assert_eq!(c.state(), ConnectionState::Rejecting);
    assert_eq!(feed(&mut c, b"wor"), vec![data(b"wor", false)]);
    assert_eq!(feed(&mut c, b"ld"), vec![data(b"ld", true)]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_content_length_zero_and_bodiless_statuses() {
    // wsproto: RejectConnection(has_body=True) then RejectData(b"", True) for each.
    for (response, status, headers) in [
        (&b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..], 400, vec![h("content-length", "0")]),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, vec![]),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", 304, vec![]),
    ] {
        let (mut c, result) = client_reading(response);
        result.unwrap();
        assert_eq!(drain(&mut c), vec![reject(status, headers, true), data(b"", true)]);
        assert_eq!(c.state(), ConnectionState::Closed);
    }
}

#[test]
fn rejection_chunked_body() {
    let (mut c, result) = client_reading(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHel");
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(403, vec![h("transfer-encoding", "chunked")], true), data(b"Hel", false)]);
    assert_eq!(feed(&mut c, b"lo\r\n6\r\n World\r\n"), vec![data(b"lo World", false)]);
    assert_eq!(c.state(), ConnectionState::Rejecting);
    assert_eq!(feed(&mut c, b"0\r\nX-Trailer: 1\r\n\r\n"), vec![data(b"", true)]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_chunked_body_in_one_read() {
    let (mut c, result) = client_reading(
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n6\r\n World\r\n0\r\n\r\n",
    );
    result.unwrap();
    // Differs from wsproto: wsproto yields one RejectData per chunk and an
    // empty final one; we yield what the read held, marked finished.
    assert_eq!(
        drain(&mut c),
        vec![reject(403, vec![h("transfer-encoding", "chunked")], true), data(b"Hello World", true)]
    );
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_chunked_body_byte_by_byte() {
    let body = b"5\r\nHello\r\n6;ext=1\r\n World\r\n0\r\n\r\n";
    let (mut c, result) = client_reading(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n");
    result.unwrap();
    assert_eq!(drain(&mut c).len(), 1);
    let mut got = Vec::new();
    let mut finished = 0;
    for (i, byte) in body.iter().enumerate() {
        for event in feed(&mut c, std::slice::from_ref(byte)) {
            let Event::RejectData(d) = event else { panic!("{event:?}") };
            got.extend(d.data);
            if d.body_finished {
                finished += 1;
                assert_eq!(i + 1, body.len(), "finished only on the last byte");
            }
        }
    }
    assert_eq!((got.as_slice(), finished), (&b"Hello World"[..], 1));
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_body_until_eof() {
    // wsproto: the same events, read for read.
    let (mut c, result) = client_reading(b"HTTP/1.1 500 Oops\r\n\r\nabc");
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(500, vec![], true), data(b"abc", false)]);
    assert_eq!(feed(&mut c, b"def"), vec![data(b"def", false)]);
    assert_eq!(c.state(), ConnectionState::Rejecting);
    c.receive_data(None).unwrap();
    assert_eq!(drain(&mut c), vec![data(b"", true)]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn rejection_eof_before_a_content_length_body_ends() {
    let (mut c, result) = client_reading(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nhello");
    result.unwrap();
    drain(&mut c);
    // Differs from wsproto: wsproto raises RemoteProtocolError("Bad HTTP
    // message"); we report the truncated response as an abnormal closure.
    c.receive_data(None).unwrap();
    assert_eq!(drain(&mut c), vec![Event::CloseConnection(CloseConnection::new(1006))]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn bytes_after_the_refusal_body() {
    // In the same read: ignored (wsproto: the same).
    let (mut c, result) = client_reading(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(200, vec![h("content-length", "2")], true), data(b"ok", true)]);
    // In a later read. Differs from wsproto, which ignores them: bytes in CLOSED are an error.
    let err = local(c.receive_data(Some(b"more")));
    assert_eq!(err.message(), "Connection already closed.");
}

#[test]
fn bad_chunked_encoding_fails() {
    let (mut c, result) = client_reading(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n");
    result.unwrap();
    drain(&mut c);
    let err = remote(c.receive_data(Some(b"zz\r\n")));
    assert_remote(&err, "Bad chunked encoding: invalid chunk size", 400, vec![]);
}

#[test]
fn invalid_content_length_fails() {
    for (value, message) in [
        ("-1", "Invalid Content-Length"),
        ("abc", "Invalid Content-Length"),
        ("1 2", "Invalid Content-Length"),
        ("+5", "Invalid Content-Length"),
        ("99999999999999999999", "Invalid Content-Length"),
        ("5, 6", "Conflicting Content-Length"),
    ] {
        let line = format!("Content-Length: {value}");
        let (_, result) = client_reading(&head("HTTP/1.1 400 Bad Request", &[&line]));
        assert_remote(&remote(result), message, 400, vec![]);
    }
    // Repeated but equal values are one length.
    let (mut c, result) =
        client_reading(&head("HTTP/1.1 400 Bad Request", &["Content-Length: 2, 2", "Content-Length: 2"]));
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(400, vec![h("content-length", "2, 2"), h("content-length", "2")], true)]);
    assert_eq!(feed(&mut c, b"ok"), vec![data(b"ok", true)]);
}

#[test]
fn a_malformed_body_in_the_same_read_as_the_head() {
    let (mut c, result) = client_reading(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    let first = remote(result);
    assert_remote(&first, "Bad chunked encoding: invalid chunk size", 400, vec![]);
    // The refusal itself was read and is reported.
    assert_eq!(drain(&mut c), vec![reject(400, vec![h("transfer-encoding", "chunked")], true)]);
    assert_eq!(c.state(), ConnectionState::Rejecting);
    assert_eq!(remote(c.receive_data(Some(b"0\r\n\r\n"))), first);
}

#[test]
fn events_refused_while_rejecting_and_after() {
    let (mut c, _) = client_reading(b"HTTP/1.1 500 Oops\r\n\r\n");
    drain(&mut c);
    assert_eq!(c.send(localhost().into()).unwrap_err().message(), "Event Request cannot be sent in state REJECTING.");
    assert_eq!(
        c.send(TextMessage::new("x").into()).unwrap_err().message(),
        "Event TextMessage cannot be sent in state REJECTING."
    );
    assert_eq!(
        c.send(RejectData::new(*b"x").into()).unwrap_err().message(),
        "Event RejectData cannot be sent in state REJECTING."
    );
    c.receive_data(None).unwrap();
    assert_eq!(
        c.send(CloseConnection::new(1000).into()).unwrap_err().message(),
        "Event CloseConnection cannot be sent in state CLOSED."
    );
}

// ---- end of stream during the handshake -------------------------------------

#[test]
fn eof_during_the_handshake() {
    // Differs from wsproto: wsproto raises RemoteProtocolError("Bad HTTP
    // message"); we report an abnormal closure, as once the connection is open.
    for sent in [false, true] {
        let mut c = client();
        if sent {
            c.send(localhost().into()).unwrap();
        }
        c.receive_data(None).unwrap();
        assert_eq!(drain(&mut c), vec![Event::CloseConnection(CloseConnection::new(1006))]);
        assert_eq!(c.state(), ConnectionState::Closed);
        // Only once.
        c.receive_data(None).unwrap();
        assert!(drain(&mut c).is_empty());
        assert_eq!(local(c.receive_data(Some(b"x"))).message(), "Connection already closed.");
    }
}

#[test]
fn eof_in_the_middle_of_the_101() {
    let (mut c, _) = client_sent(localhost());
    let response = response_101(&[]);
    c.receive_data(Some(&response[..20])).unwrap();
    c.receive_data(None).unwrap();
    assert_eq!(drain(&mut c), vec![Event::CloseConnection(CloseConnection::new(1006))]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

// ---- limits -----------------------------------------------------------------

#[test]
fn response_head_over_the_limit_is_431() {
    let config = Config { max_handshake_size: 256, ..Config::default() };
    let mut c = WSConnection::with_config(ConnectionType::Client, config).with_random(Box::new(SeededRandom::new(1)));
    c.send(localhost().into()).unwrap();
    let filler = format!("X-Filler: {}", "a".repeat(300));
    let err = remote(c.receive_data(Some(&response_101(&[&filler]))));
    assert_remote(&err, "HTTP head exceeds 256 bytes", 431, vec![]);
}

#[test]
fn response_with_too_many_headers_is_431() {
    let limited = || {
        let config = Config { max_headers: 5, ..Config::default() };
        let mut c =
            WSConnection::with_config(ConnectionType::Client, config).with_random(Box::new(SeededRandom::new(1)));
        c.send(localhost().into()).unwrap();
        c
    };
    // Five header lines are fine...
    let mut c = limited();
    assert_eq!(feed(&mut c, &response_101(&["A: 1", "B: 2"])).len(), 1);
    // ...six are not.
    let err = remote(limited().receive_data(Some(&response_101(&["A: 1", "B: 2", "C: 3"]))));
    assert_remote(&err, "Too many headers", 431, vec![]);
}

// ---- what the client refuses to send ---------------------------------------------

#[test]
fn request_fields_with_cr_lf_or_nul_are_refused() {
    let cases: Vec<(Request, &str)> = vec![
        (Request { host: "local\r\nhost".into(), ..localhost() }, "Invalid host \"local\\r\\nhost\""),
        (Request { host: "local\nhost".into(), ..localhost() }, "Invalid host \"local\\nhost\""),
        (Request { host: "local\0host".into(), ..localhost() }, "Invalid host \"local\\0host\""),
        (Request { host: "local host".into(), ..localhost() }, "Invalid host \"local host\""),
        (Request { host: "".into(), ..localhost() }, "Invalid host \"\""),
        (Request { target: "/a\r\nX: y".into(), ..localhost() }, "Invalid request target \"/a\\r\\nX: y\""),
        (Request { target: "/a\0".into(), ..localhost() }, "Invalid request target \"/a\\0\""),
        (Request { target: "/a b".into(), ..localhost() }, "Invalid request target \"/a b\""),
        (Request { target: "".into(), ..localhost() }, "Invalid request target \"\""),
        (Request { subprotocols: vec![text("a\r\nb")], ..localhost() }, "Invalid subprotocol \"a\\r\\nb\""),
        (Request { subprotocols: vec![text("a\0")], ..localhost() }, "Invalid subprotocol \"a\\0\""),
        (Request { subprotocols: vec![text("ok"), text("a,b")], ..localhost() }, "Invalid subprotocol \"a,b\""),
        (Request { subprotocols: vec![text("")], ..localhost() }, "Invalid subprotocol \"\""),
        (
            Request { extra_headers: vec![h("X-Foo", "a\r\nX-Evil: 1")], ..localhost() },
            "Illegal header value for X-Foo: CR, LF and NUL are not allowed",
        ),
        (
            Request { extra_headers: vec![h("X-Foo", "a\nb")], ..localhost() },
            "Illegal header value for X-Foo: CR, LF and NUL are not allowed",
        ),
        (
            Request { extra_headers: vec![h("X-Foo", "a\rb")], ..localhost() },
            "Illegal header value for X-Foo: CR, LF and NUL are not allowed",
        ),
        (
            Request { extra_headers: vec![h("X-Foo", "a\0b")], ..localhost() },
            "Illegal header value for X-Foo: CR, LF and NUL are not allowed",
        ),
        (Request { extra_headers: vec![h("X Foo", "a")], ..localhost() }, "Illegal header name \"X Foo\""),
        (Request { extra_headers: vec![h("X:Foo", "a")], ..localhost() }, "Illegal header name \"X:Foo\""),
        (Request { extra_headers: vec![h("X\r\nY", "a")], ..localhost() }, "Illegal header name \"X\\r\\nY\""),
        (Request { extra_headers: vec![h("", "a")], ..localhost() }, "Illegal header name \"\""),
        (
            Request { extensions: vec![text("x\r\nX-Evil: 1")], ..localhost() },
            "Illegal header value for Sec-WebSocket-Extensions: CR, LF and NUL are not allowed",
        ),
        (
            Request { handlers: vec![Box::new(FakeExtension::offering("p=1\r\nX-Evil: 1"))], ..localhost() },
            "Illegal header value for Sec-WebSocket-Extensions: CR, LF and NUL are not allowed",
        ),
    ];
    for (request, message) in cases {
        let mut c = client();
        let mut out = b"kept".to_vec();
        let err = c.send_into(request.clone().into(), &mut out).unwrap_err();
        assert_eq!(err.message(), message, "{request:?}");
        assert_eq!(out, b"kept", "nothing is written on error");
        assert_eq!(c.state(), ConnectionState::Connecting);
        // The client may still send a valid request.
        let bytes = c.send(localhost().into()).unwrap();
        assert!(bytes.starts_with(b"GET / HTTP/1.1\r\nHost: localhost\r\n"));
    }
}

#[test]
fn request_targets_that_are_allowed() {
    for target in ["/", "/chat?x=1&y=%20", "ws://example.com/ws", "*", "/~user/!$&'()*+,;=:@"] {
        let request = Request { target: target.into(), ..localhost() };
        assert!(request_text(request).starts_with(&format!("GET {target} HTTP/1.1\r\n")), "{target}");
    }
}

#[test]
fn a_malformed_refusal_body_keeps_failing() {
    let (mut c, result) = client_reading(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello");
    result.unwrap();
    assert_eq!(drain(&mut c), vec![reject(400, vec![h("transfer-encoding", "chunked")], true), data(b"Hello", false)]);
    let first = remote(c.receive_data(Some(b"XX")));
    assert_remote(&first, "Bad chunked encoding: missing CRLF after chunk data", 400, vec![]);
    // Bytes that would end the body properly change nothing now.
    assert_eq!(remote(c.receive_data(Some(b"\r\n0\r\n\r\n"))), first);
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.state(), ConnectionState::Rejecting);
    // The end of the stream does not complete the body either.
    c.receive_data(None).unwrap();
    assert_eq!(drain(&mut c), vec![Event::CloseConnection(CloseConnection::new(1006))]);
    assert_eq!(c.state(), ConnectionState::Closed);
}

#[test]
fn a_raw_extension_offer_cannot_be_accepted() {
    // Raw offers (Request::extensions) have no handler to finalize them: a
    // server accepting one fails the handshake, as in wsproto.
    let request = Request { extensions: vec![text("x-raw; p=1")], ..localhost() };
    let (mut c, bytes) = client_sent(request);
    assert!(String::from_utf8(bytes).unwrap().contains("\r\nSec-WebSocket-Extensions: x-raw; p=1\r\n"));
    let result = c.receive_data(Some(&response_101(&["Sec-WebSocket-Extensions: x-raw"])));
    assert_remote(&remote(result), "unrecognized extension x-raw", 400, vec![]);
}
