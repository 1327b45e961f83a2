//! The frame protocol through the frame-only `Connection`: exact bytes in,
//! exact events out, and every failure with its close code.

mod common;

use common::frames::{masked_with, plain};
use wsproto::events::{BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage};
use wsproto::extensions::Extension;
use wsproto::{
    Config, Connection, ConnectionState, ConnectionType, LocalProtocolError, Opcode, ParseFailed, RandomSource, Rsv,
    SeededRandom,
};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client sends it (masked with KEY), built by hand.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    masked_with(KEY, first, payload)
}

fn server() -> Connection {
    Connection::new(ConnectionType::Server, vec![], b"")
}

fn client() -> Connection {
    Connection::new(ConnectionType::Client, vec![], b"")
}

fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Event> {
    conn.receive_data(Some(bytes)).expect("receive_data");
    conn.events().collect()
}

fn text(data: &str, frame_finished: bool, message_finished: bool) -> Event {
    Event::TextMessage(TextMessage { data: data.into(), frame_finished, message_finished })
}

fn bytes(data: &[u8], frame_finished: bool, message_finished: bool) -> Event {
    Event::BytesMessage(BytesMessage { data: data.into(), frame_finished, message_finished })
}

fn close(code: u16, reason: &str) -> Event {
    Event::CloseConnection(CloseConnection::with_reason(code, reason))
}

/// Feeds `input` to a fresh server and expects exactly one close event with `code`.
fn server_fails(input: &[u8], code: u16, reason: &str) {
    let mut conn = server();
    let events = feed(&mut conn, input);
    assert_eq!(events, vec![close(code, reason)], "input {input:02x?}");
    // A failure does not change the state: the application replies with the close.
    assert_eq!(conn.state(), ConnectionState::Open);
}

// ---- messages -------------------------------------------------------------

#[test]
fn receives_whole_messages() {
    let mut conn = server();
    assert_eq!(feed(&mut conn, &masked(0x81, b"Hello")), vec![text("Hello", true, true)]);
    assert_eq!(feed(&mut conn, &masked(0x82, b"\x00\xff")), vec![bytes(b"\x00\xff", true, true)]);
    assert_eq!(feed(&mut conn, &masked(0x81, b"")), vec![text("", true, true)]);
    assert_eq!(feed(&mut conn, &masked(0x82, b"")), vec![bytes(b"", true, true)]);
}

#[test]
fn rfc_6455_examples() {
    // Section 5.7: unmasked "Hello", masked "Hello", fragmented "Hel" + "lo".
    let mut c = client();
    assert_eq!(feed(&mut c, b"\x81\x05\x48\x65\x6c\x6c\x6f"), vec![text("Hello", true, true)]);
    assert_eq!(
        feed(&mut c, b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f"),
        vec![text("Hel", true, false), text("lo", true, true)]
    );
    let mut s = server();
    assert_eq!(feed(&mut s, b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), vec![text("Hello", true, true)]);
    // Unmasked ping and its pong.
    assert_eq!(feed(&mut c, b"\x89\x05Hello"), vec![Event::Ping(Ping::new(*b"Hello"))]);
}

#[test]
fn many_messages_in_one_chunk() {
    let mut conn = server();
    let mut input = masked(0x81, b"one");
    input.extend(masked(0x82, b"two"));
    input.extend(masked(0x89, b"p"));
    input.extend(masked(0x8A, b"q"));
    assert_eq!(
        feed(&mut conn, &input),
        vec![
            text("one", true, true),
            bytes(b"two", true, true),
            Event::Ping(Ping::new(*b"p")),
            Event::Pong(Pong::new(*b"q")),
        ]
    );
}

#[test]
fn length_boundaries() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut conn = server();
        assert_eq!(feed(&mut conn, &masked(0x82, &payload)), vec![bytes(&payload, true, true)], "len {len}");
    }
}

#[test]
fn a_frame_in_pieces_streams_as_it_arrives() {
    let mut conn = server();
    let frame = masked(0x82, b"abcdefghij");
    // The header (2 + 4 bytes) yields nothing until complete.
    for i in 0..6 {
        assert_eq!(feed(&mut conn, &frame[i..i + 1]), vec![], "header byte {i}");
    }
    assert_eq!(feed(&mut conn, &frame[6..9]), vec![bytes(b"abc", false, false)]);
    assert_eq!(feed(&mut conn, &frame[9..15]), vec![bytes(b"defghi", false, false)]);
    assert_eq!(feed(&mut conn, &frame[15..]), vec![bytes(b"j", true, true)]);
}

#[test]
fn fragmented_messages_with_interleaved_control_frames() {
    let mut conn = server();
    let mut input = masked(0x01, b"Hel");
    input.extend(masked(0x89, b"ping"));
    input.extend(masked(0x00, b"lo, "));
    input.extend(masked(0x8A, b""));
    input.extend(masked(0x80, "wörld".as_bytes()));
    assert_eq!(
        feed(&mut conn, &input),
        vec![
            text("Hel", true, false),
            Event::Ping(Ping::new(*b"ping")),
            text("lo, ", true, false),
            Event::Pong(Pong::default()),
            text("wörld", true, true),
        ]
    );
    // The message is over: a new one may start.
    assert_eq!(feed(&mut conn, &masked(0x82, b"x")), vec![bytes(b"x", true, true)]);
}

#[test]
fn empty_fragments() {
    let mut conn = server();
    let mut input = masked(0x02, b"");
    input.extend(masked(0x00, b""));
    input.extend(masked(0x80, b""));
    assert_eq!(feed(&mut conn, &input), vec![bytes(b"", true, false), bytes(b"", true, false), bytes(b"", true, true)]);
}

#[test]
fn every_chunking_gives_the_same_message() {
    let mut input = masked(0x01, "né€".as_bytes());
    input.extend(masked(0x89, b"hi"));
    input.extend(masked(0x80, "😀!".as_bytes()));
    for size in 1..input.len() {
        let mut conn = server();
        let mut message = String::new();
        let mut pings = 0;
        for piece in input.chunks(size) {
            for event in feed(&mut conn, piece) {
                match event {
                    Event::TextMessage(m) => message.push_str(&m.data),
                    Event::Ping(p) => {
                        assert_eq!(p.payload, b"hi");
                        pings += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!((message.as_str(), pings), ("né€😀!", 1), "chunk size {size}");
    }
}

// ---- UTF-8 ----------------------------------------------------------------

#[test]
fn invalid_utf8_fails_in_the_chunk_where_it_appears() {
    let mut conn = server();
    let mut payload = b"valid".to_vec();
    payload.push(0xFF);
    payload.extend(vec![b'a'; 1000]);
    let frame = masked(0x81, &payload);
    // The header (8 bytes) and 5 valid payload bytes: a first piece.
    assert_eq!(feed(&mut conn, &frame[..8 + 5]), vec![text("valid", false, false)]);
    // The next byte is invalid: 1007 at once, long before the frame ends.
    assert_eq!(feed(&mut conn, &frame[13..14]), vec![close(1007, "invalid UTF-8 in text message")]);
    // The rest of the frame is ignored.
    assert_eq!(feed(&mut conn, &frame[14..]), vec![]);
}

#[test]
fn code_points_split_across_frames() {
    let mut conn = server();
    let euro = "€".as_bytes();
    let mut input = masked(0x01, &euro[..1]);
    input.extend(masked(0x00, &euro[1..2]));
    input.extend(masked(0x80, &euro[2..]));
    assert_eq!(feed(&mut conn, &input), vec![text("", true, false), text("", true, false), text("€", true, true)]);
}

#[test]
fn utf8_failures() {
    for bad in [&b"\xC0\xAF"[..], b"\xED\xA0\x80", b"\xF4\x90\x80\x80", b"\xE2\x82"] {
        server_fails(&masked(0x81, bad), 1007, "invalid UTF-8 in text message");
    }
    // Incomplete at the end of a fragmented message.
    let mut input = masked(0x01, b"\xE2\x82");
    input.extend(masked(0x80, b""));
    let mut conn = server();
    assert_eq!(feed(&mut conn, &input), vec![text("", true, false), close(1007, "invalid UTF-8 in text message")]);
    // Binary messages are not checked.
    let mut conn = server();
    assert_eq!(feed(&mut conn, &masked(0x82, b"\xFF")), vec![bytes(b"\xFF", true, true)]);
}

// ---- protocol failures ----------------------------------------------------

#[test]
fn reserved_opcodes() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        server_fails(&masked(0x80 | op, b""), 1002, &format!("Invalid opcode {op:#x}"));
    }
}

#[test]
fn control_frame_rules() {
    server_fails(&masked(0x09, b""), 1002, "Invalid attempt to fragment control frame");
    server_fails(&masked(0x88, &[b'x'; 126]), 1002, "Control frame with payload len > 125");
    // 125 bytes is fine.
    let mut conn = server();
    assert_eq!(feed(&mut conn, &masked(0x89, &[7; 125])), vec![Event::Ping(Ping::new(vec![7; 125]))]);
}

#[test]
fn length_encodings() {
    server_fails(b"\x82\xFE\x00\x7D", 1002, "Payload length used 2 bytes when 1 would have sufficed");
    server_fails(
        &[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
        1002,
        "Payload length used 8 bytes when 2 would have sufficed",
    );
    server_fails(&[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], 1002, "8-byte payload length with non-zero MSB");
}

#[test]
fn masking_rules() {
    server_fails(&plain(0x81, b"hi"), 1002, "server received unexpected unmasked frame");
    let mut conn = client();
    assert_eq!(feed(&mut conn, &masked(0x81, b"hi")), vec![close(1002, "client received unexpected masked frame")]);
}

#[test]
fn a_bad_header_fails_before_its_mask_key_arrives() {
    let mut conn = server();
    // FIN + RSV1 + text, masked, length 1, and half of the mask key.
    assert_eq!(feed(&mut conn, &[0xC1, 0x81, 0x37, 0xfa]), vec![close(1002, "Reserved bit set unexpectedly")]);
    let mut conn = limited(10, 10);
    assert_eq!(feed(&mut conn, &[0x82, 0x8B]), vec![close(1009, "frame of 11 bytes exceeds the limit")]);
}

#[test]
fn rsv_bits_without_extension() {
    for bit in [0x40u8, 0x20, 0x10] {
        server_fails(&masked(0x81 | bit, b"x"), 1002, "Reserved bit set unexpectedly");
        server_fails(&masked(0x89 | bit, b"x"), 1002, "Reserved bit set unexpectedly");
    }
}

#[test]
fn continuation_rules() {
    server_fails(&masked(0x80, b"x"), 1002, "unexpected CONTINUATION");
    let mut input = masked(0x01, b"a");
    input.extend(masked(0x81, b"b"));
    let mut conn = server();
    assert_eq!(feed(&mut conn, &input), vec![text("a", true, false), close(1002, "expected CONTINUATION, got Text")]);
    let mut input = masked(0x02, b"a");
    input.extend(masked(0x01, b"b"));
    let mut conn = server();
    assert_eq!(feed(&mut conn, &input), vec![bytes(b"a", true, false), close(1002, "expected CONTINUATION, got Text")]);
}

#[test]
fn nothing_is_parsed_after_a_failure() {
    let mut conn = server();
    let mut input = masked(0x83, b"");
    input.extend(masked(0x81, b"after"));
    assert_eq!(feed(&mut conn, &input), vec![close(1002, "Invalid opcode 0x3")]);
    assert_eq!(feed(&mut conn, &masked(0x81, b"later")), vec![]);
}

// ---- limits ---------------------------------------------------------------

fn limited(max_frame: u64, max_message: u64) -> Connection {
    let config = Config { max_frame_size: max_frame, max_message_size: max_message, ..Config::default() };
    Connection::with_config(ConnectionType::Server, vec![], b"", config)
}

#[test]
fn frame_limit_fails_on_the_header_alone() {
    let mut conn = limited(100, 1000);
    let frame = masked(0x82, &[0; 101]);
    // Header only: the declared length is already too big.
    assert_eq!(feed(&mut conn, &frame[..8]), vec![close(1009, "frame of 101 bytes exceeds the limit")]);
    let mut conn = limited(100, 1000);
    assert_eq!(feed(&mut conn, &masked(0x82, &[0; 100])), vec![bytes(&[0; 100], true, true)]);
}

#[test]
fn huge_declared_lengths_are_counted_not_allocated() {
    for len in [(1u64 << 63) - 1, (1 << 53) + 1] {
        let mut header = vec![0x82, 0xFF];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&KEY);
        server_fails(&header, 1009, &format!("frame of {len} bytes exceeds the limit"));
    }
}

#[test]
fn message_limit_counts_across_fragments() {
    let mut conn = limited(100, 150);
    let mut input = masked(0x02, &[1; 100]);
    input.extend(masked(0x80, &[2; 51]));
    assert_eq!(
        feed(&mut conn, &input),
        vec![bytes(&[1; 100], true, false), close(1009, "message exceeds the size limit")]
    );
    // Exactly at the limit is fine.
    let mut conn = limited(100, 150);
    let mut input = masked(0x02, &[1; 100]);
    input.extend(masked(0x80, &[2; 50]));
    assert_eq!(feed(&mut conn, &input).len(), 2);
}

// ---- closing --------------------------------------------------------------

#[test]
fn received_close_codes() {
    let ok: Vec<u16> = vec![1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999];
    let bad: Vec<u16> = vec![0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
    for code in ok {
        let mut conn = server();
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        assert_eq!(feed(&mut conn, &masked(0x88, &payload)), vec![close(code, "bye")]);
        assert_eq!(conn.state(), ConnectionState::RemoteClosing);
    }
    for code in bad {
        let reason = match code {
            1005 | 1006 | 1015 => "remote CLOSE with local-only reason",
            1000..=2999 => "CLOSE with unknown reserved code",
            _ => "CLOSE with invalid code",
        };
        server_fails(&masked(0x88, &code.to_be_bytes()), 1002, reason);
    }
    let mut conn = server();
    assert_eq!(feed(&mut conn, &masked(0x88, b"")), vec![close(1005, "")]);
    server_fails(&masked(0x88, b"\x03"), 1002, "CLOSE with 1 byte payload");
    server_fails(&masked(0x88, b"\x03\xe8\xff"), 1007, "CLOSE reason is not valid UTF-8");
}

#[test]
fn close_handshake_initiated_remotely() {
    let mut conn = server();
    let mut input = masked(0x88, b"\x03\xe8");
    input.extend(masked(0x81, b"ignored: after the close"));
    assert_eq!(feed(&mut conn, &input), vec![close(1000, "")]);
    assert_eq!(conn.state(), ConnectionState::RemoteClosing);
    // Further bytes are ignored in REMOTE_CLOSING.
    assert_eq!(feed(&mut conn, &masked(0x81, b"more")), vec![]);
    // Messages may no longer be sent; the close reply may.
    let err = conn.send(TextMessage::new("late").into()).unwrap_err();
    assert_eq!(err.message(), "Event TextMessage cannot be sent in state REMOTE_CLOSING.");
    assert_eq!(conn.send(CloseConnection::new(1000).into()).unwrap(), b"\x88\x02\x03\xe8");
    assert_eq!(conn.state(), ConnectionState::Closed);
    assert_eq!(
        conn.receive_data(Some(b"x")).unwrap_err(),
        wsproto::Error::Local(LocalProtocolError::new("Connection already closed."))
    );
}

#[test]
fn close_handshake_initiated_locally() {
    let mut conn = server();
    assert_eq!(conn.send(CloseConnection::with_reason(1001, "away").into()).unwrap(), b"\x88\x06\x03\xe9away");
    assert_eq!(conn.state(), ConnectionState::LocalClosing);
    // Data still arrives while the peer has not answered.
    assert_eq!(feed(&mut conn, &masked(0x81, b"late")), vec![text("late", true, true)]);
    assert_eq!(feed(&mut conn, &masked(0x88, b"\x03\xe9")), vec![close(1001, "")]);
    assert_eq!(conn.state(), ConnectionState::Closed);
    let err = conn.send(CloseConnection::new(1000).into()).unwrap_err();
    assert_eq!(err.message(), "Event CloseConnection cannot be sent in state CLOSED.");
}

#[test]
fn eof_is_an_abnormal_closure() {
    let mut conn = server();
    let frame = masked(0x82, b"partial");
    assert_eq!(feed(&mut conn, &frame[..8]), vec![bytes(b"pa", false, false)]);
    conn.receive_data(None).unwrap();
    assert_eq!(conn.events().collect::<Vec<_>>(), vec![close(1006, "")]);
    assert_eq!(conn.state(), ConnectionState::Closed);
    // A second EOF says nothing more.
    conn.receive_data(None).unwrap();
    assert_eq!(conn.events().count(), 0);
}

#[test]
fn sending_close_codes() {
    let mut conn = server();
    // 1005 means "no status": an empty close frame (what response() to an empty close sends).
    assert_eq!(conn.send(CloseConnection::new(1005).into()).unwrap(), b"\x88\x00");
    for code in [1006u16, 1015, 999, 0, 5000, 65535] {
        let err = server().send(CloseConnection::new(code).into()).unwrap_err();
        assert!(err.message().contains(&code.to_string()), "{err}");
    }
    let err = server().send(CloseConnection::with_reason(1005, "why").into()).unwrap_err();
    assert_eq!(err.message(), "cannot send a close reason without a close code");
    // A refused close leaves the state alone.
    let mut conn = server();
    assert!(conn.send(CloseConnection::new(1006).into()).is_err());
    assert_eq!(conn.state(), ConnectionState::Open);
    // Reasons are cut to 123 bytes on a code point boundary.
    let long = "é".repeat(100);
    let frame = server().send(CloseConnection::with_reason(4000, long).into()).unwrap();
    assert_eq!(&frame[..4], b"\x88\x7c\x0f\xa0");
    assert_eq!(frame.len(), 2 + 2 + 122);
    assert_eq!(std::str::from_utf8(&frame[4..]).unwrap(), "é".repeat(61));
}

#[test]
fn response_to_received_close_round_trips() {
    let mut conn = server();
    let events = feed(&mut conn, &masked(0x88, b""));
    let Event::CloseConnection(received) = &events[0] else { panic!() };
    assert_eq!(conn.send(received.response().into()).unwrap(), b"\x88\x00");
    assert_eq!(conn.state(), ConnectionState::Closed);
}

// ---- sending --------------------------------------------------------------

#[test]
fn server_frames_are_unmasked() {
    let mut conn = server();
    assert_eq!(conn.send(TextMessage::new("Hello").into()).unwrap(), b"\x81\x05Hello");
    assert_eq!(conn.send(BytesMessage::new(vec![1, 2]).into()).unwrap(), b"\x82\x02\x01\x02");
    assert_eq!(conn.send(Ping::new(*b"p").into()).unwrap(), b"\x89\x01p");
    assert_eq!(conn.send(Pong::new(*b"q").into()).unwrap(), b"\x8a\x01q");
    let big = conn.send(BytesMessage::new(vec![9; 70000]).into()).unwrap();
    assert_eq!(&big[..10], &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    assert_eq!(big.len(), 70010);
}

#[test]
fn client_frames_are_masked_with_fresh_keys() {
    let mut conn = client().with_random(Box::new(SeededRandom::new(7)));
    let mut keys = SeededRandom::new(7);
    for _ in 0..3 {
        let mut key = [0u8; 4];
        keys.fill(&mut key).unwrap();
        let frame = conn.send(TextMessage::new("Hello").into()).unwrap();
        let mut expected = vec![0x81, 0x85];
        expected.extend_from_slice(&key);
        expected.extend(b"Hello".iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        assert_eq!(frame, expected);
    }
    // The server side reads them back.
    let mut conn = client().with_random(Box::new(SeededRandom::new(1)));
    let mut srv = server();
    for len in [0usize, 125, 126, 65536] {
        let payload = vec![0xA5; len];
        let frame = conn.send(BytesMessage::new(payload.clone()).into()).unwrap();
        assert_eq!(feed(&mut srv, &frame), vec![bytes(&payload, true, true)]);
    }
}

#[test]
fn fragmented_sends() {
    let mut conn = server();
    let mut first = TextMessage::new("a");
    first.message_finished = false;
    assert_eq!(conn.send(first.clone().into()).unwrap(), b"\x01\x01a");
    assert_eq!(conn.send(first.into()).unwrap(), b"\x00\x01a");
    // A ping may interleave.
    assert_eq!(conn.send(Ping::default().into()).unwrap(), b"\x89\x00");
    // Switching type mid-message is refused.
    let err = conn.send(BytesMessage::new(*b"b").into()).unwrap_err();
    assert_eq!(err.message(), "Data type mismatch inside message");
    assert_eq!(conn.send(TextMessage::new("b").into()).unwrap(), b"\x80\x01b");
    // The next message starts afresh.
    assert_eq!(conn.send(BytesMessage::new(*b"c").into()).unwrap(), b"\x82\x01c");
}

#[test]
fn oversized_control_payloads_are_refused() {
    let err = server().send(Ping::new(vec![0; 126]).into()).unwrap_err();
    assert_eq!(err.message(), "control frame payload of 126 bytes exceeds 125");
    assert!(server().send(Pong::new(vec![0; 126]).into()).is_err());
    assert_eq!(server().send(Ping::new(vec![0; 125]).into()).unwrap().len(), 127);
}

#[test]
fn handshake_events_cannot_be_sent_on_a_connection() {
    let err = server().send(wsproto::events::AcceptConnection::default().into()).unwrap_err();
    assert_eq!(err.message(), "Event AcceptConnection cannot be sent in state OPEN.");
}

#[test]
fn trailing_data_is_parsed_at_once() {
    let mut input = masked(0x81, b"first");
    input.extend(masked(0x82, b"sec"));
    let mut conn = Connection::new(ConnectionType::Server, vec![], &input[..input.len() - 1]);
    assert_eq!(conn.events().collect::<Vec<_>>(), vec![text("first", true, true), bytes(b"se", false, false)]);
    assert_eq!(feed(&mut conn, &input[input.len() - 1..]), vec![bytes(b"c", true, true)]);
}

// ---- extension hooks ------------------------------------------------------

/// A toy extension that claims RSV2 and flips the case of ASCII letters in
/// frames that carry RSV2, appending '!' at the end of each such frame.
#[derive(Clone, Debug, Default)]
struct Flip {
    active: bool,
}

impl Extension for Flip {
    fn name(&self) -> &str {
        "x-flip"
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn accept(&mut self, _offer: &str) -> Option<String> {
        Some(String::new())
    }
    fn finalize(&mut self, _response: &str) -> Result<(), String> {
        Ok(())
    }
    fn frame_inbound_header(&mut self, opcode: Opcode, rsv: Rsv, _len: u64) -> Result<Rsv, ParseFailed> {
        if opcode.is_control() && rsv.rsv2 {
            return Err(ParseFailed { code: 1002, reason: "x-flip on a control frame".into() });
        }
        self.active = rsv.rsv2;
        Ok(Rsv { rsv2: true, ..Rsv::NONE })
    }
    fn frame_inbound_payload_data(&mut self, data: &[u8], out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        let flip = self.active;
        out.extend(data.iter().map(|b| if flip && b.is_ascii_alphabetic() { b ^ 0x20 } else { *b }));
        Ok(())
    }
    fn frame_inbound_complete(&mut self, _fin: bool, out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        if self.active {
            out.push(b'!');
        }
        Ok(())
    }
    fn frame_outbound(&mut self, opcode: Opcode, rsv: Rsv, data: Vec<u8>, _fin: bool) -> (Rsv, Vec<u8>) {
        if opcode.is_control() {
            return (rsv, data);
        }
        (Rsv { rsv2: true, ..rsv }, data.iter().map(|b| if b.is_ascii_alphabetic() { b ^ 0x20 } else { *b }).collect())
    }
}

#[test]
fn extensions_claim_rsv_bits_and_transform_payloads() {
    let mut conn = Connection::new(ConnectionType::Server, vec![Box::new(Flip::default())], b"");
    assert_eq!(feed(&mut conn, &masked(0xA1, b"abC")), vec![text("ABc!", true, true)]);
    // Frames without the bit pass through.
    assert_eq!(feed(&mut conn, &masked(0x81, b"abC")), vec![text("abC", true, true)]);
    // Bits the extension does not claim are still refused.
    assert_eq!(feed(&mut conn, &masked(0xC1, b"x")), vec![close(1002, "Reserved bit set unexpectedly")]);
    let mut conn = Connection::new(ConnectionType::Server, vec![Box::new(Flip::default())], b"");
    assert_eq!(feed(&mut conn, &masked(0xA9, b"")), vec![close(1002, "x-flip on a control frame")]);
    // Outbound frames carry the extension's bits and payload.
    let mut conn = Connection::new(ConnectionType::Server, vec![Box::new(Flip::default())], b"");
    assert_eq!(conn.send(TextMessage::new("aB").into()).unwrap(), b"\xa1\x02Ab");
    assert_eq!(conn.send(Ping::new(*b"aB").into()).unwrap(), b"\x89\x02aB");
}
