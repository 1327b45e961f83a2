//! Parity with wsproto's tests/test_extensions.py: the default hooks of an
//! extension that overrides nothing pass everything through unchanged.
//!
//! wsproto cases not ported:
//! - `test_enabled`: our trait has no `enabled()`; an extension is in use
//!   exactly when it is in the negotiated list (`WSConnection::extensions`).
//! - `test_accept` / `test_finalize` defaults: `accept` and `finalize` are
//!   required methods of our trait (no silent default negotiation); the
//!   concrete type below implements them the way wsproto's defaults behave
//!   (decline; accept any response).
//!
//! test_permessage_deflate.py is not ported here: permessage-deflate is a
//! separate effort with its own suite.

mod parity_common;

use parity_common::*;
use wsproto::events::{AcceptConnection, Event, TextMessage};
use wsproto::extensions::Extension;
use wsproto::{Connection, ConnectionType, Opcode, Rsv};

#[derive(Debug, Clone)]
struct Concrete;

impl Extension for Concrete {
    fn name(&self) -> &str {
        "myext"
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn accept(&mut self, _offer: &str) -> Option<String> {
        None
    }
    fn finalize(&mut self, _response: &str) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn default_offer_is_the_bare_name() {
    assert_eq!(Concrete.offer(), "");
    // On the wire: just the name.
    let request = wsproto::events::Request { handlers: vec![Box::new(Concrete)], ..localhost() };
    let (_, bytes) = client_sent(request);
    assert!(String::from_utf8(bytes).unwrap().contains("\r\nSec-WebSocket-Extensions: myext\r\n"));
}

#[test]
fn default_frame_inbound_header_claims_no_bits() {
    let all = Rsv { rsv1: true, rsv2: true, rsv3: true };
    assert_eq!(Concrete.frame_inbound_header(Opcode::Text, all, 0), Ok(Rsv::NONE));
    // So a frame with a reserved bit is still refused when it is negotiated.
    let mut conn = Connection::new(ConnectionType::Client, vec![Box::new(Concrete)], b"");
    conn.receive_data(Some(b"\xc1\x00")).unwrap();
    assert_eq!(
        conn.events().collect::<Vec<_>>(),
        vec![Event::CloseConnection(wsproto::events::CloseConnection::with_reason(
            1002,
            "Reserved bit set unexpectedly"
        ))]
    );
}

#[test]
fn default_frame_inbound_payload_data_passes_through() {
    for data in [&b""[..], b"abc", b"\xff\x00"] {
        let mut out = b"prefix:".to_vec();
        Concrete.frame_inbound_payload_data(data, &mut out, 0).unwrap();
        assert_eq!(out, [&b"prefix:"[..], data].concat());
    }
}

#[test]
fn default_frame_inbound_complete_adds_nothing() {
    for fin in [true, false] {
        let mut out = b"x".to_vec();
        Concrete.frame_inbound_complete(fin, &mut out, 0).unwrap();
        assert_eq!(out, b"x");
    }
}

#[test]
fn default_frame_outbound_is_the_identity() {
    let all = Rsv { rsv1: true, rsv2: true, rsv3: true };
    assert_eq!(Concrete.frame_outbound(Opcode::Binary, all, Vec::new(), true), (all, Vec::new()));
    assert_eq!(Concrete.frame_outbound(Opcode::Text, Rsv::NONE, b"hi".to_vec(), false), (Rsv::NONE, b"hi".to_vec()));
}

#[test]
fn a_pass_through_extension_changes_nothing_on_the_wire() {
    let mut with = Connection::new(ConnectionType::Server, vec![Box::new(Concrete)], b"");
    let mut without = Connection::new(ConnectionType::Server, vec![], b"");
    let message = TextMessage::new("same bytes");
    assert_eq!(with.send(message.clone().into()).unwrap(), without.send(message.into()).unwrap());
    let frame = masked(0x81, b"hello");
    with.receive_data(Some(&frame)).unwrap();
    assert_eq!(with.events().collect::<Vec<_>>(), vec![Event::TextMessage(TextMessage::new("hello"))]);
}

#[test]
fn a_declining_extension_is_not_negotiated() {
    let mut s = server();
    feed(&mut s, &good_request(&["Sec-WebSocket-Extensions: myext"]));
    let bytes = s.send(AcceptConnection { handlers: vec![Box::new(Concrete)], ..Default::default() }.into()).unwrap();
    assert!(!String::from_utf8(bytes).unwrap().contains("Extensions"));
    assert!(s.extensions().is_empty());
}

#[test]
fn extensions_compare_by_name_and_offer() {
    let a: Box<dyn Extension> = Box::new(Concrete);
    let b: Box<dyn Extension> = a.clone();
    let fake: Box<dyn Extension> = Box::new(FakeExtension::offering("x=1"));
    let other: Box<dyn Extension> = Box::new(FakeExtension::offering("x=2"));
    // Compared as lists, as events hold them.
    assert!(vec![a.clone()] == vec![b]);
    assert!(vec![a] != vec![fake.clone()]);
    assert!(vec![fake] != vec![other]);
}
