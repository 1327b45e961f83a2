//! The outcome of a byte stream never depends on how it is chunked: events
//! are decided in stream order, so the first violation in the (inflated)
//! bytes decides the close code, a size limit or invalid UTF-8 alike.
//!
//! Random client streams with permessage-deflate: messages of valid and
//! invalid UTF-8 around the server's `max_message_size`, in fragments with
//! pings between them, fed whole, a byte at a time and in random chunks,
//! and checked against a model of the first violation.

use proptest::prelude::*;
use wsproto::events::{BytesMessage, Event, Ping};
use wsproto::extensions::{Extension, PerMessageDeflate};
use wsproto::{Config, Connection, ConnectionType, SeededRandom};

const LIMIT: u64 = 4096;

/// A message: its bytes (UTF-8 or not), sent as text in `fragments`.
#[derive(Clone, Debug)]
struct Message {
    bytes: Vec<u8>,
    fragments: usize,
    pings_between: bool,
}

fn message() -> impl Strategy<Value = Message> {
    // Sizes around the limit; text with an invalid byte somewhere, or not.
    let len = prop_oneof![0usize..64, (LIMIT as usize - 64)..(LIMIT as usize + 64), 0usize..(2 * LIMIT as usize)];
    (len, prop::option::of(any::<prop::sample::Index>()), any::<u8>(), 1usize..4, any::<bool>()).prop_map(
        |(len, bad_at, bad, fragments, pings_between)| {
            let mut bytes: Vec<u8> = "abcé€😀 ".repeat(len / 4 + 1).into_bytes();
            bytes.truncate(len);
            if let Some(at) = bad_at.filter(|_| len > 0) {
                // 0x80-0xFF: a continuation or lead byte, invalid here or later.
                bytes[at.index(len)] = bad | 0x80;
            }
            Message { bytes, fragments, pings_between }
        },
    )
}

/// A negotiated client/server pair of frame connections with deflate.
fn pair() -> (Connection, Connection) {
    let mut client_ext = PerMessageDeflate::new();
    let mut server_ext = PerMessageDeflate::new();
    let params = server_ext.accept(&format!("permessage-deflate; {}", client_ext.offer())).expect("accepted");
    let response =
        if params.is_empty() { "permessage-deflate".to_owned() } else { format!("permessage-deflate; {params}") };
    client_ext.finalize(&response).expect("finalized");
    let client = Connection::new(ConnectionType::Client, vec![Box::new(client_ext)], b"")
        .with_random(Box::new(SeededRandom::new(9)));
    let config = Config { max_message_size: LIMIT, ..Config::default() };
    let server =
        Connection::with_config(ConnectionType::Server, vec![Box::new(server_ext) as Box<dyn Extension>], b"", config);
    (client, server)
}

/// The client's bytes: each message compressed as binary, its first
/// frame's opcode then turned into text (so invalid UTF-8 can be sent).
fn wire(messages: &[Message]) -> Vec<u8> {
    let (mut client, _) = pair();
    let mut out = Vec::new();
    for m in messages {
        let step = m.bytes.len() / m.fragments + 1;
        let pieces: Vec<&[u8]> = if m.bytes.is_empty() { vec![&[]] } else { m.bytes.chunks(step).collect() };
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            let frame = client
                .send(BytesMessage { data: piece.to_vec(), frame_finished: true, message_finished: last }.into())
                .expect("send");
            let mut frame = frame;
            if i == 0 {
                assert_eq!(frame[0] & 0x0F, 0x2);
                frame[0] = (frame[0] & 0xF0) | 0x1;
            }
            out.extend(frame);
            if m.pings_between && !last {
                out.extend(client.send(Ping::new(b"p".to_vec()).into()).expect("ping"));
            }
        }
    }
    out
}

/// What the server should report: each message's text, then the first
/// violation's close, if any.
fn model(messages: &[Message]) -> Vec<String> {
    let mut out = Vec::new();
    for m in messages {
        let fits = &m.bytes[..m.bytes.len().min(LIMIT as usize)];
        // An invalid byte within what fits comes first in the stream.
        let invalid_in_fits = matches!(std::str::from_utf8(fits), Err(e) if e.error_len().is_some());
        if m.bytes.len() as u64 > LIMIT {
            out.push(if invalid_in_fits { "close 1007" } else { "close 1009" }.to_owned());
            return out;
        }
        match std::str::from_utf8(&m.bytes) {
            Ok(text) => out.push(text.to_owned()),
            Err(_) => {
                out.push("close 1007".to_owned());
                return out;
            }
        }
    }
    out
}

/// The server's outcome for the stream fed in `chunks`: whole messages'
/// text, then the close code (pings dropped: they interleave by design).
fn receive<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    let (_, mut server) = pair();
    let mut out = Vec::new();
    let mut text = String::new();
    for chunk in chunks {
        if server.receive_data(Some(chunk)).is_err() {
            break;
        }
        for event in server.events() {
            match event {
                Event::TextMessage(t) => {
                    text.push_str(&t.data);
                    if t.message_finished {
                        out.push(std::mem::take(&mut text));
                    }
                }
                Event::CloseConnection(c) => out.push(format!("close {}", c.code)),
                Event::Ping(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn deflate_streams_end_the_same_however_they_are_chunked(
        messages in prop::collection::vec(message(), 1..4),
        sizes in prop::collection::vec(1usize..600, 1..8),
    ) {
        let bytes = wire(&messages);
        let expected = model(&messages);
        prop_assert_eq!(&receive(std::iter::once(&bytes[..])), &expected, "whole");
        prop_assert_eq!(&receive(bytes.chunks(1)), &expected, "a byte at a time");
        let mut chunks = Vec::new();
        let mut rest = &bytes[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*size).min(rest.len()));
            chunks.push(head);
            rest = tail;
        }
        prop_assert_eq!(&receive(chunks.into_iter()), &expected, "random chunks");
    }
}

/// The case issue 15 reported through the package, natively: a text
/// message whose inflated bytes pass the limit, with an invalid byte
/// before it, is a 1007 fed whole and fed a byte at a time.
#[test]
fn an_invalid_byte_before_the_limit_wins_over_the_limit() {
    let mut bytes = vec![b'a'; 2 * LIMIT as usize];
    bytes[100] = 0xFF;
    let messages = [Message { bytes, fragments: 1, pings_between: false }];
    let wire = wire(&messages);
    assert_eq!(receive(std::iter::once(&wire[..])), ["close 1007"]);
    assert_eq!(receive(wire.chunks(1)), ["close 1007"]);
    // Past the limit it is the size that fails first.
    let mut bytes = vec![b'a'; 2 * LIMIT as usize];
    bytes[LIMIT as usize] = 0xFF;
    let wire = self::wire(&[Message { bytes, fragments: 2, pings_between: true }]);
    assert_eq!(receive(std::iter::once(&wire[..])), ["close 1009"]);
    assert_eq!(receive(wire.chunks(1)), ["close 1009"]);
}
