//! Parity with wsproto's tests/test_frame_protocol.py through the public
//! frame-only `Connection`: wsproto's own byte vectors, in, and out.
//! (tests/frames.rs covers the frame layer by rule; this file ports the
//! reference suite's cases one by one, with its exact inputs.)
//!
//! wsproto cases not ported:
//! - `TestBuffer` (11 tests): wsproto's internal byte buffer has no public
//!   counterpart; its behaviour (partial headers held back, nothing lost
//!   across reads) is what the split-frame cases below check.
//! - `TestFrameProtocolSend::test_data_we_have_no_idea_what_to_do_with` and
//!   the `TypeError` of `test_reasoned_but_uncoded_close`: Rust's types make
//!   them impossible (a reason without a code is ported as code 1005).
//! - The `FrameDecoder`/`MessageDecoder` split: both layers are one here,
//!   so each case is fed as frames and checked as events.

mod parity_common;

use parity_common::*;
use wsproto::events::{BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage};
use wsproto::extensions::Extension;
use wsproto::{Connection, ConnectionState, ConnectionType, Opcode, ParseFailed, Rsv};

fn client() -> Connection {
    Connection::new(ConnectionType::Client, vec![], b"")
}

fn server() -> Connection {
    Connection::new(ConnectionType::Server, vec![], b"")
}

fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Event> {
    conn.receive_data(Some(bytes)).expect("receive_data");
    conn.events().collect()
}

fn text(data: &str, frame_finished: bool, message_finished: bool) -> Event {
    Event::TextMessage(TextMessage { data: data.into(), frame_finished, message_finished })
}

fn bin(data: &[u8], frame_finished: bool, message_finished: bool) -> Event {
    Event::BytesMessage(BytesMessage { data: data.into(), frame_finished, message_finished })
}

fn close(code: u16, reason: &str) -> Event {
    Event::CloseConnection(CloseConnection::with_reason(code, reason))
}

/// A frame header with the given first byte and an unmasked length.
fn header(first: u8, len: usize) -> Vec<u8> {
    let mut out = vec![first];
    push_len(&mut out, 0, len as u64);
    out
}

const FNORD: &str = "fñör∂";

// ---- TestMessageDecoder ------------------------------------------------------

#[test]
fn single_binary_frame() {
    let payload = [b'x'; 23];
    assert_eq!(feed(&mut client(), &plain(0x82, &payload)), vec![bin(&payload, true, true)]);
}

#[test]
fn follow_on_binary_frame() {
    let payload = [b'x'; 23];
    let mut conn = client();
    assert_eq!(feed(&mut conn, &plain(0x02, b"")), vec![bin(b"", true, false)]);
    assert_eq!(feed(&mut conn, &plain(0x00, &payload)), vec![bin(&payload, true, false)]);
}

#[test]
fn single_text_frame() {
    assert_eq!(feed(&mut client(), &plain(0x81, FNORD.as_bytes())), vec![text(FNORD, true, true)]);
}

#[test]
fn follow_on_and_final_text_frames_split_inside_code_points() {
    // "fñör∂" is 9 bytes; wsproto splits it at 4 and 7, inside "ö" and "∂".
    let raw = FNORD.as_bytes();
    let mut conn = client();
    assert_eq!(feed(&mut conn, &plain(0x01, &raw[..4])), vec![text("fñ", true, false)]);
    assert_eq!(feed(&mut conn, &plain(0x00, &raw[4..7])), vec![text("ör", true, false)]);
    assert_eq!(feed(&mut conn, &plain(0x80, &raw[7..])), vec![text("∂", true, true)]);
}

#[test]
fn start_with_continuation() {
    assert_eq!(feed(&mut client(), &plain(0x80, &[b'x'; 23])), vec![close(1002, "unexpected CONTINUATION")]);
}

#[test]
fn missing_continuation() {
    // wsproto: binary then binary, and text then binary.
    for first in [0x02u8, 0x01] {
        let mut input = plain(first, b"ab");
        input.extend(plain(0x82, &[b'x'; 23]));
        let events = feed(&mut client(), &input);
        let start = if first == 0x01 { text("ab", true, false) } else { bin(b"ab", true, false) };
        assert_eq!(events, vec![start, close(1002, "expected CONTINUATION, got Binary")]);
    }
}

#[test]
fn incomplete_unicode() {
    // The message ends inside "ö": 1007, and the complete "fñ" before it is
    // not delivered on its own (it is in the same piece).
    let raw = &FNORD.as_bytes()[..4];
    assert_eq!(feed(&mut client(), &plain(0x81, raw)), vec![close(1007, "invalid UTF-8 in text message")]);
}

#[test]
fn not_even_unicode() {
    // "fñörd" in ISO-8859-1, in an unfinished message: fails at once.
    let latin1 = [b'f', 0xF1, 0xF6, b'r', b'd'];
    assert_eq!(feed(&mut client(), &plain(0x01, &latin1)), vec![close(1007, "invalid UTF-8 in text message")]);
}

#[test]
fn bad_unicode() {
    // "κόσμε" + an encoded surrogate (ED A0 80) + "edited".
    let payload = [
        0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74,
        0x65, 0x64,
    ];
    assert_eq!(feed(&mut client(), &plain(0x81, &payload)), vec![close(1007, "invalid UTF-8 in text message")]);
    // In pieces: the valid prefix is delivered, then the failure.
    let frame = plain(0x81, &payload);
    let mut conn = client();
    let kosme = std::str::from_utf8(&payload[..11]).unwrap(); // "κόσμε" with U+1F79
    assert_eq!(feed(&mut conn, &frame[..2 + 11]), vec![text(kosme, false, false)]);
    // 0xED may start a valid sequence: held back. 0xA0 after it makes a
    // surrogate: the failure comes with that byte, before the frame ends.
    assert_eq!(feed(&mut conn, &frame[13..14]), vec![]);
    assert_eq!(feed(&mut conn, &frame[14..15]), vec![close(1007, "invalid UTF-8 in text message")]);
}

#[test]
fn split_message() {
    let payload = vec![b'x'; 65535];
    let frame = plain(0x81, &payload);
    let split = 4 + 32777;
    let mut conn = client();
    assert_eq!(feed(&mut conn, &frame[..split]), vec![text(&"x".repeat(32777), false, false)]);
    assert_eq!(feed(&mut conn, &frame[split..]), vec![text(&"x".repeat(65535 - 32777), true, true)]);
}

#[test]
fn split_unicode_message() {
    // "∂" * 64 is 192 bytes; the first 64 hold 21 code points and 1 byte of the 22nd.
    let message = "∂".repeat(64);
    let frame = plain(0x81, message.as_bytes());
    let split = 4 + 64;
    let mut conn = client();
    assert_eq!(feed(&mut conn, &frame[..split]), vec![text(&"∂".repeat(21), false, false)]);
    assert_eq!(feed(&mut conn, &frame[split..]), vec![text(&"∂".repeat(43), true, true)]);
}

// ---- TestFrameDecoder --------------------------------------------------------

#[test]
fn small_frames() {
    assert_eq!(feed(&mut client(), b"\x81\x00"), vec![text("", true, true)]); // zero length
    assert_eq!(feed(&mut client(), b"\x81\x02xy"), vec![text("xy", true, true)]); // short server frame
    assert_eq!(feed(&mut server(), b"\x81\x82abcd\x19\x1b"), vec![text("xy", true, true)]);
    // short client frame
}

#[test]
fn decoder_failures() {
    let mut long_control = b"\x89\x7e\x00\x80".to_vec();
    long_control.extend([b'x'; 128]);
    let mut short_in_two = b"\x81\x7e\x00\x40".to_vec();
    short_in_two.extend([b'x'; 64]);
    let mut medium_in_eight = b"\x81\x7f\x00\x00\x00\x00\x00\x00\x02\x00".to_vec();
    medium_in_eight.extend([b'x'; 512]);
    let mut short_in_eight = b"\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x40".to_vec();
    short_in_eight.extend([b'x'; 64]);
    // (we are the client?, bytes, reason) — wsproto's vectors and messages, all 1002.
    let cases: Vec<(bool, Vec<u8>, &str)> = vec![
        (true, b"\x81\x82abcd\x19\x1b".to_vec(), "client received unexpected masked frame"),
        (false, b"\x81\x02xy".to_vec(), "server received unexpected unmasked frame"),
        (true, b"\x8e\x02xy".to_vec(), "Invalid opcode 0xe"),
        (true, b"\x09\x02xy".to_vec(), "Invalid attempt to fragment control frame"),
        (true, b"\x91\x02xy".to_vec(), "Reserved bit set unexpectedly"),
        (true, b"\xa1\x02xy".to_vec(), "Reserved bit set unexpectedly"),
        (true, b"\xc1\x02xy".to_vec(), "Reserved bit set unexpectedly"),
        (true, short_in_two, "Payload length used 2 bytes when 1 would have sufficed"),
        (true, medium_in_eight, "Payload length used 8 bytes when 2 would have sufficed"),
        (true, short_in_eight, "Payload length used 8 bytes when 2 would have sufficed"),
        (true, b"\x81\x7f\x80\x80\x80\x80\x80\x80\x80\x80".to_vec(), "8-byte payload length with non-zero MSB"),
        (true, long_control, "Control frame with payload len > 125"),
    ];
    for (is_client, bytes, reason) in cases {
        let mut conn = if is_client { client() } else { server() };
        assert_eq!(feed(&mut conn, &bytes), vec![close(1002, reason)], "{bytes:02x?}");
        assert_eq!(conn.state(), ConnectionState::Open);
    }
}

#[test]
fn long_and_very_long_frames() {
    for len in [512usize, 128 * 1024] {
        let payload = vec![b'x'; len];
        let mut frame = header(0x81, len);
        assert_eq!(frame.len(), if len < 65536 { 4 } else { 10 });
        frame.extend(&payload);
        assert_eq!(feed(&mut client(), &frame), vec![text(&"x".repeat(len), true, true)], "len {len}");
    }
}

#[test]
fn not_enough_for_the_header_length_or_mask() {
    // (we are the client?, frame, split): nothing until the header is whole,
    // then the whole payload in one event.
    let mut long = header(0x81, 512);
    long.extend([b'x'; 512]);
    let mut very_long = header(0x81, 128 * 1024);
    very_long.extend(vec![b'x'; 128 * 1024]);
    let cases: Vec<(bool, Vec<u8>, usize, String)> = vec![
        (true, b"\x81\x02xy".to_vec(), 1, "xy".into()),
        (true, long, 3, "x".repeat(512)),
        (true, very_long, 7, "x".repeat(128 * 1024)),
        (false, b"\x81\x82abcd\x19\x1b".to_vec(), 4, "xy".into()),
    ];
    for (is_client, frame, split, expected) in cases {
        let mut conn = if is_client { client() } else { server() };
        assert_eq!(feed(&mut conn, &frame[..split]), vec![], "split {split}");
        assert_eq!(feed(&mut conn, &frame[split..]), vec![text(&expected, true, true)]);
    }
}

#[test]
fn partial_message_frames() {
    let chunk = 1024;
    let payload = vec![b'x'; 128 * chunk];
    let mut frame = header(0x81, payload.len());
    let header_len = frame.len();
    frame.extend(&payload);
    let mut conn = client();
    assert_eq!(feed(&mut conn, &frame[..header_len]), vec![]);
    let pieces: Vec<&[u8]> = frame[header_len..].chunks(chunk).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        assert_eq!(feed(&mut conn, piece), vec![text(&"x".repeat(chunk), last, last)], "chunk {i}");
    }
}

#[test]
fn partial_control_frame() {
    let payload = vec![b'x'; 64];
    let frame = plain(0x89, &payload);
    let mut conn = client();
    let pieces: Vec<&[u8]> = frame.chunks(11).collect();
    for piece in &pieces[..pieces.len() - 1] {
        assert_eq!(feed(&mut conn, piece), vec![]);
    }
    assert_eq!(feed(&mut conn, pieces[pieces.len() - 1]), vec![Event::Ping(Ping::new(payload))]);
}

#[test]
fn long_message_sliced() {
    let mut frame = header(0x81, 65535);
    frame.extend(vec![b'x'; 65535]);
    let mut conn = client();
    assert_eq!(feed(&mut conn, &frame[..65535]), vec![text(&"x".repeat(65531), false, false)]);
    assert_eq!(feed(&mut conn, &frame[65535..]), vec![text("xxxx", true, true)]);
}

// ---- TestFrameDecoderExtensions ----------------------------------------------

/// wsproto's extension-test fake: claims RSV3; refuses PONG with 1010;
/// upper-cases payloads of RSV3 frames; fails "party time" with 1008;
/// "ragequit" makes the frame's completion fail with 1006; appends "™" to
/// the end of a final RSV3 frame. Outbound: sets RSV3 on TEXT frames and
/// appends "®" to the final frame of such a message.
#[derive(Debug, Clone, Default)]
struct Fake {
    inbound_rsv3: bool,
    fail_complete: bool,
    outbound_rsv3: bool,
}

impl Extension for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn offer(&self) -> String {
        "fake".into()
    }
    fn accept(&mut self, _offer: &str) -> Option<String> {
        None
    }
    fn finalize(&mut self, _response: &str) -> Result<(), String> {
        Ok(())
    }
    fn frame_inbound_header(&mut self, opcode: Opcode, rsv: Rsv, _len: u64) -> Result<Rsv, ParseFailed> {
        if opcode == Opcode::Pong {
            return Err(ParseFailed { code: 1010, reason: "fake refuses pongs".into() });
        }
        self.inbound_rsv3 = rsv.rsv3;
        Ok(Rsv { rsv3: true, ..Rsv::NONE })
    }
    fn frame_inbound_payload_data(&mut self, data: &[u8], out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        if data == b"party time" {
            return Err(ParseFailed { code: 1008, reason: "party time".into() });
        }
        if data == b"ragequit" {
            self.fail_complete = true;
        }
        if self.inbound_rsv3 {
            out.extend(String::from_utf8_lossy(data).to_uppercase().into_bytes());
        } else {
            out.extend_from_slice(data);
        }
        Ok(())
    }
    fn frame_inbound_complete(&mut self, fin: bool, out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        if self.fail_complete {
            return Err(ParseFailed { code: 1006, reason: "ragequit".into() });
        }
        if fin && self.inbound_rsv3 {
            out.extend("™".as_bytes());
        }
        Ok(())
    }
    fn frame_outbound(&mut self, opcode: Opcode, mut rsv: Rsv, mut data: Vec<u8>, fin: bool) -> (Rsv, Vec<u8>) {
        if opcode == Opcode::Text {
            rsv.rsv3 = true;
            self.outbound_rsv3 = true;
        }
        if fin && self.outbound_rsv3 {
            data.extend("®".as_bytes());
            self.outbound_rsv3 = false;
        }
        (rsv, data)
    }
}

fn with_fake(role: ConnectionType) -> Connection {
    Connection::new(role, vec![Box::new(Fake::default())], b"")
}

#[test]
fn extension_rsv_bit() {
    // An empty final RSV3 frame: accepted; completion adds "™".
    assert_eq!(feed(&mut with_fake(ConnectionType::Client), b"\x91\x00"), vec![text("™", true, true)]);
}

#[test]
fn extension_wrong_rsv_bit() {
    assert_eq!(
        feed(&mut with_fake(ConnectionType::Client), b"\xa1\x00"),
        vec![close(1002, "Reserved bit set unexpectedly")]
    );
}

#[test]
fn extension_header_error_handling() {
    assert_eq!(feed(&mut with_fake(ConnectionType::Client), b"\x9a\x00"), vec![close(1010, "fake refuses pongs")]);
}

#[test]
fn extension_payload_processing() {
    let mut frame = header(0x11, FNORD.len());
    frame.extend(FNORD.as_bytes());
    assert_eq!(feed(&mut with_fake(ConnectionType::Client), &frame), vec![text("FÑÖR∂", true, false)]);
}

#[test]
fn extension_no_payload_processing_when_not_wanted() {
    assert_eq!(
        feed(&mut with_fake(ConnectionType::Client), &plain(0x01, FNORD.as_bytes())),
        vec![text(FNORD, true, false)]
    );
}

#[test]
fn extension_payload_error_handling() {
    assert_eq!(
        feed(&mut with_fake(ConnectionType::Client), &plain(0x91, b"party time")),
        vec![close(1008, "party time")]
    );
}

#[test]
fn extension_frame_completion() {
    assert_eq!(
        feed(&mut with_fake(ConnectionType::Client), &plain(0x91, FNORD.as_bytes())),
        vec![text("FÑÖR∂™", true, true)]
    );
}

#[test]
fn extension_no_frame_completion_when_not_wanted() {
    assert_eq!(
        feed(&mut with_fake(ConnectionType::Client), &plain(0x81, FNORD.as_bytes())),
        vec![text(FNORD, true, true)]
    );
}

#[test]
fn extension_completion_error_handling() {
    assert_eq!(feed(&mut with_fake(ConnectionType::Client), &plain(0x91, b"ragequit")), vec![close(1006, "ragequit")]);
}

#[test]
fn extension_outbound_handling_single_frame() {
    let mut conn = with_fake(ConnectionType::Server);
    let payload = "😃😄🙃😉";
    let expected = format!("{payload}®");
    assert_eq!(conn.send(TextMessage::new(payload).into()).unwrap(), plain(0x91, expected.as_bytes()));
}

#[test]
fn extension_outbound_handling_multiple_frames() {
    let mut conn = with_fake(ConnectionType::Server);
    let first = TextMessage { data: "😃😄🙃😉".into(), frame_finished: true, message_finished: false };
    assert_eq!(conn.send(first.into()).unwrap(), plain(0x11, "😃😄🙃😉".as_bytes()));
    let second = r"¯\_(ツ)_/¯";
    assert_eq!(conn.send(TextMessage::new(second).into()).unwrap(), plain(0x80, format!("{second}®").as_bytes()));
}

#[test]
fn extension_is_not_consulted_for_control_payloads() {
    // A ping's payload is never transformed, whatever its bits.
    let mut conn = with_fake(ConnectionType::Client);
    assert_eq!(feed(&mut conn, &plain(0x89, b"party time")), vec![Event::Ping(Ping::new(*b"party time"))]);
    let mut conn = with_fake(ConnectionType::Server);
    assert_eq!(conn.send(Ping::new(*b"p").into()).unwrap(), b"\x89\x01p");
}

// ---- TestFrameProtocolReceive ------------------------------------------------

#[test]
fn long_text_message() {
    let mut frame = header(0x81, 65535);
    frame.extend(vec![b'x'; 65535]);
    assert_eq!(feed(&mut client(), &frame), vec![text(&"x".repeat(65535), true, true)]);
}

#[test]
fn received_close_frames() {
    let bad_utf8 = [
        0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74,
        0x65, 0x64,
    ];
    let with_code = |code: u16, reason: &[u8]| {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason);
        p
    };
    let cases: Vec<(Vec<u8>, Event)> = vec![
        (vec![], close(1005, "")),                                                    // no code
        (vec![0x0e], close(1002, "CLOSE with 1 byte payload")),                       // one byte
        (with_code(123, b""), close(1002, "CLOSE with invalid code")),                // bad code
        (with_code(2998, b""), close(1002, "CLOSE with unknown reserved code")),      // unknown code
        (with_code(1005, b""), close(1002, "remote CLOSE with local-only reason")),   // local-only code
        (with_code(1000, b""), close(1000, "")),                                      // no reason
        (with_code(1000, b"tarah old chap"), close(1000, "tarah old chap")),          // easy reason
        (with_code(1000, FNORD.as_bytes()), close(1000, FNORD)),                      // UTF-8 reason
        (with_code(1000, &bad_utf8), close(1007, "CLOSE reason is not valid UTF-8")), // bad UTF-8
        (with_code(1000, &FNORD.as_bytes()[..FNORD.len() - 1]), close(1007, "CLOSE reason is not valid UTF-8")), // incomplete
    ];
    for (payload, expected) in cases {
        let mut conn = client();
        assert_eq!(feed(&mut conn, &plain(0x88, &payload)), vec![expected.clone()], "{payload:02x?}");
        // A valid close moves to REMOTE_CLOSING; a failure leaves the state alone.
        let valid = matches!(&expected, Event::CloseConnection(c) if !c.reason.starts_with("CLOSE") && !c.reason.starts_with("remote"));
        let state = if valid { ConnectionState::RemoteClosing } else { ConnectionState::Open };
        assert_eq!(conn.state(), state, "{payload:02x?}");
    }
}

#[test]
fn random_control_frame() {
    let payload = b"give me one ping vasily";
    assert_eq!(feed(&mut client(), &plain(0x89, payload)), vec![Event::Ping(Ping::new(*payload))]);
}

// ---- TestFrameProtocolSend ---------------------------------------------------

#[test]
fn sent_control_frames() {
    let shrug = r"¯\_(ツ)_/¯";
    let mut reasoned = 1000u16.to_be_bytes().to_vec();
    reasoned.extend(shrug.as_bytes());
    let cases: Vec<(Event, Vec<u8>)> = vec![
        // test_simplest_possible_close / test_no_status_rcvd_close_reason
        (CloseConnection::new(1005).into(), b"\x88\x00".to_vec()),
        // test_unreasoning_close
        (CloseConnection::new(1000).into(), b"\x88\x02\x03\xe8".to_vec()),
        // test_reasoned_close
        (CloseConnection::with_reason(1000, shrug).into(), plain(0x88, &reasoned)),
        // test_ping_without_payload / with payload
        (Ping::default().into(), b"\x89\x00".to_vec()),
        (Ping::new(shrug.as_bytes()).into(), plain(0x89, shrug.as_bytes())),
        // test_pong_without_payload / with payload
        (Pong::default().into(), b"\x8a\x00".to_vec()),
        (Pong::new(shrug.as_bytes()).into(), plain(0x8a, shrug.as_bytes())),
    ];
    for (event, expected) in cases {
        assert_eq!(server().send(event.clone()).unwrap(), expected, "{event:?}");
    }
}

#[test]
fn reasoned_but_uncoded_close() {
    // wsproto raises TypeError for a reason without a code; "no code" is 1005 here.
    let err = server().send(CloseConnection::with_reason(1005, "termites").into()).unwrap_err();
    assert_eq!(err.message(), "cannot send a close reason without a close code");
}

#[test]
fn local_only_close_reason() {
    // Differs from wsproto: FrameProtocol.close(ABNORMAL_CLOSURE) writes
    // b"\x88\x02\x03\xe8" (rewritten to 1000); we refuse to send 1006.
    let mut conn = server();
    let err = conn.send(CloseConnection::new(1006).into()).unwrap_err();
    assert_eq!(err.message(), "close code 1006 is reserved for local use and is never sent");
    assert_eq!(conn.state(), ConnectionState::Open);
}

#[test]
fn sent_data_frames() {
    let ascii = b"it's all just ascii, right?";
    let emoji = "😃😄🙃😉";
    assert_eq!(server().send(BytesMessage::new(*ascii).into()).unwrap(), plain(0x82, ascii));
    assert_eq!(server().send(TextMessage::new(emoji).into()).unwrap(), plain(0x81, emoji.as_bytes()));
    // Multiple binary frames.
    let mut conn = server();
    let first = BytesMessage { data: ascii.to_vec(), frame_finished: true, message_finished: false };
    assert_eq!(conn.send(first.into()).unwrap(), plain(0x02, ascii));
    assert_eq!(conn.send(BytesMessage::new(*b"sure no worries").into()).unwrap(), plain(0x80, b"sure no worries"));
    // Multiple text frames.
    let mut conn = server();
    let first = TextMessage { data: emoji.into(), frame_finished: true, message_finished: false };
    assert_eq!(conn.send(first.into()).unwrap(), plain(0x01, emoji.as_bytes()));
    assert_eq!(conn.send(TextMessage::new("🙈🙉🙊").into()).unwrap(), plain(0x80, "🙈🙉🙊".as_bytes()));
}

#[test]
fn mismatched_data_messages() {
    // wsproto raises TypeError; we raise LocalProtocolError.
    let mut conn = server();
    conn.send(TextMessage { data: "😃😄🙃😉".into(), frame_finished: true, message_finished: false }.into()).unwrap();
    let err = conn.send(BytesMessage::new(*b"seriously, all ascii").into()).unwrap_err();
    assert_eq!(err.message(), "Data type mismatch inside message");
    let mut conn = server();
    conn.send(
        BytesMessage { data: b"it's all just ascii, right?".to_vec(), frame_finished: true, message_finished: false }
            .into(),
    )
    .unwrap();
    let err = conn.send(TextMessage::new("✔️☑️✅✔︎☑").into()).unwrap_err();
    assert_eq!(err.message(), "Data type mismatch inside message");
}

#[test]
fn message_length_boundaries() {
    for (len, head) in [
        (125usize, vec![0x82, 125]),
        (126, vec![0x82, 0x7e, 0x00, 0x7e]),
        (65535, vec![0x82, 0x7e, 0xff, 0xff]),
        (65536, vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let payload = vec![b'x'; len];
        let bytes = server().send(BytesMessage::new(payload.clone()).into()).unwrap();
        assert_eq!(&bytes[..head.len()], &head[..], "len {len}");
        assert_eq!(&bytes[head.len()..], &payload[..]);
    }
}

#[test]
fn client_side_masking() {
    for (len, head) in [
        (125usize, vec![0x82, 0x80 | 125]),
        (126, vec![0x82, 0xfe, 0x00, 0x7e]),
        (65536, vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let payload = vec![b'x'; len];
        let mut conn = client().with_random(Box::new(FixedRandom(b"wxyz".to_vec())));
        let bytes = conn.send(BytesMessage::new(payload.clone()).into()).unwrap();
        assert_eq!(&bytes[..head.len()], &head[..], "len {len}");
        assert_eq!(&bytes[head.len()..head.len() + 4], b"wxyz");
        let masked: Vec<u8> = payload.iter().enumerate().map(|(i, b)| b ^ b"wxyz"[i % 4]).collect();
        assert_eq!(&bytes[head.len() + 4..], &masked[..]);
    }
}

#[test]
fn control_frame_with_overly_long_payload() {
    let err = server().send(Pong::new(vec![b'x'; 126]).into()).unwrap_err();
    assert_eq!(err.message(), "control frame payload of 126 bytes exceeds 125");
}

#[test]
fn xor_mask_simple() {
    // wsproto: XorMaskerSimple(b"1234") over this text gives exactly these bytes.
    let mut conn = client().with_random(Box::new(FixedRandom(b"1234".to_vec())));
    let bytes = conn.send(BytesMessage::new(*b"some very long data for masking by websocket").into()).unwrap();
    assert_eq!(&bytes[..6], b"\x82\xac1234");
    assert_eq!(&bytes[6..], &b"B]^Q\x11DVFH\x12_[_U\x13PPFR\x14W]A\x14\\S@_X\\T\x14SK\x13CTP@[RYV@"[..]);
    // An empty payload masks to nothing.
    assert_eq!(conn.send(BytesMessage::new(Vec::new()).into()).unwrap(), b"\x82\x801234");
}
