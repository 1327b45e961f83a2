//! A connection after the opening handshake: frames only.

use crate::close::ABNORMAL_CLOSURE;
use crate::config::Config;
use crate::error::{Error, LocalProtocolError};
use crate::events::{CloseConnection, Event};
use crate::extensions::Extension;
use crate::frame::encode::MAX_HEADER;
use crate::frame::Opcode;
use crate::protocol::{FrameProtocol, Input, Received, Sink};
use crate::random::{OsRandom, RandomSource};
use crate::state::{next_state, Action, ConnectionState, ConnectionType};
use std::collections::VecDeque;

/// A WebSocket connection whose handshake happened elsewhere (for example
/// over HTTP/2 with RFC 8441, or in a web framework). It starts OPEN.
///
/// ```
/// use wsproto::{Connection, ConnectionType, ConnectionState};
/// use wsproto::events::{Event, TextMessage, CloseConnection};
///
/// // Bytes that arrived together with the handshake are passed as trailing data.
/// let mut server = Connection::new(ConnectionType::Server, vec![], b"\x81\x82abcd\x0b\x0b");
/// assert_eq!(server.events().collect::<Vec<_>>(), vec![Event::TextMessage(TextMessage::new("ji"))]);
///
/// let bytes = server.send(CloseConnection::new(1000).into())?;
/// assert_eq!(bytes, b"\x88\x02\x03\xe8");
/// assert_eq!(server.state(), ConnectionState::LocalClosing);
/// # Ok::<(), wsproto::LocalProtocolError>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    role: ConnectionType,
    state: ConnectionState,
    proto: FrameProtocol,
    events: VecDeque<Event>,
    /// A received close frame's event is queued: the state moves (to
    /// REMOTE_CLOSING or CLOSED) when that event is taken, as in wsproto, so
    /// a caller can still answer the messages queued before it.
    close_queued: bool,
    random: Box<dyn RandomSource>,
}

impl Connection {
    /// A connection with default limits; `trailing_data` is parsed at once.
    pub fn new(role: ConnectionType, extensions: Vec<Box<dyn Extension>>, trailing_data: &[u8]) -> Self {
        Self::with_config(role, extensions, trailing_data, Config::default())
    }

    /// A connection with the given limits.
    pub fn with_config(
        role: ConnectionType,
        extensions: Vec<Box<dyn Extension>>,
        trailing_data: &[u8],
        config: Config,
    ) -> Self {
        Self::establish(role, extensions, trailing_data, &config, Box::<OsRandom>::default())
    }

    pub(crate) fn establish(
        role: ConnectionType,
        extensions: Vec<Box<dyn Extension>>,
        trailing_data: &[u8],
        config: &Config,
        random: Box<dyn RandomSource>,
    ) -> Self {
        let mut conn = Connection {
            role,
            state: ConnectionState::Open,
            proto: FrameProtocol::new(role == ConnectionType::Client, extensions, config),
            events: VecDeque::new(),
            close_queued: false,
            random,
        };
        conn.feed(trailing_data);
        conn
    }

    /// Replaces the source of mask keys (for example with a
    /// [`crate::SeededRandom`] in tests, to get exact bytes).
    pub fn with_random(mut self, random: Box<dyn RandomSource>) -> Self {
        self.set_random(random);
        self
    }

    pub(crate) fn set_random(&mut self, random: Box<dyn RandomSource>) {
        self.random = random;
    }

    pub(crate) fn connection_type(&self) -> ConnectionType {
        self.role
    }

    /// The current state. A received close frame changes it when its
    /// `CloseConnection` event is taken from [`Connection::events`], not
    /// when the bytes arrive.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The negotiated extensions.
    pub fn extensions(&self) -> &[Box<dyn Extension>] {
        self.proto.extensions()
    }

    /// Returns the bytes for `event`. Messages, pings and pongs may be sent
    /// while OPEN; a close while OPEN or REMOTE_CLOSING.
    pub fn send(&mut self, event: Event) -> Result<Vec<u8>, LocalProtocolError> {
        let mut out = Vec::new();
        self.send_into(event, &mut out)?;
        Ok(out)
    }

    /// Like [`Connection::send`], appending to `out`. On error nothing is
    /// appended and the state is unchanged.
    pub fn send_into(&mut self, event: Event, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        let action = match event {
            Event::CloseConnection(_) => Action::SendClose,
            Event::TextMessage(_) | Event::BytesMessage(_) | Event::Ping(_) | Event::Pong(_) => Action::SendData,
            _ => return Err(refused(&event, self.state)),
        };
        let next = next_state(self.role, self.state, action).ok_or_else(|| refused(&event, self.state))?;
        let random = self.random.as_mut();
        match &event {
            Event::TextMessage(m) => {
                self.proto.send_data(Opcode::Text, m.data.as_bytes(), m.message_finished, random, out)?
            }
            Event::BytesMessage(m) => self.proto.send_data(Opcode::Binary, &m.data, m.message_finished, random, out)?,
            Event::Ping(p) => self.proto.send_control(Opcode::Ping, &p.payload, random, out)?,
            Event::Pong(p) => self.proto.send_control(Opcode::Pong, &p.payload, random, out)?,
            Event::CloseConnection(c) => self.proto.send_close(c, random, out)?,
            _ => return Err(refused(&event, self.state)),
        }
        self.state = next;
        Ok(())
    }

    /// Frames a piece of a text or binary message straight from a borrowed
    /// payload, appending to `out`: what [`Connection::send_into`] does for
    /// a `TextMessage` or `BytesMessage`, without the event (and the copy
    /// of the payload into it). `opcode` is [`Opcode::Text`] (the payload
    /// must then be valid UTF-8 on its own, as a `TextMessage`'s is) or
    /// [`Opcode::Binary`]; `message_finished` as in the events. On error
    /// nothing is appended and the state is unchanged.
    ///
    /// ```
    /// use wsproto::{Connection, ConnectionType, Opcode};
    ///
    /// let mut server = Connection::new(ConnectionType::Server, vec![], b"");
    /// let mut out = Vec::new();
    /// server.send_data(Opcode::Text, "hel".as_bytes(), false, &mut out)?;
    /// server.send_data(Opcode::Text, b"lo", true, &mut out)?;
    /// assert_eq!(out, b"\x01\x03hel\x80\x02lo");
    /// assert!(server.send_data(Opcode::Text, b"\xff", true, &mut out).is_err());
    /// assert!(server.send_data(Opcode::Ping, b"", true, &mut out).is_err());
    /// # Ok::<(), wsproto::LocalProtocolError>(())
    /// ```
    pub fn send_data(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        message_finished: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), LocalProtocolError> {
        let next = self.check_send_data(opcode, payload)?;
        self.proto.send_data(opcode, payload, message_finished, self.random.as_mut(), out)?;
        self.state = next;
        Ok(())
    }

    /// As [`Connection::send_data`] for the payload `buf[MAX_HEADER..]`
    /// (the wasm binding's scratch buffer), framed where it is: returns
    /// where the frame starts in `buf` (it ends with `buf`), or `Ok(None)`,
    /// nothing done, when extensions need `send_data`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn send_data_in_place(
        &mut self,
        opcode: Opcode,
        buf: &mut [u8],
        message_finished: bool,
    ) -> Result<Option<usize>, LocalProtocolError> {
        let payload = buf.get(MAX_HEADER..).ok_or_else(|| LocalProtocolError::new("no room for a frame header"))?;
        let next = self.check_send_data(opcode, payload)?;
        let start = self.proto.send_data_in_place(opcode, buf, message_finished, self.random.as_mut())?;
        if start.is_some() {
            self.state = next;
        }
        Ok(start)
    }

    /// Whether a message piece may be sent: the state it leads to. Inlined:
    /// it is on the wasm binding's send path (see its `finish_sent`).
    #[inline]
    fn check_send_data(&self, opcode: Opcode, payload: &[u8]) -> Result<ConnectionState, LocalProtocolError> {
        let event = match opcode {
            Opcode::Text if !crate::utf8::is_valid(payload) => {
                return Err(LocalProtocolError::new("text payload is not valid UTF-8"))
            }
            Opcode::Text => "TextMessage",
            Opcode::Binary => "BytesMessage",
            _ => return Err(LocalProtocolError::new(format!("send_data sends Text or Binary, not {opcode:?}"))),
        };
        next_state(self.role, self.state, Action::SendData).ok_or_else(|| {
            LocalProtocolError::new(format!("Event {event} cannot be sent in state {}.", self.state.name()))
        })
    }

    /// Feeds bytes read from the transport, or `None` when it has ended
    /// (which yields a `CloseConnection` with code 1006 and moves to CLOSED).
    ///
    /// Bytes after a close frame are ignored; bytes after CLOSED are an error.
    pub fn receive_data(&mut self, data: Option<&[u8]>) -> Result<(), Error> {
        match data {
            None => {
                if self.state != ConnectionState::Closed {
                    self.events.push_back(Event::CloseConnection(CloseConnection::new(ABNORMAL_CLOSURE)));
                }
                self.state = next_state(self.role, self.state, Action::Eof).unwrap_or(ConnectionState::Closed);
                Ok(())
            }
            Some(_) if self.state == ConnectionState::Closed => {
                Err(LocalProtocolError::new("Connection already closed.").into())
            }
            Some(bytes) => {
                self.feed(bytes);
                Ok(())
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        // In REMOTE_CLOSING the peer has closed: its further bytes mean nothing.
        if !matches!(self.state, ConnectionState::Open | ConnectionState::LocalClosing) {
            return;
        }
        if self.proto.receive(Input::Shared(bytes), &mut self.events) == Received::Close {
            self.close_queued = true;
        }
    }

    /// Like [`Connection::receive_data`] with bytes, for the wasm binding:
    /// `bytes` (the binding's input buffer) is unmasked in place and what
    /// it holds goes straight to `sink`, not to the event queue, which must
    /// be empty (taken first, to keep the order). Returns whether a close
    /// frame arrived: its event is the last one given to `sink`, and the
    /// caller applies its state change ([`Connection::apply_received_close`])
    /// when that event is taken.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn receive_in_place(&mut self, bytes: &mut [u8], sink: &mut dyn Sink) -> Result<bool, Error> {
        debug_assert!(self.events.is_empty(), "queued events must be taken first");
        match self.state {
            ConnectionState::Closed => Err(LocalProtocolError::new("Connection already closed.").into()),
            ConnectionState::Open | ConnectionState::LocalClosing => {
                Ok(self.proto.receive(Input::InPlace(bytes), sink) == Received::Close)
            }
            // As in `feed`: after the peer's close, its bytes mean nothing.
            _ => Ok(false),
        }
    }

    /// Drains the events produced so far, oldest first.
    pub fn events(&mut self) -> Events<'_> {
        Events { conn: self }
    }

    /// The oldest pending event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        let (event, received_close) = self.take_event()?;
        if received_close {
            self.apply_received_close();
        }
        Some(event)
    }

    /// The oldest event, and whether it is the received close whose state
    /// change is still to be applied (the wasm binding applies it when JS
    /// hands the event to the user).
    pub(crate) fn take_event(&mut self) -> Option<(Event, bool)> {
        let event = self.events.pop_front()?;
        // The protocol stops at a close frame, so the first CloseConnection
        // taken while one is queued is that frame's (EOF's 1006 comes after).
        let received_close = self.close_queued && matches!(event, Event::CloseConnection(_));
        if received_close {
            self.close_queued = false;
        }
        Some((event, received_close))
    }

    /// Moves to REMOTE_CLOSING (or CLOSED after our own close); nothing if
    /// the transport already ended.
    pub(crate) fn apply_received_close(&mut self) {
        if let Some(next) = next_state(self.role, self.state, Action::RecvClose) {
            self.state = next;
        }
    }
}

/// An iterator over pending events; events not taken stay queued.
#[derive(Debug)]
pub struct Events<'a> {
    conn: &'a mut Connection,
}

impl Iterator for Events<'_> {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.conn.next_event()
    }
}

/// The error for an event the state does not allow.
pub(crate) fn refused(event: &Event, state: ConnectionState) -> LocalProtocolError {
    LocalProtocolError::new(format!("Event {} cannot be sent in state {}.", event.name(), state.name()))
}
