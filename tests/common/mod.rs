//! A pair harness: a client and a server joined in memory.
#![allow(dead_code)]

pub mod cpu;
pub mod frames;

use wsproto::events::{AcceptConnection, Event, Request};
use wsproto::{ConnectionState, ConnectionType, SeededRandom, WSConnection};

/// A client and a server that completed the opening handshake.
pub struct Pair {
    pub client: WSConnection,
    pub server: WSConnection,
}

impl Pair {
    /// Handshakes with seeded randomness, so bytes are reproducible.
    pub fn open() -> Pair {
        let mut client = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(1)));
        let mut server = WSConnection::new(ConnectionType::Server);
        let request = Request { host: "localhost".into(), target: "/".into(), ..Default::default() };
        let bytes = client.send(request.into()).expect("send request");
        server.receive_data(Some(&bytes)).expect("server reads request");
        assert!(matches!(server.next_event(), Some(Event::Request(_))));
        let bytes = server.send(AcceptConnection::default().into()).expect("accept");
        client.receive_data(Some(&bytes)).expect("client reads 101");
        assert!(matches!(client.next_event(), Some(Event::AcceptConnection(_))));
        assert_eq!(client.state(), ConnectionState::Open);
        assert_eq!(server.state(), ConnectionState::Open);
        Pair { client, server }
    }
}

/// Feeds `bytes` to `conn` in pieces of the given sizes (cycled), collecting events.
pub fn feed_chunked(conn: &mut WSConnection, bytes: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(rest.len()).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(size);
        conn.receive_data(Some(piece)).expect("receive_data");
        events.extend(conn.events());
        rest = tail;
        i += 1;
    }
    events
}
