//! The events that flow in and out of a connection, as in Python's wsproto.
//!
//! Received events come from [`crate::WSConnection::events`]; the same types
//! are passed to [`crate::WSConnection::send`].

use crate::close;
use crate::extensions::Extension;

/// HTTP headers as `(name, value)` byte pairs, in order. Received header
/// names are lower-cased.
pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// Any event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A client's opening handshake.
    Request(Request),
    /// A server's 101 Switching Protocols.
    AcceptConnection(AcceptConnection),
    /// A server's refusal (any response but 101).
    RejectConnection(RejectConnection),
    /// A piece of the refusal's body.
    RejectData(RejectData),
    /// A close frame (or, with code 1006, the transport closing).
    CloseConnection(CloseConnection),
    /// A piece of a text message.
    TextMessage(TextMessage),
    /// A piece of a binary message.
    BytesMessage(BytesMessage),
    /// A ping frame.
    Ping(Ping),
    /// A pong frame.
    Pong(Pong),
}

/// The opening handshake request.
///
/// Sent by a client; received by a server. When received, `extensions` holds
/// each offered extension as written by the client (`"name; param=value"`)
/// and `handlers` is empty. When sent, `handlers` are the extensions to offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The Host header value.
    pub host: String,
    /// The request target (path and query).
    pub target: String,
    /// Subprotocols offered, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extension offers as header elements (received), or extra raw offers to send.
    pub extensions: Vec<String>,
    /// Extensions to offer and negotiate (sending only).
    pub handlers: Vec<Box<dyn Extension>>,
    /// Other headers.
    pub extra_headers: Headers,
}

/// The acceptance of the opening handshake (101 Switching Protocols).
///
/// Sent by a server with the extension `handlers` it supports: each one is
/// offered the client's offers and accepts at most one. Received by a
/// client with `extensions` set to the accepted header elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptConnection {
    /// The chosen subprotocol, one of those the client offered.
    pub subprotocol: Option<String>,
    /// Accepted extensions as header elements (received).
    pub extensions: Vec<String>,
    /// Extensions the server supports (sending only).
    pub handlers: Vec<Box<dyn Extension>>,
    /// Other headers.
    pub extra_headers: Headers,
}

/// The refusal of the opening handshake: any HTTP response but 101.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectConnection {
    /// The HTTP status code (default 400).
    pub status_code: u16,
    /// The response headers.
    pub headers: Headers,
    /// Whether `RejectData` events follow.
    pub has_body: bool,
}

impl Default for RejectConnection {
    fn default() -> Self {
        RejectConnection { status_code: 400, headers: Vec::new(), has_body: false }
    }
}

/// A piece of a refusal's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectData {
    /// The bytes.
    pub data: Vec<u8>,
    /// Whether this is the last piece.
    pub body_finished: bool,
}

impl RejectData {
    /// A final piece of body.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        RejectData { data: data.into(), body_finished: true }
    }
}

/// A close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseConnection {
    /// The close code; 1005 means the frame carried none.
    pub code: u16,
    /// The reason (at most 123 bytes are sent).
    pub reason: String,
}

impl CloseConnection {
    /// A close with a code and no reason.
    pub fn new(code: u16) -> Self {
        CloseConnection { code, reason: String::new() }
    }
    /// A close with a code and a reason.
    pub fn with_reason(code: u16, reason: impl Into<String>) -> Self {
        CloseConnection { code, reason: reason.into() }
    }
    /// The close to send back: the same code and reason.
    pub fn response(&self) -> CloseConnection {
        self.clone()
    }
}

impl Default for CloseConnection {
    fn default() -> Self {
        CloseConnection::new(close::NORMAL_CLOSURE)
    }
}

/// A piece of a text message. Received pieces always end on a code point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMessage {
    /// The text.
    pub data: String,
    /// Whether the frame this piece came from is complete (received only).
    pub frame_finished: bool,
    /// Whether this is the last piece of the message.
    pub message_finished: bool,
}

impl TextMessage {
    /// A whole text message.
    pub fn new(data: impl Into<String>) -> Self {
        TextMessage { data: data.into(), frame_finished: true, message_finished: true }
    }
}

/// A piece of a binary message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BytesMessage {
    /// The bytes.
    pub data: Vec<u8>,
    /// Whether the frame this piece came from is complete (received only).
    pub frame_finished: bool,
    /// Whether this is the last piece of the message.
    pub message_finished: bool,
}

impl BytesMessage {
    /// A whole binary message.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        BytesMessage { data: data.into(), frame_finished: true, message_finished: true }
    }
}

/// A ping. Reply with [`Ping::response`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ping {
    /// Up to 125 bytes.
    pub payload: Vec<u8>,
}

impl Ping {
    /// A ping with a payload.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        Ping { payload: payload.into() }
    }
    /// The pong that answers this ping.
    pub fn response(&self) -> Pong {
        Pong { payload: self.payload.clone() }
    }
}

/// A pong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pong {
    /// Up to 125 bytes.
    pub payload: Vec<u8>,
}

impl Pong {
    /// A pong with a payload.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        Pong { payload: payload.into() }
    }
}

macro_rules! into_event {
    ($($name:ident),*) => {$(
        impl From<$name> for Event {
            fn from(e: $name) -> Event { Event::$name(e) }
        }
    )*};
}
into_event!(
    Request,
    AcceptConnection,
    RejectConnection,
    RejectData,
    CloseConnection,
    TextMessage,
    BytesMessage,
    Ping,
    Pong
);

impl Event {
    /// The event's type name, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Request(_) => "Request",
            Event::AcceptConnection(_) => "AcceptConnection",
            Event::RejectConnection(_) => "RejectConnection",
            Event::RejectData(_) => "RejectData",
            Event::CloseConnection(_) => "CloseConnection",
            Event::TextMessage(_) => "TextMessage",
            Event::BytesMessage(_) => "BytesMessage",
            Event::Ping(_) => "Ping",
            Event::Pong(_) => "Pong",
        }
    }
}
