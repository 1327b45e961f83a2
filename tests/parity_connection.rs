//! Parity with wsproto's tests/test_connection.py, run on both layers: the
//! frame-only `Connection` (what wsproto's tests use) and a `WSConnection`
//! pair after a real handshake. Plus the "Close" rules of issue 2 end to
//! end: state transitions, what each state refuses, the codes we send.
//!
//! Every wsproto case is ported; the Python-only parametrisations (event
//! repr in messages) are replaced by our message format.

mod parity_common;

use parity_common::*;
use wsproto::events::{
    AcceptConnection, BytesMessage, CloseConnection, Event, Ping, Pong, RejectConnection, RejectData, Request,
    TextMessage,
};
use wsproto::{Config, Connection, ConnectionState, ConnectionType, Error, LocalProtocolError, WSConnection};

/// One end of a connection, on either layer.
enum End {
    Frame(Connection),
    Ws(WSConnection),
}

impl End {
    fn send(&mut self, event: impl Into<Event>) -> Result<Vec<u8>, LocalProtocolError> {
        match self {
            End::Frame(c) => c.send(event.into()),
            End::Ws(c) => c.send(event.into()),
        }
    }
    fn receive(&mut self, data: Option<&[u8]>) -> Result<(), Error> {
        match self {
            End::Frame(c) => c.receive_data(data),
            End::Ws(c) => c.receive_data(data),
        }
    }
    fn feed(&mut self, data: &[u8]) -> Vec<Event> {
        self.receive(Some(data)).expect("receive_data");
        self.events()
    }
    fn events(&mut self) -> Vec<Event> {
        match self {
            End::Frame(c) => c.events().collect(),
            End::Ws(c) => c.events().collect(),
        }
    }
    fn state(&self) -> ConnectionState {
        match self {
            End::Frame(c) => c.state(),
            End::Ws(c) => c.state(),
        }
    }
}

/// (layer, client, server): the client masks with `MASK`, so its frames are `masked(..)`.
fn pairs() -> Vec<(&'static str, End, End)> {
    let fixed = || Box::new(FixedRandom(MASK.to_vec()));
    let frame_client = Connection::new(ConnectionType::Client, vec![], b"").with_random(fixed());
    let frame_server = Connection::new(ConnectionType::Server, vec![], b"");
    let mut ws_client = WSConnection::new(ConnectionType::Client).with_random(fixed());
    let mut ws_server = WSConnection::new(ConnectionType::Server);
    let request = ws_client.send(localhost().into()).unwrap();
    feed(&mut ws_server, &request);
    let accept = ws_server.send(AcceptConnection::default().into()).unwrap();
    assert_eq!(feed(&mut ws_client, &accept).len(), 1);
    vec![
        ("Connection", End::Frame(frame_client), End::Frame(frame_server)),
        ("WSConnection", End::Ws(ws_client), End::Ws(ws_server)),
    ]
}

/// The bytes `first`/`payload` make when sent by the client (masked) or the server (plain).
fn wire(client_sends: bool, first: u8, payload: &[u8]) -> Vec<u8> {
    if client_sends {
        masked(first, payload)
    } else {
        plain(first, payload)
    }
}

fn close(code: u16, reason: &str) -> Event {
    Event::CloseConnection(CloseConnection::with_reason(code, reason))
}

// ---- test_connection.py -----------------------------------------------------

#[test]
fn send_message() {
    let data = vec![b'x'; 23];
    for client_sends in [true, false] {
        for finished in [true, false] {
            for (layer, mut client, mut server) in pairs() {
                let (local, remote) =
                    if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
                let message = BytesMessage { data: data.clone(), frame_finished: true, message_finished: finished };
                let bytes = local.send(message).unwrap();
                assert_eq!(bytes, wire(client_sends, if finished { 0x82 } else { 0x02 }, &data), "{layer}");
                assert_eq!(
                    remote.feed(&bytes),
                    vec![Event::BytesMessage(BytesMessage {
                        data: data.clone(),
                        frame_finished: true,
                        message_finished: finished
                    })],
                    "{layer} client_sends={client_sends} finished={finished}"
                );
            }
        }
    }
}

#[test]
fn closure() {
    for client_sends in [true, false] {
        for (code, reason) in [(1000u16, "bye"), (1001, "👋👋")] {
            for (layer, mut client, mut server) in pairs() {
                let (local, remote) =
                    if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
                let bytes = local.send(CloseConnection::with_reason(code, reason)).unwrap();
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                assert_eq!(bytes, wire(client_sends, 0x88, &payload), "{layer}");
                assert_eq!(remote.feed(&bytes), vec![close(code, reason)]);
                assert_eq!(remote.state(), ConnectionState::RemoteClosing);
                assert_eq!(local.state(), ConnectionState::LocalClosing);

                let Event::CloseConnection(received) = close(code, reason) else { unreachable!() };
                let reply = remote.send(received.response()).unwrap();
                assert_eq!(reply, wire(!client_sends, 0x88, &payload), "{layer}");
                assert_eq!(local.feed(&reply), vec![close(code, reason)]);
                assert_eq!(remote.state(), ConnectionState::Closed);
                assert_eq!(local.state(), ConnectionState::Closed);

                let err = local.receive(Some(b"foobar")).unwrap_err();
                assert_eq!(err, Error::Local(LocalProtocolError::new("Connection already closed.")), "{layer}");
            }
        }
    }
}

#[test]
fn abnormal_closure() {
    for (layer, mut client, mut server) in pairs() {
        for end in [&mut client, &mut server] {
            end.receive(None).unwrap();
            assert_eq!(end.events(), vec![close(1006, "")], "{layer}");
            assert_eq!(end.state(), ConnectionState::Closed);
        }
    }
}

#[test]
fn close_whilst_closing() {
    for (layer, mut client, _) in pairs() {
        client.send(CloseConnection::new(1000)).unwrap();
        let err = client.send(CloseConnection::new(1000)).unwrap_err();
        assert_eq!(err.message(), "Event CloseConnection cannot be sent in state LOCAL_CLOSING.", "{layer}");
        assert_eq!(client.state(), ConnectionState::LocalClosing);
    }
}

#[test]
fn local_only_close_reason_rejected() {
    for (layer, mut client, _) in pairs() {
        for code in [1006u16, 1015] {
            let err = client.send(CloseConnection::new(code)).unwrap_err();
            assert_eq!(
                err.message(),
                format!("close code {code} is reserved for local use and is never sent"),
                "{layer}"
            );
            assert_eq!(client.state(), ConnectionState::Open);
        }
    }
}

#[test]
fn send_after_close() {
    for (layer, mut client, _) in pairs() {
        client.send(CloseConnection::new(1000)).unwrap();
        for event in [
            Event::from(TextMessage { data: String::new(), frame_finished: true, message_finished: true }),
            BytesMessage::new(*b"x").into(),
            Ping::default().into(),
            Pong::default().into(),
        ] {
            let err = client.send(event.clone()).unwrap_err();
            assert_eq!(
                err.message(),
                format!("Event {} cannot be sent in state LOCAL_CLOSING.", event.name()),
                "{layer}"
            );
        }
    }
}

#[test]
fn ping_pong() {
    let payload = vec![b'x'; 23];
    for client_sends in [true, false] {
        for (layer, mut client, mut server) in pairs() {
            let (local, remote) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
            let bytes = local.send(Ping::new(payload.clone())).unwrap();
            assert_eq!(bytes, wire(client_sends, 0x89, &payload), "{layer}");
            let events = remote.feed(&bytes);
            assert_eq!(events, vec![Event::Ping(Ping::new(payload.clone()))]);
            let Event::Ping(ping) = &events[0] else { unreachable!() };
            let reply = remote.send(ping.response()).unwrap();
            assert_eq!(reply, wire(!client_sends, 0x8A, &payload), "{layer}");
            assert_eq!(local.feed(&reply), vec![Event::Pong(Pong::new(payload.clone()))]);
        }
    }
}

#[test]
fn unsolicited_pong() {
    let payload = vec![b'x'; 23];
    for (layer, mut client, mut server) in pairs() {
        let bytes = client.send(Pong::new(payload.clone())).unwrap();
        assert_eq!(bytes, masked(0x8A, &payload), "{layer}");
        assert_eq!(server.feed(&bytes), vec![Event::Pong(Pong::new(payload.clone()))]);
    }
}

#[test]
fn data() {
    let text = "ƒñö®∂😎";
    for split_message in [true, false] {
        for (layer, mut client, mut server) in pairs() {
            let message = TextMessage { data: text.into(), frame_finished: true, message_finished: !split_message };
            let bytes = client.send(message).unwrap();
            assert_eq!(bytes, masked(if split_message { 0x01 } else { 0x81 }, text.as_bytes()), "{layer}");
            assert_eq!(
                server.feed(&bytes),
                vec![Event::TextMessage(TextMessage {
                    data: text.into(),
                    frame_finished: true,
                    message_finished: !split_message
                })]
            );
        }
    }
}

#[test]
fn frame_protocol_gets_fed_garbage() {
    let mut frame = vec![0x09, 23];
    frame.extend([b'x'; 23]);
    for (layer, mut client, _) in pairs() {
        assert_eq!(client.feed(&frame), vec![close(1002, "Invalid attempt to fragment control frame")], "{layer}");
        // A parse failure does not change the state: the application answers.
        assert_eq!(client.state(), ConnectionState::Open);
    }
}

#[test]
fn send_invalid_event() {
    for (layer, mut client, _) in pairs() {
        for event in [
            Event::from(Request { target: "/".into(), host: "wsproto".into(), ..Default::default() }),
            AcceptConnection::default().into(),
            RejectConnection::default().into(),
            RejectData::new(*b"x").into(),
        ] {
            let err = client.send(event.clone()).unwrap_err();
            assert_eq!(err.message(), format!("Event {} cannot be sent in state OPEN.", event.name()), "{layer}");
        }
    }
}

#[test]
fn receive_data_when_closed() {
    for (layer, mut client, mut server) in pairs() {
        let close_bytes = client.send(CloseConnection::new(1000)).unwrap();
        server.feed(&close_bytes);
        let reply = server.send(CloseConnection::new(1000)).unwrap();
        client.feed(&reply);
        for end in [&mut client, &mut server] {
            assert_eq!(end.state(), ConnectionState::Closed);
            let err = end.receive(Some(b"something")).unwrap_err();
            assert_eq!(err.to_string(), "local protocol error: Connection already closed.", "{layer}");
        }
    }
}

// ---- the closing handshake, state by state ------------------------------------

#[test]
fn remote_closing_refuses_data_and_ignores_bytes() {
    for (layer, mut client, mut server) in pairs() {
        let bytes = client.send(CloseConnection::with_reason(1001, "going")).unwrap();
        let mut input = bytes.clone();
        input.extend(masked(0x81, b"after the close, same read"));
        assert_eq!(server.feed(&input), vec![close(1001, "going")], "{layer}");
        assert_eq!(server.state(), ConnectionState::RemoteClosing);
        // Later bytes are ignored too (the peer has closed).
        assert_eq!(server.feed(&masked(0x81, b"later")), vec![]);
        for event in [
            Event::from(TextMessage::new("x")),
            BytesMessage::new(*b"x").into(),
            Ping::default().into(),
            Pong::default().into(),
        ] {
            let err = server.send(event.clone()).unwrap_err();
            assert_eq!(err.message(), format!("Event {} cannot be sent in state REMOTE_CLOSING.", event.name()));
        }
        assert_eq!(server.send(CloseConnection::new(1001)).unwrap(), b"\x88\x02\x03\xe9");
        assert_eq!(server.state(), ConnectionState::Closed);
    }
}

#[test]
fn local_closing_still_receives() {
    for (layer, _, mut server) in pairs() {
        assert_eq!(server.send(CloseConnection::new(1000)).unwrap(), b"\x88\x02\x03\xe8");
        let mut input = masked(0x81, b"in flight");
        input.extend(masked(0x89, b"p"));
        input.extend(masked(0x88, b"\x03\xe8"));
        input.extend(masked(0x81, b"after the close"));
        assert_eq!(
            server.feed(&input),
            vec![Event::TextMessage(TextMessage::new("in flight")), Event::Ping(Ping::new(*b"p")), close(1000, "")],
            "{layer}"
        );
        assert_eq!(server.state(), ConnectionState::Closed);
        // A pong for that ping can no longer be sent.
        assert_eq!(server.send(Pong::new(*b"p")).unwrap_err().message(), "Event Pong cannot be sent in state CLOSED.");
    }
}

#[test]
fn eof_in_every_state() {
    for (layer, mut client, mut server) in pairs() {
        // LOCAL_CLOSING.
        client.send(CloseConnection::new(1000)).unwrap();
        client.receive(None).unwrap();
        assert_eq!(client.events(), vec![close(1006, "")], "{layer}");
        assert_eq!(client.state(), ConnectionState::Closed);
        // REMOTE_CLOSING.
        server.feed(&masked(0x88, b""));
        assert_eq!(server.state(), ConnectionState::RemoteClosing);
        server.receive(None).unwrap();
        assert_eq!(server.events(), vec![close(1006, "")]);
        assert_eq!(server.state(), ConnectionState::Closed);
        // CLOSED. Differs from wsproto: wsproto reports another
        // CloseConnection(1006) for every EOF; a closed connection says nothing.
        for end in [&mut client, &mut server] {
            end.receive(None).unwrap();
            assert_eq!(end.events(), vec![]);
            assert_eq!(end.state(), ConnectionState::Closed);
        }
    }
}

#[test]
fn eof_after_a_completed_close() {
    for (layer, mut client, mut server) in pairs() {
        let bytes = client.send(CloseConnection::new(1000)).unwrap();
        server.feed(&bytes);
        let reply = server.send(CloseConnection::new(1000)).unwrap();
        assert_eq!(client.feed(&reply), vec![close(1000, "")]);
        // Differs from wsproto (see eof_in_every_state): no 1006 after a clean close.
        client.receive(None).unwrap();
        assert_eq!(client.events(), vec![], "{layer}");
    }
}

#[test]
fn a_parse_failure_is_answered_with_its_response() {
    for (layer, mut client, mut server) in pairs() {
        let events = server.feed(&masked(0x83, b""));
        assert_eq!(events, vec![close(1002, "Invalid opcode 0x3")], "{layer}");
        assert_eq!(server.state(), ConnectionState::Open);
        let Event::CloseConnection(failure) = &events[0] else { unreachable!() };
        let bytes = server.send(failure.response()).unwrap();
        assert_eq!(bytes, plain(0x88, b"\x03\xeaInvalid opcode 0x3"));
        assert_eq!(server.state(), ConnectionState::LocalClosing);
        // Whatever the peer sent after the bad frame was dropped; its close still ends it.
        assert_eq!(client.feed(&bytes), vec![close(1002, "Invalid opcode 0x3")]);
        let reply = client.send(CloseConnection::new(1002)).unwrap();
        assert_eq!(server.feed(&reply), vec![]);
        // After a failure the parser stops (RFC 6455 7.1.7: fail the
        // connection), so the peer's close is not seen (wsproto: the same);
        // the transport's end finishes the connection.
        server.receive(None).unwrap();
        assert_eq!(server.events(), vec![close(1006, "")]);
        assert_eq!(server.state(), ConnectionState::Closed);
    }
}

// ---- close codes we send -------------------------------------------------------------

#[test]
fn close_codes_that_are_sent() {
    for code in
        [1000u16, 1001, 1002, 1003, 1004, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1016, 2999, 3000, 4999]
    {
        for (layer, _, mut server) in pairs() {
            assert_eq!(
                server.send(CloseConnection::new(code)).unwrap(),
                plain(0x88, &code.to_be_bytes()),
                "{layer} {code}"
            );
            assert_eq!(server.state(), ConnectionState::LocalClosing);
        }
    }
}

#[test]
fn close_1005_sends_an_empty_payload() {
    // Differs from wsproto: wsproto's close() writes 1005 as "no status" only
    // when called without a code; CloseConnection(1005) goes through the same
    // path here: an empty close frame, as the response to an empty close.
    for (layer, mut client, mut server) in pairs() {
        let err = server.send(CloseConnection::with_reason(1005, "why")).unwrap_err();
        assert_eq!(err.message(), "cannot send a close reason without a close code", "{layer}");
        assert_eq!(server.send(CloseConnection::new(1005)).unwrap(), b"\x88\x00", "{layer}");
        let events = client.feed(b"\x88\x00");
        assert_eq!(events, vec![close(1005, "")]);
        let Event::CloseConnection(received) = &events[0] else { unreachable!() };
        assert_eq!(client.send(received.response()).unwrap(), masked(0x88, b""));
        assert_eq!(client.state(), ConnectionState::Closed);
    }
}

#[test]
fn close_codes_that_are_refused() {
    // Differs from wsproto: it silently rewrites these to 1000.
    for (code, message) in [
        (0u16, "close code 0 is outside 1000-4999"),
        (999, "close code 999 is outside 1000-4999"),
        (5000, "close code 5000 is outside 1000-4999"),
        (65535, "close code 65535 is outside 1000-4999"),
        (1006, "close code 1006 is reserved for local use and is never sent"),
        (1015, "close code 1015 is reserved for local use and is never sent"),
    ] {
        for (layer, mut client, mut server) in pairs() {
            for end in [&mut client, &mut server] {
                let err = end.send(CloseConnection::with_reason(code, "x")).unwrap_err();
                assert_eq!(err.message(), message, "{layer}");
                assert_eq!(end.state(), ConnectionState::Open, "a refused close changes nothing");
            }
        }
    }
}

#[test]
fn close_reasons_are_cut_at_123_bytes_on_a_code_point() {
    for (layer, _, mut server) in pairs() {
        // 41 euro signs are 123 bytes: kept whole.
        let reason = "€".repeat(41);
        let bytes = server.send(CloseConnection::with_reason(1000, reason.clone())).unwrap();
        assert_eq!(bytes.len(), 2 + 2 + 123, "{layer}");
        assert_eq!(&bytes[4..], reason.as_bytes());
    }
    for (layer, _, mut server) in pairs() {
        // 42 are 126 bytes: cut to 123.
        let bytes = server.send(CloseConnection::with_reason(1000, "€".repeat(42))).unwrap();
        assert_eq!(&bytes[..4], b"\x88\x7d\x03\xe8", "{layer}");
        assert_eq!(&bytes[4..], "€".repeat(41).as_bytes());
    }
    for (layer, _, mut server) in pairs() {
        // "a" + 41 euros: 124 bytes; the last euro would be split, so 121 bytes.
        let bytes = server.send(CloseConnection::with_reason(1000, format!("a{}", "€".repeat(41)))).unwrap();
        assert_eq!(&bytes[..2], b"\x88\x7b", "{layer}");
        assert_eq!(std::str::from_utf8(&bytes[4..]).unwrap(), format!("a{}", "€".repeat(40)));
    }
    // wsproto's test_overly_reasoned_close: ¯\_(ツ)_/¯ ten times.
    for (layer, mut client, mut server) in pairs() {
        let bytes = server.send(CloseConnection::with_reason(1000, r"¯\_(ツ)_/¯".repeat(10))).unwrap();
        assert!(bytes.len() <= 127, "{layer}");
        let events = client.feed(&bytes);
        let [Event::CloseConnection(c)] = events.as_slice() else { panic!("{events:?}") };
        assert!(r"¯\_(ツ)_/¯".repeat(10).starts_with(&c.reason));
        assert_eq!(c.reason.len(), 122);
    }
}

#[test]
fn close_reasons_round_trip() {
    for reason in ["", "bye", "tarah old chap", "fñør∂", "👋👋"] {
        for (layer, mut client, mut server) in pairs() {
            let bytes = client.send(CloseConnection::with_reason(4000, reason)).unwrap();
            assert_eq!(server.feed(&bytes), vec![close(4000, reason)], "{layer}");
        }
    }
}

// ---- what the WSConnection adds ----------------------------------------------------------

#[test]
fn mixing_text_and_bytes_in_one_message_is_refused() {
    for (layer, mut client, _) in pairs() {
        client.send(TextMessage { data: "a".into(), frame_finished: true, message_finished: false }).unwrap();
        let err = client.send(BytesMessage::new(*b"b")).unwrap_err();
        assert_eq!(err.message(), "Data type mismatch inside message", "{layer}");
        // The message can still be finished as text.
        assert_eq!(client.send(TextMessage::new("b")).unwrap(), masked(0x80, b"b"));
    }
}

#[test]
fn limits_apply_after_the_handshake() {
    let config = Config { max_message_size: 10, max_frame_size: 8, ..Config::default() };
    let mut server = WSConnection::with_config(ConnectionType::Server, config);
    let mut client = client();
    let request = client.send(localhost().into()).unwrap();
    feed(&mut server, &request);
    server.send(AcceptConnection::default().into()).unwrap();
    let mut frames = masked(0x02, b"12345678");
    frames.extend(masked(0x80, b"123"));
    assert_eq!(
        feed(&mut server, &frames),
        vec![
            Event::BytesMessage(BytesMessage {
                data: b"12345678".to_vec(),
                frame_finished: true,
                message_finished: false
            }),
            close(1009, "message exceeds the size limit"),
        ]
    );
    let config = Config { max_frame_size: 8, ..Config::default() };
    let mut server = WSConnection::with_config(ConnectionType::Server, config);
    feed(&mut server, &request);
    server.send(AcceptConnection::default().into()).unwrap();
    assert_eq!(feed(&mut server, &masked(0x82, b"123456789")), vec![close(1009, "frame of 9 bytes exceeds the limit")]);
}

#[test]
fn invalid_utf8_fails_fast_end_to_end() {
    for (layer, _, mut server) in pairs() {
        let mut payload = "ok ".as_bytes().to_vec();
        payload.extend(b"\xed\xa0\x80"); // a surrogate
        payload.extend(vec![b'z'; 200]);
        let frame = masked(0x81, &payload);
        // Header (4 + 4 bytes), "ok ", then the first byte of the surrogate.
        assert_eq!(
            server.feed(&frame[..8 + 4]),
            vec![Event::TextMessage(TextMessage {
                data: "ok ".into(),
                frame_finished: false,
                message_finished: false
            })],
            "{layer}"
        );
        assert_eq!(server.feed(&frame[12..13]), vec![close(1007, "invalid UTF-8 in text message")]);
        assert_eq!(server.feed(&frame[13..]), vec![]);
    }
}

#[test]
fn trailing_data_of_a_frame_only_connection() {
    let mut input = masked(0x81, b"one");
    input.extend(masked(0x88, b"\x03\xe8"));
    input.extend(masked(0x81, b"ignored"));
    let mut conn = Connection::new(ConnectionType::Server, vec![], &input);
    // The close moves the state when its event is taken, as in wsproto.
    assert_eq!(conn.state(), ConnectionState::Open);
    assert_eq!(conn.events().collect::<Vec<_>>(), vec![Event::TextMessage(TextMessage::new("one")), close(1000, "")]);
    assert_eq!(conn.state(), ConnectionState::RemoteClosing);
}

/// Messages that arrived in the same read as a close can still be answered
/// while the events are taken one by one (wsproto changes the state when it
/// yields the CloseConnection; Autobahn 7.1.6 depends on it).
#[test]
fn messages_before_a_close_can_be_answered() {
    let mut input = masked(0x81, b"one");
    input.extend(masked(0x89, b"p"));
    input.extend(masked(0x88, b"\x03\xe8"));
    for role_first_close in [false, true] {
        let mut conn = Connection::new(ConnectionType::Server, vec![], b"");
        if role_first_close {
            assert_eq!(conn.send(Event::TextMessage(TextMessage::new("early"))).unwrap(), b"\x81\x05early");
        }
        conn.receive_data(Some(&input)).unwrap();
        assert_eq!(conn.state(), ConnectionState::Open);
        assert_eq!(conn.next_event(), Some(Event::TextMessage(TextMessage::new("one"))));
        assert_eq!(conn.send(Event::TextMessage(TextMessage::new("one"))).unwrap(), b"\x81\x03one");
        assert_eq!(conn.next_event(), Some(Event::Ping(Ping { payload: b"p".to_vec() })));
        assert_eq!(conn.send(Event::Pong(Pong { payload: b"p".to_vec() })).unwrap(), b"\x8a\x01p");
        if role_first_close {
            // Our close crosses theirs: taking their close ends the connection.
            assert_eq!(conn.send(Event::CloseConnection(CloseConnection::new(1000))).unwrap(), b"\x88\x02\x03\xe8");
            assert_eq!(conn.state(), ConnectionState::LocalClosing);
            assert_eq!(conn.next_event(), Some(close(1000, "")));
            assert_eq!(conn.state(), ConnectionState::Closed);
        } else {
            assert_eq!(conn.next_event(), Some(close(1000, "")));
            assert_eq!(conn.state(), ConnectionState::RemoteClosing);
            assert!(conn.send(Event::TextMessage(TextMessage::new("late"))).is_err());
            assert_eq!(conn.send(Event::CloseConnection(CloseConnection::new(1000))).unwrap(), b"\x88\x02\x03\xe8");
            assert_eq!(conn.state(), ConnectionState::Closed);
        }
        // Bytes after the close frame, before or after it was taken, mean nothing.
        assert_eq!(conn.next_event(), None);
    }
}

/// EOF while a received close is still queued: CLOSED at once, and both
/// closes are reported in order.
#[test]
fn eof_with_a_queued_close() {
    let mut conn = Connection::new(ConnectionType::Server, vec![], &masked(0x88, b"\x03\xe9"));
    conn.receive_data(None).unwrap();
    assert_eq!(conn.state(), ConnectionState::Closed);
    assert_eq!(conn.events().collect::<Vec<_>>(), vec![close(1001, ""), close(1006, "")]);
    assert_eq!(conn.state(), ConnectionState::Closed);
}
