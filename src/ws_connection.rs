//! `WSConnection`: the opening handshake, then a [`Connection`].

use crate::close::ABNORMAL_CLOSURE;
use crate::config::Config;
use crate::connection::{refused, Connection};
use crate::error::{quoted, Error, LocalProtocolError, RemoteProtocolError};
use crate::events::{AcceptConnection, CloseConnection, Event, RejectConnection, RejectData, Request};
use crate::extensions::Extension;
use crate::handshake::http::{encode_body, BodyEncoding, BodyReader, HeadReader};
use crate::handshake::{client, headers, negotiate, server};
use crate::random::{OsRandom, RandomSource};
use crate::state::{next_state, Action, ConnectionState, ConnectionType};
use base64::Engine as _;
use std::collections::VecDeque;

/// One end of a WebSocket connection, from the opening handshake on.
///
/// Methods: [`receive_data`](Self::receive_data) takes what the transport
/// read, [`events`](Self::events) yields what it meant, and
/// [`send`](Self::send) turns an event into the bytes to write.
///
/// ```
/// use wsproto::{ConnectionType, ConnectionState, WSConnection, Error};
/// use wsproto::events::{Event, RejectConnection};
///
/// let mut server = WSConnection::new(ConnectionType::Server);
/// // A request with the wrong version is refused with a 426 hint.
/// let err = server.receive_data(Some(
///     b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
/// )).unwrap_err();
/// let Error::Remote(err) = err else { panic!("expected a remote error") };
/// let Some(Event::RejectConnection(hint)) = err.event_hint() else { panic!("expected a hint") };
/// assert_eq!(hint.status_code, 426);
/// let bytes = server.send(hint.clone().into())?;
/// assert!(bytes.starts_with(b"HTTP/1.1 426 "));
/// assert_eq!(server.state(), ConnectionState::Closed);
/// # Ok::<(), wsproto::LocalProtocolError>(())
/// ```
#[derive(Debug)]
pub struct WSConnection {
    phase: Phase,
}

// The open connection is inline (it is what stays); the handshake is boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Phase {
    /// The opening handshake, boxed: its state (the request alone can be a
    /// kilobyte) goes once the connection is open and the handshake's last
    /// event has been handed out, leaving an open `WSConnection` the size
    /// of a `Connection`.
    Handshake(Box<Handshake>),
    Open(Connection),
}

#[derive(Debug)]
struct Handshake {
    role: ConnectionType,
    config: Config,
    /// The state until the connection is established; then the connection's.
    state: ConnectionState,
    random: Box<dyn RandomSource>,
    events: VecDeque<Event>,
    head: HeadReader,
    /// A failed handshake keeps failing with the same error.
    failed: Option<RemoteProtocolError>,
    /// Client: the request sent, its key and the extensions it offered.
    sent: Option<(Request, String)>,
    /// Server: the request received and its key.
    received: Option<(Request, Vec<u8>)>,
    /// Server: bytes that followed the request, parsed as frames on accept.
    pending: Vec<u8>,
    /// Client: the body of a refusal being read.
    body: Option<BodyReader>,
    /// Server: how the refusal body is written.
    body_encoding: BodyEncoding,
    /// Established while handshake events are still queued (a client's
    /// AcceptConnection); the phase moves to `Open` once they are taken.
    connection: Option<Connection>,
}

impl WSConnection {
    /// A connection with default limits.
    pub fn new(role: ConnectionType) -> Self {
        Self::with_config(role, Config::default())
    }

    /// A connection with the given limits.
    pub fn with_config(role: ConnectionType, config: Config) -> Self {
        WSConnection {
            phase: Phase::Handshake(Box::new(Handshake {
                role,
                config,
                state: ConnectionState::Connecting,
                random: Box::<OsRandom>::default(),
                events: VecDeque::new(),
                head: HeadReader::new(),
                failed: None,
                sent: None,
                received: None,
                pending: Vec::new(),
                body: None,
                body_encoding: BodyEncoding::Raw,
                connection: None,
            })),
        }
    }

    /// Replaces the source of keys and masks (a [`crate::SeededRandom`] in
    /// tests gives exact bytes).
    pub fn with_random(mut self, random: Box<dyn RandomSource>) -> Self {
        match &mut self.phase {
            Phase::Open(conn) => conn.set_random(random),
            Phase::Handshake(hs) => match &mut hs.connection {
                Some(conn) => conn.set_random(random),
                None => hs.random = random,
            },
        }
        self
    }

    /// Whether this end is the client or the server.
    pub fn connection_type(&self) -> ConnectionType {
        match &self.phase {
            Phase::Open(conn) => conn.connection_type(),
            Phase::Handshake(hs) => hs.role,
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        match &self.phase {
            Phase::Open(conn) => conn.state(),
            Phase::Handshake(hs) => hs.connection.as_ref().map_or(hs.state, Connection::state),
        }
    }

    /// The negotiated extensions (empty before the handshake completes).
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        self.connection().map_or(&[], Connection::extensions)
    }

    fn connection(&self) -> Option<&Connection> {
        match &self.phase {
            Phase::Open(conn) => Some(conn),
            Phase::Handshake(hs) => hs.connection.as_ref(),
        }
    }

    /// The frame-level connection once the handshake is done (the wasm
    /// binding feeds it directly, after taking every queued event).
    pub(crate) fn connection_mut(&mut self) -> Option<&mut Connection> {
        match &mut self.phase {
            Phase::Open(conn) => Some(conn),
            Phase::Handshake(hs) => hs.connection.as_mut(),
        }
    }

    /// Server side: starts from a request some other code already parsed
    /// (for example a web framework's upgrade hook).
    pub fn initiate_upgrade_connection(&mut self, headers: &[(Vec<u8>, Vec<u8>)], path: &str) -> Result<(), Error> {
        if self.connection_type() == ConnectionType::Client {
            return Err(
                LocalProtocolError::new("Cannot initiate an upgrade connection when acting as the client").into()
            );
        }
        let fresh = match &self.phase {
            Phase::Handshake(hs) => {
                hs.received.is_none() && hs.connection.is_none() && hs.state == ConnectionState::Connecting
            }
            Phase::Open(_) => false,
        };
        if !fresh {
            return Err(LocalProtocolError::new("The upgrade request has already been received").into());
        }
        let mut head = format!("GET {path} HTTP/1.1\r\n").into_bytes();
        if path.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(LocalProtocolError::new(format!("invalid request target {}", quoted(path))).into());
        }
        for (name, value) in headers {
            headers::write_header(&mut head, name, value)?;
        }
        head.extend_from_slice(b"\r\n");
        self.receive_data(Some(&head))
    }

    /// Returns the bytes for `event`, or a `LocalProtocolError` if the
    /// event is not allowed now (the state is then unchanged).
    pub fn send(&mut self, event: Event) -> Result<Vec<u8>, LocalProtocolError> {
        let mut out = Vec::new();
        self.send_into(event, &mut out)?;
        Ok(out)
    }

    /// Like [`WSConnection::send`], appending to `out`.
    pub fn send_into(&mut self, event: Event, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        let result = match &mut self.phase {
            Phase::Open(conn) => return conn.send_into(event, out),
            Phase::Handshake(hs) => hs.send_into(event, out),
        };
        self.settle();
        result
    }

    /// Feeds bytes read from the transport, or `None` when it has ended.
    ///
    /// Handshake failures are returned as a [`RemoteProtocolError`] whose
    /// hint is the response to send; frame-level failures arrive as a
    /// `CloseConnection` event carrying the close code.
    pub fn receive_data(&mut self, data: Option<&[u8]>) -> Result<(), Error> {
        let result = match &mut self.phase {
            Phase::Open(conn) => return conn.receive_data(data),
            Phase::Handshake(hs) => hs.receive_data(data),
        };
        self.settle();
        result
    }

    /// Drains the events produced so far, oldest first.
    pub fn events(&mut self) -> WsEvents<'_> {
        WsEvents { conn: self }
    }

    /// The oldest pending event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        let (event, received_close) = self.take_event()?;
        if received_close {
            self.apply_received_close();
        }
        Some(event)
    }

    /// [`Connection::take_event`] through the handshake's own queue.
    pub(crate) fn take_event(&mut self) -> Option<(Event, bool)> {
        let hs = match &mut self.phase {
            Phase::Open(conn) => return conn.take_event(),
            Phase::Handshake(hs) => hs,
        };
        match hs.events.pop_front() {
            Some(event) => {
                self.settle();
                Some((event, false))
            }
            None => hs.connection.as_mut().and_then(Connection::take_event),
        }
    }

    /// [`Connection::apply_received_close`], once the connection exists.
    pub(crate) fn apply_received_close(&mut self) {
        if let Some(conn) = self.connection_mut() {
            conn.apply_received_close();
        }
    }

    /// Once the connection is established and the handshake's events are
    /// all taken, the handshake's state is never read again: it goes.
    fn settle(&mut self) {
        let conn = match &mut self.phase {
            Phase::Handshake(hs) if hs.events.is_empty() => hs.connection.take(),
            _ => None,
        };
        if let Some(conn) = conn {
            self.phase = Phase::Open(conn);
        }
    }
}

impl Handshake {
    fn send_into(&mut self, event: Event, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        if let Some(conn) = &mut self.connection {
            return conn.send_into(event, out);
        }
        let action = match &event {
            Event::Request(_) if self.sent.is_none() => Action::SendRequest,
            Event::AcceptConnection(_) if self.received.is_some() && self.failed.is_none() => Action::SendAccept,
            Event::RejectConnection(r) if self.role == ConnectionType::Server => Action::Reject { body: r.has_body },
            Event::RejectData(d) if self.role == ConnectionType::Server => Action::RejectData { last: d.body_finished },
            _ => return Err(refused(&event, self.state)),
        };
        let next = next_state(self.role, self.state, action).ok_or_else(|| refused(&event, self.state))?;
        match event {
            Event::Request(request) => self.send_request(request, out)?,
            Event::AcceptConnection(accept) => return self.send_accept(accept, out),
            Event::RejectConnection(reject) => {
                let (bytes, encoding) = server::build_reject(&reject)?;
                out.extend_from_slice(&bytes);
                self.body_encoding = encoding;
            }
            Event::RejectData(data) => {
                out.extend(encode_body(&mut self.body_encoding, &data.data, data.body_finished)?)
            }
            _ => return Err(refused(&event, self.state)),
        }
        self.state = next;
        Ok(())
    }

    fn send_request(&mut self, request: Request, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        let mut nonce = [0u8; 16];
        self.random.fill(&mut nonce)?;
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let mut offers: Vec<String> = request.handlers.iter().map(|h| offer_element(h.as_ref())).collect();
        offers.extend(request.extensions.iter().cloned());
        out.extend(client::build_request(&request, &key, &offers)?);
        self.sent = Some((request, key));
        Ok(())
    }

    fn send_accept(&mut self, accept: AcceptConnection, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        let Some((request, key)) = &self.received else {
            return Err(refused(&Event::AcceptConnection(accept), self.state));
        };
        if let Some(protocol) = &accept.subprotocol {
            if !request.subprotocols.contains(protocol) {
                return Err(LocalProtocolError::new(format!("unexpected subprotocol {protocol}")));
            }
        }
        let (header, extensions) = negotiate::server_negotiate(&request.extensions, &accept.handlers);
        out.extend(server::build_accept(key, accept.subprotocol.as_deref(), header.as_deref(), &accept.extra_headers)?);
        let pending = std::mem::take(&mut self.pending);
        let random = self.take_random();
        self.connection = Some(Connection::establish(self.role, extensions, &pending, &self.config, random));
        Ok(())
    }

    /// Hands the random source to the established connection.
    fn take_random(&mut self) -> Box<dyn RandomSource> {
        std::mem::replace(&mut self.random, Box::new(OsRandom::default()))
    }

    fn receive_data(&mut self, data: Option<&[u8]>) -> Result<(), Error> {
        if let Some(conn) = &mut self.connection {
            return conn.receive_data(data);
        }
        let Some(bytes) = data else {
            self.receive_eof();
            return Ok(());
        };
        if let Some(err) = &self.failed {
            return Err(err.clone().into());
        }
        match self.state {
            ConnectionState::Closed => Err(LocalProtocolError::new("Connection already closed.").into()),
            ConnectionState::Rejecting if self.role == ConnectionType::Client => self.read_body(bytes),
            ConnectionState::Connecting => {
                let result = if self.received.is_some() { self.hold(bytes) } else { self.read_head(bytes) };
                result.map_err(|err| {
                    self.failed = Some(err.clone());
                    err.into()
                })
            }
            // The server is sending its refusal: anything the client sends is moot.
            _ => Ok(()),
        }
    }

    fn receive_eof(&mut self) {
        if self.state == ConnectionState::Rejecting && self.body.as_mut().is_some_and(BodyReader::eof) {
            self.events.push_back(Event::RejectData(RejectData { data: Vec::new(), body_finished: true }));
        } else if self.state != ConnectionState::Closed {
            self.events.push_back(Event::CloseConnection(CloseConnection::new(ABNORMAL_CLOSURE)));
        }
        self.state = next_state(self.role, self.state, Action::Eof).unwrap_or(ConnectionState::Closed);
    }

    /// Server: keeps bytes that follow the request until it is accepted.
    /// A client must wait for the 101 before sending frames (RFC 6455
    /// 4.1), so a little is kept and more is refused.
    fn hold(&mut self, bytes: &[u8]) -> Result<(), RemoteProtocolError> {
        if self.pending.len() + bytes.len() > self.config.max_handshake_size {
            return Err(too_much_early_data());
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn read_head(&mut self, bytes: &[u8]) -> Result<(), RemoteProtocolError> {
        let Some(used) = self.head.push(bytes, self.config.max_handshake_size)? else {
            return Ok(());
        };
        let rest = bytes.get(used..).unwrap_or_default();
        let head = self.head.take();
        match self.role {
            ConnectionType::Server => {
                let parsed = server::parse_request(&head, self.config.max_headers)?;
                if rest.len() > self.config.max_handshake_size {
                    return Err(too_much_early_data());
                }
                self.state = next_state(self.role, self.state, Action::RecvRequest).unwrap_or(self.state);
                self.events.push_back(Event::Request(parsed.request.clone()));
                self.received = Some((parsed.request, parsed.key));
                self.pending = rest.to_vec();
                Ok(())
            }
            ConnectionType::Client => self.read_response(&head, rest),
        }
    }

    fn read_response(&mut self, head: &[u8], rest: &[u8]) -> Result<(), RemoteProtocolError> {
        let Some((request, key)) = &self.sent else {
            return Err(RemoteProtocolError::new("response received before the request was sent", None));
        };
        let response = client::parse_response(head, key, &request.subprotocols, self.config.max_headers)?;
        match response {
            client::Response::Accept { subprotocol, extensions, extra_headers } => {
                let finalized = negotiate::client_finalize(&extensions, &request.handlers)?;
                // From here the connection's own state (OPEN) is the state.
                self.state = next_state(self.role, self.state, Action::RecvAccept).unwrap_or(self.state);
                let random = self.take_random();
                self.events.push_back(Event::AcceptConnection(AcceptConnection {
                    subprotocol,
                    extensions,
                    handlers: finalized.clone(),
                    extra_headers,
                }));
                self.connection = Some(Connection::establish(self.role, finalized, rest, &self.config, random));
            }
            client::Response::Reject { status_code, headers, body } => {
                let has_body = body.is_some();
                self.events.push_back(Event::RejectConnection(RejectConnection { status_code, headers, has_body }));
                self.state = next_state(self.role, self.state, Action::Reject { body: has_body })
                    .unwrap_or(ConnectionState::Closed);
                if let Some(framing) = body {
                    self.body = Some(BodyReader::new(framing));
                    self.read_body(rest).map_err(|e| match e {
                        Error::Remote(e) => e,
                        Error::Local(e) => RemoteProtocolError::new(e.message(), None),
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Client: reads the refusal's body into `RejectData` events.
    fn read_body(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        let Some(reader) = &mut self.body else { return Ok(()) };
        loop {
            let chunk = reader.push(bytes)?;
            bytes = bytes.get(chunk.consumed..).unwrap_or_default();
            if !chunk.data.is_empty() || chunk.finished {
                self.events
                    .push_back(Event::RejectData(RejectData { data: chunk.data, body_finished: chunk.finished }));
            }
            if chunk.finished {
                self.state = ConnectionState::Closed;
                self.body = None;
                return Ok(());
            }
            // A failure after some chunks: those go out first, then the error.
            if (bytes.is_empty() && !reader.failed()) || chunk.consumed == 0 {
                return Ok(());
            }
        }
    }
}

/// An iterator over a [`WSConnection`]'s pending events.
#[derive(Debug)]
pub struct WsEvents<'a> {
    conn: &'a mut WSConnection,
}

impl Iterator for WsEvents<'_> {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.conn.next_event()
    }
}

fn too_much_early_data() -> RemoteProtocolError {
    RemoteProtocolError::new(
        "too much data before the handshake completed",
        Some(Event::RejectConnection(RejectConnection::default())),
    )
}

/// An extension's offer as a header element: `name` or `name; params`.
fn offer_element(ext: &dyn Extension) -> String {
    let params = ext.offer();
    if params.is_empty() {
        ext.name().to_owned()
    } else {
        format!("{}; {}", ext.name(), params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::BytesMessage;

    fn is_open(conn: &WSConnection) -> bool {
        matches!(conn.phase, Phase::Open(_))
    }

    // The handshake's state (request, key, head buffer, event queue) goes
    // once the connection is open and the handshake's events are taken;
    // not before, since those events are still to be handed out.
    #[test]
    fn the_handshake_state_goes_once_open_and_its_events_are_taken() {
        let mut client = WSConnection::new(ConnectionType::Client);
        let mut server = WSConnection::new(ConnectionType::Server);
        let request =
            client.send(Request { host: "h".into(), target: "/".into(), ..Request::default() }.into()).unwrap();
        server.receive_data(Some(&request)).unwrap();
        // Accepted before the Request event is taken: still queued.
        let response = server.send(AcceptConnection::default().into()).unwrap();
        assert_eq!(server.state(), ConnectionState::Open);
        assert!(!is_open(&server));
        assert!(matches!(server.next_event(), Some(Event::Request(_))));
        assert!(is_open(&server));

        // The client's AcceptConnection and a frame that came with it.
        let mut bytes = response;
        bytes.extend(
            server
                .send(BytesMessage { data: b"hi".to_vec(), frame_finished: true, message_finished: true }.into())
                .unwrap(),
        );
        client.receive_data(Some(&bytes)).unwrap();
        assert_eq!(client.state(), ConnectionState::Open);
        assert!(!is_open(&client));
        let events: Vec<Event> = client.events().collect();
        assert!(matches!(&events[..], [Event::AcceptConnection(_), Event::BytesMessage(m)] if m.data == b"hi"));
        assert!(is_open(&client));
        assert_eq!(client.connection_type(), ConnectionType::Client);
        assert_eq!(server.connection_type(), ConnectionType::Server);
        // An open WSConnection is a Connection and a tag.
        assert!(std::mem::size_of::<WSConnection>() <= std::mem::size_of::<Connection>() + 8);
    }
}
