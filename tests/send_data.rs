//! `Connection::send_data`: the same bytes and state as `send_into` with
//! the equivalent event, without the event.

use wsproto::events::{BytesMessage, CloseConnection, Event, TextMessage};
use wsproto::{Connection, ConnectionState, ConnectionType, Opcode, SeededRandom};

fn client(seed: u64) -> Connection {
    Connection::new(ConnectionType::Client, vec![], b"").with_random(Box::new(SeededRandom::new(seed)))
}

#[test]
fn same_frames_as_the_events_for_every_size_and_fragment() {
    for size in [0, 1, 125, 126, 65535, 65536, 100_000] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let text = "é".repeat(size / 2);
        let (mut a, mut b) = (client(7), client(7));
        let (mut via_event, mut direct) = (Vec::new(), Vec::new());
        for finished in [false, true] {
            let event = BytesMessage { data: payload.clone(), frame_finished: true, message_finished: finished };
            a.send_into(Event::BytesMessage(event), &mut via_event).unwrap();
            b.send_data(Opcode::Binary, &payload, finished, &mut direct).unwrap();
        }
        let event = TextMessage { data: text.clone(), frame_finished: true, message_finished: true };
        a.send_into(Event::TextMessage(event), &mut via_event).unwrap();
        b.send_data(Opcode::Text, text.as_bytes(), true, &mut direct).unwrap();
        assert_eq!(via_event, direct, "size {size}");
    }
}

#[test]
fn refusals_append_nothing_and_keep_the_state() {
    let mut c = client(1);
    let mut out = Vec::new();
    c.send_data(Opcode::Text, "a".as_bytes(), false, &mut out).unwrap();
    let sent = out.len();
    // A binary piece inside an open text message.
    assert!(c.send_data(Opcode::Binary, b"x", true, &mut out).is_err());
    // Invalid UTF-8, and opcodes that are not data.
    assert!(c.send_data(Opcode::Text, b"\xc3", true, &mut out).is_err());
    for opcode in [Opcode::Continuation, Opcode::Ping, Opcode::Pong, Opcode::Close] {
        assert!(c.send_data(opcode, b"", true, &mut out).is_err(), "{opcode:?}");
    }
    assert_eq!(out.len(), sent);
    c.send_data(Opcode::Text, "b".as_bytes(), true, &mut out).unwrap();
    // After our close, data is refused with the event's name.
    c.send_into(Event::CloseConnection(CloseConnection::new(1000)), &mut out).unwrap();
    assert_eq!(c.state(), ConnectionState::LocalClosing);
    let err = c.send_data(Opcode::Binary, b"late", true, &mut out).unwrap_err();
    assert_eq!(err.message(), "Event BytesMessage cannot be sent in state LOCAL_CLOSING.");
}
