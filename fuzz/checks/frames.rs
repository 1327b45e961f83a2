//! The frame decoder (with UTF-8 validation and the extension hooks) on
//! arbitrary bytes, fed to a `Connection` in fuzzer-chosen chunks.
//!
//! Flags (byte 0, see common.rs for the layout):
//!   bit 0     role: 0 = server (expects masked frames), 1 = client
//!   bits 1-2  limits (max_frame_size, max_message_size): see PRESETS
//!   bit 3     the toy `x-double` extension is in use (RSV1 doubles bytes)
//!   bit 4     end with receive_data(None)
//!   bit 5     reply as an application would: pong to pings, close to closes
//!   bit 6     send a close first (LOCAL_CLOSING while receiving)
//!   bit 7     the first chunk is passed as trailing data to the constructor
//!
//! Asserts: no panic; the Checker's invariants (limits, message structure,
//! silence after a close, valid close codes); every reply the state allows
//! succeeds; and the same bytes fed in one call give the same normalised
//! events and the same final state as the chunked feed.
use crate::common::{expect_closed_error, Checker, Doubler, Input, Norm};
use wsproto::events::{CloseConnection, Event};
use wsproto::extensions::Extension;
use wsproto::{Config, Connection, ConnectionState, ConnectionType, SeededRandom};

const PRESETS: [(u64, u64); 4] = [(4096, 4096), (64, 4096), (u64::MAX, 4096), (300, 1 << 20)];

/// Runs one input.
pub fn check(data: &[u8]) {
    let (chunked, whole) = outcomes(data);
    let input = Input::parse(data);
    if crate::common::debug() {
        eprintln!("{} chunks: {:?}", input.chunks().len(), chunked);
    }
    assert_eq!(chunked, whole, "chunking changed the outcome");
}

/// What the input leads to fed in its chunks, and fed in one call.
pub fn outcomes(data: &[u8]) -> ((Vec<Norm>, ConnectionState), (Vec<Norm>, ConnectionState)) {
    let input = Input::parse(data);
    (run(&input, &input.chunks()), run(&input, &[input.payload]))
}

fn run(input: &Input<'_>, chunks: &[&[u8]]) -> (Vec<Norm>, ConnectionState) {
    let flags = input.flags;
    let role = if flags & 1 == 0 { ConnectionType::Server } else { ConnectionType::Client };
    let (max_frame, max_message) = PRESETS[usize::from((flags >> 1) & 3)];
    let with_ext = flags & 0x08 != 0;
    let eof = flags & 0x10 != 0;
    let reply = flags & 0x20 != 0;
    let close_first = flags & 0x40 != 0;
    let trailing = flags & 0x80 != 0;

    let config = Config { max_frame_size: max_frame, max_message_size: max_message, ..Config::default() };
    let extensions: Vec<Box<dyn Extension>> = if with_ext { vec![Box::new(Doubler::default())] } else { vec![] };
    let (first, rest) = match (trailing, chunks.split_first()) {
        (true, Some((first, rest))) => (*first, rest),
        _ => (&b""[..], chunks),
    };
    let mut conn = Connection::with_config(role, extensions, first, config).with_random(Box::new(SeededRandom::new(7)));
    let mut checker = Checker::new(max_message, if with_ext { None } else { Some(max_frame) });
    if close_first {
        // The trailing data may already have closed the connection remotely.
        let next = match conn.state() {
            ConnectionState::Open => ConnectionState::LocalClosing,
            ConnectionState::RemoteClosing => ConnectionState::Closed,
            other => panic!("state {other:?} right after construction"),
        };
        conn.send(CloseConnection::new(1000).into()).expect("a first close");
        assert_eq!(conn.state(), next);
    }
    drain(&mut conn, &mut checker, reply);
    for chunk in rest {
        let closed = conn.state() == ConnectionState::Closed;
        expect_closed_error(conn.receive_data(Some(chunk)), closed);
        drain(&mut conn, &mut checker, reply);
    }
    if eof {
        checker.eof();
        conn.receive_data(None).expect("EOF is always accepted");
        drain(&mut conn, &mut checker, reply);
        assert_eq!(conn.state(), ConnectionState::Closed);
        // A second EOF says nothing.
        conn.receive_data(None).expect("second EOF");
        assert_eq!(conn.events().count(), 0);
    }
    (checker.finish(), conn.state())
}

fn drain(conn: &mut Connection, checker: &mut Checker, reply: bool) {
    while let Some(event) = conn.next_event() {
        checker.see(event.clone());
        if !reply {
            continue;
        }
        let state = conn.state();
        match &event {
            Event::Ping(p) if state == ConnectionState::Open => {
                conn.send(p.response().into()).expect("pong while OPEN");
            }
            Event::CloseConnection(c) if c.code != wsproto::close::ABNORMAL_CLOSURE => {
                // A received close (REMOTE_CLOSING) or a failure (OPEN):
                // answering it must work; after our own close it is moot.
                let next = match state {
                    ConnectionState::RemoteClosing => ConnectionState::Closed,
                    ConnectionState::Open => ConnectionState::LocalClosing,
                    _ => continue,
                };
                conn.send(c.response().into()).expect("reply to a close");
                assert_eq!(conn.state(), next);
            }
            _ => {}
        }
    }
}
