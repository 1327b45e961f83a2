//! Property tests: whatever one side sends, in whatever chunking the bytes
//! arrive, the other side sees the same messages and control frames.

mod common;

use common::{feed_chunked, Pair};
use proptest::prelude::*;
use wsproto::events::{BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage};
use wsproto::ConnectionState;

/// What the application sends.
#[derive(Clone, Debug)]
enum Item {
    /// A message in one or more fragments, with pings between fragments.
    Message {
        text: bool,
        pieces: Vec<Vec<u8>>,
        pings_between: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// What the receiver should observe, normalised: whole messages and control frames.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Text(String, usize),
    Bytes(Vec<u8>, usize),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn piece(text: bool) -> BoxedStrategy<Vec<u8>> {
    if text {
        ".{0,40}".prop_map(String::into_bytes).boxed()
    } else {
        prop::collection::vec(any::<u8>(), 0..300).boxed()
    }
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => any::<bool>().prop_flat_map(|text| {
            (prop::collection::vec(piece(text), 1..4), any::<bool>())
                .prop_map(move |(pieces, pings_between)| Item::Message { text, pieces, pings_between })
        }),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Pong),
    ]
}

/// Sends the items, returning the bytes and the normalised expectation.
fn send_all(sender: &mut wsproto::WSConnection, items: &[Item]) -> (Vec<u8>, Vec<Seen>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for item in items {
        match item {
            Item::Message { text, pieces, pings_between } => {
                let mut between = Vec::new();
                for (i, piece) in pieces.iter().enumerate() {
                    let last = i + 1 == pieces.len();
                    let event: Event = if *text {
                        let data = String::from_utf8(piece.clone()).expect("generated as text");
                        TextMessage { data, frame_finished: true, message_finished: last }.into()
                    } else {
                        BytesMessage { data: piece.clone(), frame_finished: true, message_finished: last }.into()
                    };
                    sender.send_into(event, &mut wire).expect("send piece");
                    if *pings_between && !last {
                        sender.send_into(Ping::new(vec![i as u8]).into(), &mut wire).expect("ping");
                        between.push(Seen::Ping(vec![i as u8]));
                    }
                }
                expected.extend(between);
                let all: Vec<u8> = pieces.concat();
                expected.push(if *text {
                    Seen::Text(String::from_utf8(all).expect("text"), pieces.len())
                } else {
                    Seen::Bytes(all, pieces.len())
                });
            }
            Item::Ping(p) => {
                sender.send_into(Ping::new(p.clone()).into(), &mut wire).expect("ping");
                expected.push(Seen::Ping(p.clone()));
            }
            Item::Pong(p) => {
                sender.send_into(Pong::new(p.clone()).into(), &mut wire).expect("pong");
                expected.push(Seen::Pong(p.clone()));
            }
        }
    }
    (wire, expected)
}

/// Joins received pieces into whole messages, counting frames.
fn normalise(events: Vec<Event>) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut text = String::new();
    let mut data = Vec::new();
    let mut frames = 0;
    for event in events {
        match event {
            Event::TextMessage(m) => {
                text.push_str(&m.data);
                frames += usize::from(m.frame_finished);
                if m.message_finished {
                    seen.push(Seen::Text(std::mem::take(&mut text), std::mem::take(&mut frames)));
                }
            }
            Event::BytesMessage(m) => {
                data.extend_from_slice(&m.data);
                frames += usize::from(m.frame_finished);
                if m.message_finished {
                    seen.push(Seen::Bytes(std::mem::take(&mut data), std::mem::take(&mut frames)));
                }
            }
            Event::Ping(p) => seen.push(Seen::Ping(p.payload)),
            Event::Pong(p) => seen.push(Seen::Pong(p.payload)),
            other => panic!("unexpected event {other:?}"),
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn client_to_server(items in prop::collection::vec(item(), 0..12),
                        sizes in prop::collection::vec(1usize..64, 1..8)) {
        let mut pair = Pair::open();
        let (wire, expected) = send_all(&mut pair.client, &items);
        let events = feed_chunked(&mut pair.server, &wire, &sizes);
        prop_assert_eq!(normalise(events), expected);
    }

    #[test]
    fn server_to_client(items in prop::collection::vec(item(), 0..12),
                        sizes in prop::collection::vec(1usize..64, 1..8)) {
        let mut pair = Pair::open();
        let (wire, expected) = send_all(&mut pair.server, &items);
        let events = feed_chunked(&mut pair.client, &wire, &sizes);
        prop_assert_eq!(normalise(events), expected);
    }

    #[test]
    fn close_with_any_valid_code(code in prop_oneof![1000u16..=1003, 1007u16..=1013, 3000u16..=4999],
                                 reason in ".{0,60}") {
        let mut pair = Pair::open();
        let bytes = pair.client.send(CloseConnection::with_reason(code, reason.clone()).into()).unwrap();
        prop_assert_eq!(pair.client.state(), ConnectionState::LocalClosing);
        pair.server.receive_data(Some(&bytes)).unwrap();
        let received: Vec<Event> = pair.server.events().collect();
        let expected_reason = wsproto::close::truncate_utf8(&reason, 123).to_owned();
        prop_assert_eq!(&received, &vec![Event::CloseConnection(CloseConnection::with_reason(code, expected_reason))]);
        prop_assert_eq!(pair.server.state(), ConnectionState::RemoteClosing);
        let Event::CloseConnection(close) = &received[0] else { unreachable!() };
        let reply = pair.server.send(close.response().into()).unwrap();
        prop_assert_eq!(pair.server.state(), ConnectionState::Closed);
        pair.client.receive_data(Some(&reply)).unwrap();
        prop_assert_eq!(pair.client.events().count(), 1);
        prop_assert_eq!(pair.client.state(), ConnectionState::Closed);
    }
}

#[test]
fn length_boundaries_both_ways_in_every_feed_size() {
    for len in [0usize, 125, 126, 65535, 65536, 1 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for sizes in [vec![usize::MAX], vec![1460], vec![65536], vec![7, 1, 3000]] {
            let mut pair = Pair::open();
            let wire = pair.client.send(BytesMessage::new(payload.clone()).into()).unwrap();
            let events = feed_chunked(&mut pair.server, &wire, &sizes);
            assert_eq!(normalise(events), vec![Seen::Bytes(payload.clone(), 1)], "len {len} sizes {sizes:?}");
            let wire = pair.server.send(TextMessage::new("é".repeat(len / 2)).into()).unwrap();
            let events = feed_chunked(&mut pair.client, &wire, &sizes);
            assert_eq!(normalise(events), vec![Seen::Text("é".repeat(len / 2), 1)], "len {len} sizes {sizes:?}");
        }
    }
}
