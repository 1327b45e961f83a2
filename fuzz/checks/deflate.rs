//! permessage-deflate (RFC 7692): negotiation headers, then bounded
//! inflation of fuzzer-made frames, or a round trip through both sides.
//!
//! Input layout as in common.rs. Flags (byte 0):
//!   bit 0     mode: 0 = negotiate and receive, 1 = round trip
//!   bit 1     role of the receiving end: 0 = server, 1 = client
//!   bits 2-3  max_message_size: 64, 4096, 1 MiB, 16 MiB
//!   bit 4     end with receive_data(None)
//!   bits 5-7  our settings: server_no_context_takeover,
//!             client_no_context_takeover, keep_compressor
//! High nibble of byte 1: our window bits (0 = none set, else 7 + n,
//! clamped to 8..=15 by the extension).
//!
//! Negotiate and receive: the payload's first line is a header element: a
//! server `accept`s it as an offer, a client `finalize`s it as a response.
//! What a server accepts, a default client must accept, and both must agree
//! on the parameters. If negotiated, the rest is fed as frames (in chunks,
//! then in one call): the `Checker`'s invariants hold (no message or piece
//! over `max_message_size`, however far the data would inflate), and the
//! outcome does not depend on the chunking.
//!
//! Round trip: the two ends negotiate with our settings on both sides; the
//! payload, cut by the chunk sizes, becomes up to 100 messages (text where
//! valid UTF-8), some sent in two fragments; the other end receives exactly
//! them.

use crate::common::{Checker, Input, Norm};
use wsproto::events::{BytesMessage, Event, TextMessage};
use wsproto::extensions::{Extension, PerMessageDeflate};
use wsproto::{Config, Connection, ConnectionState, ConnectionType, SeededRandom};

const LIMITS: [u64; 4] = [64, 4096, 1 << 20, 16 << 20];

/// Runs one input.
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    if input.flags & 1 == 0 {
        negotiate_and_receive(&input);
    } else {
        round_trip(&input);
    }
}

/// Our settings, from the flags.
fn ours(input: &Input<'_>) -> PerMessageDeflate {
    let mut ext = PerMessageDeflate::new();
    ext.server_no_context_takeover = input.flags & 0x20 != 0;
    ext.client_no_context_takeover = input.flags & 0x40 != 0;
    ext.keep_compressor = input.flags & 0x80 != 0;
    let bits = (input.more != 0).then(|| 7 + input.more);
    ext.client_max_window_bits = bits;
    ext.server_max_window_bits = bits;
    ext
}

/// The response element a server's parameters make.
fn element(params: &str) -> String {
    if params.is_empty() {
        "permessage-deflate".to_owned()
    } else {
        format!("permessage-deflate; {params}")
    }
}

fn limit(input: &Input<'_>) -> u64 {
    LIMITS[usize::from((input.flags >> 2) & 3)]
}

fn negotiate_and_receive(input: &Input<'_>) {
    let client = input.flags & 2 != 0;
    let split = input.payload.iter().position(|&b| b == b'\n').unwrap_or(input.payload.len());
    let (line, frames) = input.payload.split_at(split);
    let frames = frames.get(1..).unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else { return };
    let mut ext = ours(input);
    if client {
        if ext.finalize(line).is_err() {
            assert!(ext.negotiated().is_none(), "a refused response negotiates nothing");
            return;
        }
    } else {
        let Some(params) = ext.accept(line) else {
            assert!(ext.negotiated().is_none(), "a declined offer negotiates nothing");
            return;
        };
        // A default client accepts whatever our server answers, and both
        // ends agree on what was negotiated.
        let mut peer = PerMessageDeflate::new();
        peer.finalize(&element(&params)).unwrap_or_else(|e| panic!("our client refuses our server's {params:?}: {e}"));
        let (ours, theirs) = (ext.negotiated().expect("accepted"), peer.negotiated().expect("finalized"));
        assert_eq!(
            theirs,
            wsproto::extensions::deflate::Negotiated { is_client: true, ..ours },
            "{line:?} -> {params:?}"
        );
    }
    if crate::common::debug() {
        eprintln!("negotiated {:?}", ext.negotiated());
    }
    let chunked = Input { payload: frames, sizes: input.sizes.clone(), ..*input }.chunks();
    let outcome = receive(client, &ext, limit(input), &chunked, input.flags & 0x10 != 0);
    let whole = receive(client, &ext, limit(input), &[frames], input.flags & 0x10 != 0);
    if crate::common::debug() {
        eprintln!("{} chunks: {:?}", chunked.len(), outcome);
    }
    assert_eq!(outcome, whole, "chunking changed the outcome");
}

fn receive(
    client: bool,
    ext: &PerMessageDeflate,
    max_message: u64,
    chunks: &[&[u8]],
    eof: bool,
) -> (Vec<Norm>, ConnectionState) {
    let role = if client { ConnectionType::Client } else { ConnectionType::Server };
    let config = Config { max_message_size: max_message, ..Config::default() };
    let mut conn = Connection::with_config(role, vec![ext.clone_box()], b"", config);
    // Inflated data may pass the wire frame size: no per-frame bound.
    let mut checker = Checker::new(max_message, None);
    for chunk in chunks {
        let closed = conn.state() == ConnectionState::Closed;
        crate::common::expect_closed_error(conn.receive_data(Some(chunk)), closed);
        conn.events().for_each(|event| checker.see(event));
    }
    if eof {
        checker.eof();
        conn.receive_data(None).expect("EOF is always accepted");
        conn.events().for_each(|event| checker.see(event));
    }
    (checker.finish(), conn.state())
}

fn round_trip(input: &Input<'_>) {
    let client_sends = input.flags & 2 != 0;
    let mut offer = ours(input);
    let mut server_ext = ours(input);
    let params =
        server_ext.accept(&format!("permessage-deflate; {}", offer.offer())).expect("our own offer is accepted");
    offer.finalize(&element(&params)).unwrap_or_else(|e| panic!("our client refuses our server's {params:?}: {e}"));
    let (client_ext, server_ext): (Box<dyn Extension>, Box<dyn Extension>) = (Box::new(offer), Box::new(server_ext));
    let max_message = limit(input).max(1 << 20);
    let config = Config { max_message_size: max_message, ..Config::default() };
    let client = Connection::with_config(ConnectionType::Client, vec![client_ext], b"", config.clone())
        .with_random(Box::new(SeededRandom::new(1)));
    let server = Connection::with_config(ConnectionType::Server, vec![server_ext], b"", config);
    let (mut sender, mut receiver) = if client_sends { (client, server) } else { (server, client) };

    let mut sent = Vec::new();
    // At most 100 messages: each takes a fresh compressor (~270 KiB) unless
    // kept, which makes a long input of tiny messages slow, not wrong.
    for (i, message) in input.chunks().into_iter().take(100).enumerate() {
        let text = std::str::from_utf8(message).ok().filter(|_| i % 3 != 2);
        // Every fourth message goes in two fragments.
        let cut = if i % 4 == 3 { message.len() / 2 } else { message.len() };
        let cut = text.map_or(cut, |t| (0..=cut).rev().find(|&c| t.is_char_boundary(c)).unwrap_or(0));
        let mut wire = Vec::new();
        for (part, last) in [(&message[..cut], cut == message.len()), (&message[cut..], true)] {
            let event: Event = match text {
                Some(_) => TextMessage {
                    data: String::from_utf8(part.to_vec()).expect("cut on a boundary"),
                    frame_finished: true,
                    message_finished: last,
                }
                .into(),
                None => BytesMessage { data: part.to_vec(), frame_finished: true, message_finished: last }.into(),
            };
            wire.extend(sender.send(event).expect("sending a message"));
            if last {
                break;
            }
        }
        receiver.receive_data(Some(&wire)).expect("receiving a message");
        let mut got = Vec::new();
        for event in receiver.events() {
            match event {
                Event::TextMessage(t) if text.is_some() => got.extend(t.data.into_bytes()),
                Event::BytesMessage(b) if text.is_none() => got.extend(b.data),
                other => panic!("message {i}: unexpected {other:?}"),
            }
        }
        assert_eq!(got, message, "message {i} came back changed");
        sent.push(message.len());
    }
    if crate::common::debug() {
        eprintln!("round trip of {} messages: {:?}", sent.len(), sent);
    }
}
