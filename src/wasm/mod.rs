//! The wasm-bindgen binding: translation only, no protocol logic.
//!
//! The JS layer (`pkg-template/api.js`) is the public API; this module gives
//! it one object per connection, [`WasmConn`], and a small shared-memory
//! protocol that keeps the number of JS -> wasm calls to one per operation
//! and builds no JS object from Rust:
//!
//! - **Control block.** A fixed array of `u32` at a stable address
//!   ([`WasmConn::ctl`]). Every call ends by publishing its results there
//!   (status, event count, pointers and lengths); JS reads them through a
//!   `Uint32Array` view on `memory.buffer`.
//! - **Input.** JS copies a received chunk into the input buffer
//!   (`CTL_INPUT_PTR`, capacity `CTL_INPUT_CAP`; [`WasmConn::reserve_input`]
//!   grows it) and calls [`WasmConn::receive`] with its length.
//! - **Events.** Each call that can produce events fills a record table:
//!   `REC_WORDS` words per event: `kind | flags << 8 | code << 16` (a
//!   code is a close or HTTP status code, at most 16 bits), pointer,
//!   length. The pointer is absolute. (12 bytes per event: a flood of
//!   empty frames parsed in one call costs at most 6 times its input.) Once the handshake is done, received frames go
//!   straight from the protocol into the table ([`Table`] is its sink): a
//!   payload is unmasked in place in the input buffer and its record points
//!   there, so a data frame costs no allocation; only pieces that had to be
//!   assembled (inflated, or text joined across a cut code point) are owned
//!   buffers, held until the next call like control events' payloads.
//!   Text pieces are flagged: all-ASCII ones point at their bytes
//!   (`FLAG_ASCII`); others are transcoded to UTF-16 into one buffer per
//!   call (`FLAG_UTF16`), which JS turns into one string and slices.
//!   Handshake events (rare) are serialised into a blob (see "Blobs" below)
//!   held the same way.
//! - **Sending.** JS writes a payload (or a blob) into the scratch buffer
//!   (`CTL_SCRATCH_PTR`/`CTL_SCRATCH_CAP`; [`WasmConn::reserve_scratch`]) and
//!   calls one `send_*` method; the frame bytes are published as
//!   `CTL_OUT_PTR`/`CTL_OUT_LEN` for JS to `slice()`. A `send_data` payload
//!   starts `SEND_AT` bytes in, so that a message's frame is built in place:
//!   header just before the payload, payload masked where it is, and the
//!   published frame lies in scratch (no output buffer, no copy).
//! - **Large buffers.** Input, scratch and output grown past `KEEP_BYTES`
//!   are given back by [`WasmConn::release`], which JS calls once it has
//!   copied a large result out (records may point into the input).
//! - **Errors.** No method panics on any argument or call order: failures set
//!   `CTL_STATUS` (`STATUS_LOCAL` / `STATUS_REMOTE`) and publish the message;
//!   a remote error's `event_hint` is one extra record after the events.
//!
//! Blobs are little-endian: a string or byte string is a `u32` length then
//! its bytes; a list is a `u32` count then its items; a header is two byte
//! strings. Request = host, target, list(subprotocol), list(extension),
//! list(handler), list(header). AcceptConnection = list(subprotocol, 0 or 1
//! item), list(extension), list(handler), list(header). RejectConnection =
//! list(header) (status and has_body travel in the record / call
//! arguments). Upgrade = path, list(header). The constructor's `extensions`
//! (frame-only connections) = list(handler).
//!
//! `extension` items are header elements as strings (offers to send, offers
//! received, or the elements a server accepted). A `handler` is an extension
//! object: its name, then its parameters, laid out per name. The one name
//! is `permessage-deflate`: five `u32`s, flags (1 client_no_context_takeover,
//! 2 server_no_context_takeover, 4 keep_compressor), client_max_window_bits,
//! server_max_window_bits (0: not set), compression_threshold,
//! compression_level. Sent, handlers are what a client offers or a server
//! supports; in a received AcceptConnection they are what was negotiated
//! (every value set), in the order of the accepted elements.
//!
//! Every buffer is a `Vec<u8>` kept at `len == capacity` and zero-filled, so
//! JS writes only into initialised memory and Rust reads it with safe slices.
//! Pointers are published as `u32` (wasm32 addresses).
// incompatible_msrv: raised inside wasm-bindgen's macros (wasm32 builds
// need a newer toolchain than the crate's MSRV anyway).
#![allow(unreachable_pub, missing_docs, clippy::incompatible_msrv)]

use std::borrow::Cow;
use wasm_bindgen::prelude::*;

mod entropy;

use crate::events::{
    AcceptConnection, BytesMessage, CloseConnection, Event, Headers, Ping, Pong, RejectConnection, RejectData, Request,
    TextMessage,
};
use crate::extensions::{Extension, PerMessageDeflate};
use crate::frame::encode::MAX_HEADER;
use crate::protocol::{Piece, Sink};
use crate::{
    Config, Connection, ConnectionState, ConnectionType, Error, LocalProtocolError, Opcode, SeededRandom, WSConnection,
};

// ---- the control block ------------------------------------------------------
// Indices into the control block; api.js mirrors them (keep in sync).
const CTL_STATUS: usize = 0;
const CTL_COUNT: usize = 1;
const CTL_RECORDS: usize = 2;
const CTL_HINT: usize = 3;
const CTL_ERR_PTR: usize = 4;
const CTL_ERR_LEN: usize = 5;
const CTL_OUT_PTR: usize = 6;
const CTL_OUT_LEN: usize = 7;
const CTL_INPUT_PTR: usize = 8;
const CTL_INPUT_CAP: usize = 9;
const CTL_SCRATCH_PTR: usize = 10;
const CTL_SCRATCH_CAP: usize = 11;
const CTL_STATE: usize = 12;
/// Where the call's UTF-16 text lies and its length in units (see `FLAG_UTF16`).
const CTL_TEXT16_PTR: usize = 13;
const CTL_TEXT16_LEN: usize = 14;
const CTL_LEN: usize = 15;

const STATUS_OK: u32 = 0;
const STATUS_LOCAL: u32 = 1;
const STATUS_REMOTE: u32 = 2;

/// Words per event record: kind/flags/code, pointer, length.
const REC_WORDS: usize = 3;
/// Where flags and code sit in a record's first word.
const REC_FLAGS_SHIFT: u32 = 8;
const REC_CODE_SHIFT: u32 = 16;

// Event kinds (records and send_* arguments).
const KIND_REQUEST: u32 = 1;
const KIND_ACCEPT: u32 = 2;
const KIND_REJECT: u32 = 3;
const KIND_REJECT_DATA: u32 = 4;
const KIND_CLOSE: u32 = 5;
const KIND_TEXT: u32 = 6;
const KIND_BYTES: u32 = 7;
const KIND_PING: u32 = 8;
const KIND_PONG: u32 = 9;

// Record flags.
const FLAG_FRAME_FINISHED: u32 = 1;
const FLAG_MESSAGE_FINISHED: u32 = 2;
/// RejectConnection.has_body / RejectData.body_finished.
const FLAG_BODY: u32 = 4;
/// A received close frame's CloseConnection: JS calls
/// [`WasmConn::take_close`] when it hands the event to the user.
const FLAG_CLOSE_RECEIVED: u32 = 8;
/// A text piece that is all ASCII: the record points at its bytes (JS
/// decodes neighbouring ones in one go, one string char per byte).
const FLAG_ASCII: u32 = 16;
/// A text piece with multi-byte characters, as UTF-16 in the call's
/// `Table::text16`: the record holds its first unit's index there and its
/// length in units; `CTL_TEXT16_PTR` says where the units are.
const FLAG_UTF16: u32 = 32;

// Extension handlers (see "Blobs").
const DEFLATE: &str = "permessage-deflate";
const DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER: u32 = 1;
const DEFLATE_SERVER_NO_CONTEXT_TAKEOVER: u32 = 2;
const DEFLATE_KEEP_COMPRESSOR: u32 = 4;
/// What a window-bits word holds when the value is not set.
const BITS_UNSET: u32 = 0;

/// Where `send_data` payloads start in scratch: room for the longest frame
/// header, so that a frame can be built in place.
const SEND_AT: usize = MAX_HEADER;

/// Buffers larger than this are given back to the allocator after the call
/// that needed them, so one large message does not pin memory per connection.
const KEEP_BYTES: usize = 64 << 10;

/// The two kinds of connection behind one object. Both inline: an open
/// `WSConnection` is a `Connection` (its handshake state boxed, and gone).
enum Engine {
    Handshake(WSConnection),
    Frames(Connection),
}

impl Engine {
    fn state(&self) -> ConnectionState {
        match self {
            Engine::Handshake(c) => c.state(),
            Engine::Frames(c) => c.state(),
        }
    }
    fn send_into(&mut self, event: Event, out: &mut Vec<u8>) -> Result<(), LocalProtocolError> {
        match self {
            Engine::Handshake(c) => c.send_into(event, out),
            Engine::Frames(c) => c.send_into(event, out),
        }
    }
    fn receive_data(&mut self, data: Option<&[u8]>) -> Result<(), Error> {
        match self {
            Engine::Handshake(c) => c.receive_data(data),
            Engine::Frames(c) => c.receive_data(data),
        }
    }
    fn take_event(&mut self) -> Option<(Event, bool)> {
        match self {
            Engine::Handshake(c) => c.take_event(),
            Engine::Frames(c) => c.take_event(),
        }
    }
    fn apply_received_close(&mut self) {
        match self {
            Engine::Handshake(c) => c.apply_received_close(),
            Engine::Frames(c) => c.apply_received_close(),
        }
    }
    /// The frame-level connection, once there is one.
    fn connection_mut(&mut self) -> Option<&mut Connection> {
        match self {
            Engine::Handshake(c) => c.connection_mut(),
            Engine::Frames(c) => Some(c),
        }
    }
}

/// The record table of one call, and what its records point into.
#[derive(Default)]
struct Table {
    /// One entry per event: JS reads them as `REC_WORDS` words each.
    records: Vec<[u32; REC_WORDS]>,
    /// Events whose payloads records point into.
    held: Vec<Event>,
    /// Owned payloads (message pieces that were assembled, handshake blobs).
    owned: Vec<Vec<u8>>,
    /// The call's multi-byte text pieces as UTF-16, back to back.
    text16: Vec<u16>,
}

impl Table {
    fn clear(&mut self) {
        self.records.clear();
        self.held.clear();
        self.owned.clear();
        self.text16.clear();
        if self.records.capacity() * REC_WORDS * 4 > KEEP_BYTES {
            self.records = Vec::new();
        }
        if self.text16.capacity() * 2 > KEEP_BYTES {
            self.text16 = Vec::new();
        }
    }

    fn count(&self) -> u32 {
        self.records.len() as u32
    }

    /// Appends a record (once per received frame: kept small to inline).
    #[inline]
    fn push(&mut self, kind: u32, flags: u32, code: u32, ptr: *const u8, len: usize) {
        // Codes are u16 (close codes, HTTP statuses): nothing is lost.
        let meta = kind | flags << REC_FLAGS_SHIFT | code << REC_CODE_SHIFT;
        if self.records.len() == self.records.capacity() {
            self.grow_records();
        }
        // One store of a whole record: no per-word capacity check.
        self.records.push([meta, ptr as u32, len as u32]);
    }

    #[cold]
    fn grow_records(&mut self) {
        // Growing by half rather than doubling lets the allocator reuse
        // the blocks given up before (doubling never fits in them): a
        // flood of tiny frames in one call then costs about 1.5 times
        // the table, not 3 times.
        let more = (self.records.capacity() / 2).max(4);
        self.records.reserve_exact(more);
    }

    /// Keeps `bytes` until the next call; returns where they are (a `Vec`'s
    /// heap buffer does not move when the `Vec` does).
    fn hold_bytes(&mut self, bytes: Vec<u8>) -> (*const u8, usize) {
        let at = (bytes.as_ptr(), bytes.len());
        self.owned.push(bytes);
        at
    }

    /// A text record for `text`, which stays where it is until the next
    /// call (`ascii`: it is all ASCII; if not, it is transcoded).
    fn text(&mut self, text: &str, ascii: bool, flags: u32) {
        if ascii {
            self.push(KIND_TEXT, flags | FLAG_ASCII, 0, text.as_ptr(), text.len());
        } else {
            let at = self.text16.len();
            crate::utf8::push_utf16(text, &mut self.text16);
            let len = self.text16.len() - at;
            // The pointer word holds the index (`text16` may still move).
            self.push(KIND_TEXT, flags | FLAG_UTF16, 0, at as *const u8, len);
        }
    }

    /// Marks the last record as the received close (see `FLAG_CLOSE_RECEIVED`).
    fn mark_close(&mut self) {
        if let Some([meta, ..]) = self.records.last_mut() {
            *meta |= FLAG_CLOSE_RECEIVED << REC_FLAGS_SHIFT;
        }
    }
}

impl Sink for Table {
    /// A borrowed piece lies in the input buffer, which JS reads (decodes
    /// or copies) before its next call: the record can point at it.
    fn message(&mut self, piece: Piece<'_>, frame_finished: bool, message_finished: bool) {
        let flags = msg_flags(frame_finished, message_finished);
        let bytes = match piece {
            Piece::Bytes(b) => b,
            Piece::Text { text: Cow::Borrowed(t), ascii } => return self.text(t, ascii, flags),
            Piece::Text { text: Cow::Owned(t), ascii } => {
                self.text(&t, ascii, flags);
                // Its heap buffer, where the record may point, stays put.
                self.owned.push(t.into_bytes());
                return;
            }
        };
        let (ptr, len) = match bytes {
            Cow::Borrowed(b) => (b.as_ptr(), b.len()),
            Cow::Owned(v) => self.hold_bytes(v),
        };
        self.push(KIND_BYTES, flags, 0, ptr, len);
    }

    /// Events whose bytes are a field of their own: the record points there
    /// and the event is held. Handshake events never reach here (they need
    /// a blob: [`WasmConn::record`]).
    fn event(&mut self, event: Event) {
        let (kind, flags, code, ptr, len) = match &event {
            Event::TextMessage(m) => {
                self.text(&m.data, crate::utf8::is_ascii(&m.data), msg_flags(m.frame_finished, m.message_finished));
                self.held.push(event);
                return;
            }
            Event::BytesMessage(m) => {
                (KIND_BYTES, msg_flags(m.frame_finished, m.message_finished), 0, m.data.as_ptr(), m.data.len())
            }
            Event::Ping(p) => (KIND_PING, 0, 0, p.payload.as_ptr(), p.payload.len()),
            Event::Pong(p) => (KIND_PONG, 0, 0, p.payload.as_ptr(), p.payload.len()),
            Event::CloseConnection(c) => (KIND_CLOSE, 0, u32::from(c.code), c.reason.as_ptr(), c.reason.len()),
            Event::RejectData(d) => (KIND_REJECT_DATA, body_flag(d.body_finished), 0, d.data.as_ptr(), d.data.len()),
            Event::Request(_) | Event::AcceptConnection(_) | Event::RejectConnection(_) => return,
        };
        self.push(kind, flags, code, ptr, len);
        self.held.push(event);
    }
}

/// One connection, as seen by `api.js`.
#[wasm_bindgen]
pub struct WasmConn {
    engine: Engine,
    /// Boxed so that its address is stable for the object's lifetime.
    ctl: Box<[u32; CTL_LEN]>,
    /// The last call's events; emptied at the start of the next call.
    table: Table,
    input: Vec<u8>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    /// The last send's frame when it was framed in scratch: its range.
    out_in_scratch: Option<(usize, usize)>,
    error: String,
    /// Client: the permessage-deflate configurations the request offered,
    /// to describe what the server's answer negotiated.
    offered: Vec<PerMessageDeflate>,
    /// A received close was recorded; its state change waits for `take_close`.
    close_owed: bool,
}

#[wasm_bindgen]
impl WasmConn {
    /// `kind`: 1 client, 2 server (wsproto's `ConnectionType` values).
    /// `frame_only`: a [`Connection`] (starts OPEN, `trailing` is fed to it)
    /// rather than a [`WSConnection`]. Unset limits keep their defaults.
    /// `seed` selects [`SeededRandom`] (tests only). `extensions` (frame
    /// only) is a list(handler) blob: extensions already negotiated, with
    /// their agreed parameters (unset window bits: 15). A malformed blob
    /// leaves `STATUS_LOCAL` and its message in the control block, and the
    /// connection without extensions.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(constructor)]
    pub fn new(
        kind: u32,
        frame_only: bool,
        max_message_size: Option<u64>,
        max_frame_size: Option<u64>,
        max_handshake_size: Option<u32>,
        max_headers: Option<u32>,
        seed: Option<u64>,
        trailing: &[u8],
        extensions: &[u8],
    ) -> WasmConn {
        let role = if kind == 2 { ConnectionType::Server } else { ConnectionType::Client };
        let mut config = Config::default();
        if let Some(v) = max_message_size {
            config.max_message_size = v;
        }
        if let Some(v) = max_frame_size {
            config.max_frame_size = v;
        }
        if let Some(v) = max_handshake_size {
            config.max_handshake_size = v as usize;
        }
        if let Some(v) = max_headers {
            config.max_headers = v as usize;
        }
        let mut failure = None;
        let engine = if frame_only {
            let handlers = match read_handler_list(extensions) {
                Ok(list) => list.into_iter().map(|h| established(role, h)).collect(),
                Err(e) => {
                    failure = Some(e.message().to_owned());
                    Vec::new()
                }
            };
            let c = Connection::with_config(role, handlers, trailing, config);
            Engine::Frames(match seed {
                Some(s) => c.with_random(Box::new(SeededRandom::new(s))),
                None => c,
            })
        } else {
            let c = WSConnection::with_config(role, config);
            Engine::Handshake(match seed {
                Some(s) => c.with_random(Box::new(SeededRandom::new(s))),
                None => c,
            })
        };
        let mut conn = WasmConn {
            engine,
            ctl: Box::new([0; CTL_LEN]),
            table: Table::default(),
            input: Vec::new(),
            scratch: Vec::new(),
            out: Vec::new(),
            out_in_scratch: None,
            error: String::new(),
            offered: Vec::new(),
            close_owed: false,
        };
        conn.begin();
        conn.drain();
        if let Some(message) = failure {
            conn.error = message;
            conn.ctl[CTL_STATUS] = STATUS_LOCAL;
        }
        conn.publish();
        conn
    }

    /// The address of the control block (stable until `free()`).
    pub fn ctl(&self) -> u32 {
        self.ctl.as_ptr() as u32
    }

    /// Makes the input buffer hold at least `len` bytes. Returns
    /// `STATUS_LOCAL` (buffer unchanged) if memory cannot be had, rather
    /// than aborting the whole instance.
    pub fn reserve_input(&mut self, len: u32) -> u32 {
        let status = grow(&mut self.input, len as usize);
        self.publish();
        status
    }

    /// Makes the scratch buffer hold at least `len` bytes (as `reserve_input`).
    pub fn reserve_scratch(&mut self, len: u32) -> u32 {
        let status = grow(&mut self.scratch, len as usize);
        self.publish();
        status
    }

    /// Feeds the first `len` bytes of the input buffer to the connection and
    /// publishes the events it produced.
    pub fn receive(&mut self, len: u32) -> u32 {
        self.begin();
        // Anything already queued comes first (the protocol then writes
        // into the table, after it).
        self.drain();
        let result = match (self.input.get_mut(..len as usize), self.engine.connection_mut()) {
            (None, _) => Err(Error::Local(LocalProtocolError::new("input length exceeds the input buffer"))),
            // After the handshake: straight into the table, no event queue.
            (Some(data), Some(conn)) => conn.receive_in_place(data, &mut self.table).map(|closed| {
                if closed {
                    self.table.mark_close();
                    self.close_owed = true;
                }
            }),
            (Some(data), None) => self.engine.receive_data(Some(data)),
        };
        self.finish_receive(result)
    }

    /// Tells the connection the transport ended (`receive_data(None)`).
    pub fn receive_eof(&mut self) -> u32 {
        self.begin();
        let result = self.engine.receive_data(None);
        self.finish_receive(result)
    }

    /// Applies the state change of a received close (REMOTE_CLOSING, or
    /// CLOSED after our own close) once JS has handed its event to the user,
    /// as wsproto does when it yields the event; returns the state. Touches
    /// no record, so the events of the last call stay readable.
    pub fn take_close(&mut self) -> u32 {
        if std::mem::take(&mut self.close_owed) {
            self.engine.apply_received_close();
        }
        let state = state_code(self.engine.state());
        self.ctl[CTL_STATE] = state;
        state
    }

    /// Drops the last call's records and what they point into, and gives
    /// back buffers grown past `KEEP_BYTES` (with `all`, every buffer): JS
    /// calls it once it has copied out a large result, so that one large
    /// message does not pin memory until the connection's next call, and
    /// with `all` after a handshake event or response, whose buffers (the
    /// request alone can be a kilobyte) frames never need at that size.
    pub fn release(&mut self, all: bool) {
        // The table's own memory too: left behind a freed large buffer, it
        // would split the free space a later large buffer needs.
        self.table = Table::default();
        self.ctl[CTL_COUNT] = 0;
        self.out = Vec::new();
        self.out_in_scratch = None;
        if all || self.scratch.len() > KEEP_BYTES {
            self.scratch = Vec::new();
        }
        if all || self.input.len() > KEEP_BYTES {
            self.input = Vec::new();
        }
        self.publish();
    }

    /// Publishes any queued events (used once after construction).
    pub fn drain_events(&mut self) -> u32 {
        self.begin();
        self.drain();
        self.publish();
        STATUS_OK
    }

    /// Sends a message piece, ping, pong or reject body piece whose payload
    /// is the `len` bytes of scratch after `SEND_AT` (room for a header).
    /// `finished` is `message_finished` (messages) or `body_finished`
    /// (RejectData).
    pub fn send_data(&mut self, kind: u32, len: u32, finished: bool) -> u32 {
        self.begin();
        let end = SEND_AT + len as usize;
        if end > self.scratch.len() {
            return self.finish_send(Err(LocalProtocolError::new("payload length exceeds the scratch buffer")));
        }
        // Messages once the handshake is done: framed where they are (the
        // output is the frame in scratch), or into `out` with extensions.
        let opcode = match kind {
            KIND_TEXT => Some(Opcode::Text),
            KIND_BYTES => Some(Opcode::Binary),
            _ => None,
        };
        if let (Some(opcode), Some(conn)) = (opcode, self.engine.connection_mut()) {
            let result = match conn.send_data_in_place(opcode, &mut self.scratch[..end], finished) {
                Ok(Some(start)) => {
                    self.out_in_scratch = Some((start, end));
                    Ok(())
                }
                Ok(None) => conn.send_data(opcode, &self.scratch[SEND_AT..end], finished, &mut self.out),
                Err(e) => Err(e),
            };
            return self.finish_sent(result);
        }
        let bytes = &self.scratch[SEND_AT..end];
        let event = match kind {
            KIND_TEXT => match String::from_utf8(bytes.to_vec()) {
                Ok(data) => {
                    Ok(Event::TextMessage(TextMessage { data, frame_finished: true, message_finished: finished }))
                }
                Err(_) => Err(LocalProtocolError::new("text payload is not valid UTF-8")),
            },
            KIND_BYTES => Ok(Event::BytesMessage(BytesMessage {
                data: bytes.to_vec(),
                frame_finished: true,
                message_finished: finished,
            })),
            KIND_PING => Ok(Event::Ping(Ping { payload: bytes.to_vec() })),
            KIND_PONG => Ok(Event::Pong(Pong { payload: bytes.to_vec() })),
            KIND_REJECT_DATA => Ok(Event::RejectData(RejectData { data: bytes.to_vec(), body_finished: finished })),
            _ => Err(LocalProtocolError::new(format!("unknown event kind {kind}"))),
        };
        self.finish_send(event)
    }

    /// Sends a close frame; the reason is the first `len` bytes of scratch.
    pub fn send_close(&mut self, code: u32, len: u32) -> u32 {
        self.begin();
        let event = match (u16::try_from(code), self.scratch.get(..len as usize)) {
            (Err(_), _) => Err(LocalProtocolError::new(format!("close code {code} is outside 1000-4999"))),
            (_, None) => Err(LocalProtocolError::new("reason length exceeds the scratch buffer")),
            (Ok(code), Some(bytes)) => match String::from_utf8(bytes.to_vec()) {
                Ok(reason) => Ok(Event::CloseConnection(CloseConnection { code, reason })),
                Err(_) => Err(LocalProtocolError::new("close reason is not valid UTF-8")),
            },
        };
        self.finish_send(event)
    }

    /// Sends a Request, AcceptConnection or RejectConnection described by
    /// the blob in the first `len` bytes of scratch. For RejectConnection,
    /// `status` is the status code and `has_body` its flag.
    pub fn send_handshake(&mut self, kind: u32, len: u32, status: u32, has_body: bool) -> u32 {
        self.begin();
        let event = match self.scratch.get(..len as usize) {
            None => Err(LocalProtocolError::new("blob length exceeds the scratch buffer")),
            Some(blob) => decode_handshake(kind, blob, status, has_body),
        };
        let (event, offered) = match event {
            Ok((event, offered)) => (Ok(event), Some(offered)),
            Err(e) => (Err(e), None),
        };
        let status = self.finish_send(event);
        if let (STATUS_OK, Some(offered), KIND_REQUEST) = (status, offered, kind) {
            self.offered = offered;
        }
        status
    }

    /// `initiate_upgrade_connection(headers, path)`: the blob in scratch is
    /// path, list(header).
    pub fn upgrade(&mut self, len: u32) -> u32 {
        self.begin();
        let parsed = match self.scratch.get(..len as usize) {
            None => Err(LocalProtocolError::new("blob length exceeds the scratch buffer")),
            Some(blob) => {
                let mut r = Reader::new(blob);
                r.string().and_then(|path| Ok((path, r.headers()?)))
            }
        };
        let result = match (parsed, &mut self.engine) {
            (Err(e), _) => Err(Error::Local(e)),
            (Ok((path, headers)), Engine::Handshake(c)) => c.initiate_upgrade_connection(&headers, &path),
            (Ok(_), Engine::Frames(_)) => {
                Err(Error::Local(LocalProtocolError::new("initiate_upgrade_connection needs a WSConnection")))
            }
        };
        self.finish_receive(result)
    }
}

impl WasmConn {
    /// Starts a call: the previous call's events and output are no longer
    /// needed (JS decoded and copied them before returning to the user).
    fn begin(&mut self) {
        self.table.clear();
        self.out.clear();
        self.out_in_scratch = None;
        // What `shrink` could not give back while JS was reading it.
        if self.out.capacity() > KEEP_BYTES {
            self.out = Vec::new();
        }
        self.error.clear();
        self.ctl[CTL_STATUS] = STATUS_OK;
        self.ctl[CTL_HINT] = 0;
    }

    fn finish_receive(&mut self, result: Result<(), Error>) -> u32 {
        // Events queued before a failure are still delivered, in order.
        self.drain();
        let status = match result {
            Ok(()) => STATUS_OK,
            Err(Error::Local(e)) => {
                self.error = e.message().to_owned();
                STATUS_LOCAL
            }
            Err(Error::Remote(e)) => {
                self.error = e.message().to_owned();
                if let Some(hint) = e.event_hint() {
                    self.record(hint.clone());
                    self.ctl[CTL_HINT] = 1;
                }
                STATUS_REMOTE
            }
        };
        self.ctl[CTL_STATUS] = status;
        self.publish();
        self.shrink();
        status
    }

    fn finish_send(&mut self, event: Result<Event, LocalProtocolError>) -> u32 {
        let result = event.and_then(|e| self.engine.send_into(e, &mut self.out));
        self.finish_sent(result)
    }

    // Inlined, as are `shrink`, `check_send_data` and `header_before`: in
    // V8 each call on the send path costs a few ns (a 16-byte send spent
    // about 67 ns in wasm; these four hints took about 9 off it).
    #[inline]
    fn finish_sent(&mut self, result: Result<(), LocalProtocolError>) -> u32 {
        let status = match result {
            Ok(()) => STATUS_OK,
            Err(e) => {
                self.out.clear();
                self.error = e.message().to_owned();
                STATUS_LOCAL
            }
        };
        self.ctl[CTL_STATUS] = status;
        self.publish();
        self.shrink();
        status
    }

    /// Records the events queued in the core, after those already in the
    /// table, and publishes the count.
    fn drain(&mut self) {
        while let Some((event, received_close)) = self.engine.take_event() {
            self.record(event);
            if received_close {
                self.close_owed = true;
                self.table.mark_close();
            }
        }
        self.ctl[CTL_COUNT] = self.table.count();
    }

    /// Appends one record for `event` and keeps the bytes it points to.
    fn record(&mut self, event: Event) {
        let (kind, flags, code, blob) = match &event {
            Event::Request(r) => {
                let mut w = Writer::default();
                w.string(&r.host);
                w.string(&r.target);
                w.strings(&r.subprotocols);
                w.strings(&r.extensions);
                // Received requests carry no handlers: offers are strings.
                w.u32(0);
                w.headers(&r.extra_headers);
                (KIND_REQUEST, 0, 0, w.0)
            }
            Event::AcceptConnection(a) => {
                let mut w = Writer::default();
                w.strings(a.subprotocol.as_slice());
                w.strings(&a.extensions);
                // Read once, for the one AcceptConnection: it need not stay.
                let negotiated = negotiated_handlers(&a.extensions, &std::mem::take(&mut self.offered));
                w.u32(negotiated.len());
                for h in &negotiated {
                    w.handler(h);
                }
                w.headers(&a.extra_headers);
                (KIND_ACCEPT, 0, 0, w.0)
            }
            Event::RejectConnection(r) => {
                let mut w = Writer::default();
                w.headers(&r.headers);
                (KIND_REJECT, body_flag(r.has_body), u32::from(r.status_code), w.0)
            }
            _ => return self.table.event(event),
        };
        let (ptr, len) = self.table.hold_bytes(blob);
        self.table.push(kind, flags, code, ptr, len);
    }

    fn publish(&mut self) {
        let ctl = &mut self.ctl;
        ctl[CTL_RECORDS] = self.table.records.as_ptr() as u32;
        ctl[CTL_ERR_PTR] = self.error.as_ptr() as u32;
        ctl[CTL_ERR_LEN] = self.error.len() as u32;
        let out = match self.out_in_scratch {
            Some((start, end)) => &self.scratch[start..end],
            None => &self.out[..],
        };
        ctl[CTL_OUT_PTR] = out.as_ptr() as u32;
        ctl[CTL_OUT_LEN] = out.len() as u32;
        ctl[CTL_INPUT_PTR] = self.input.as_ptr() as u32;
        ctl[CTL_INPUT_CAP] = self.input.len() as u32;
        ctl[CTL_SCRATCH_PTR] = self.scratch.as_ptr() as u32;
        ctl[CTL_SCRATCH_CAP] = self.scratch.len() as u32;
        ctl[CTL_STATE] = state_code(self.engine.state());
        ctl[CTL_TEXT16_PTR] = self.table.text16.as_ptr() as u32;
        ctl[CTL_TEXT16_LEN] = self.table.text16.len() as u32;
    }

    /// Gives back the scratch buffer if it grew past `KEEP_BYTES`. The
    /// input (records point into it), the output and the table are still
    /// needed by JS: they go at [`WasmConn::release`] or the next `begin()`.
    /// Inlined: see `finish_sent`.
    #[inline]
    fn shrink(&mut self) {
        if self.scratch.len() > KEEP_BYTES && self.out_in_scratch.is_none() {
            self.scratch = Vec::new();
            self.publish();
        }
        if self.out.capacity() > KEEP_BYTES && self.out.is_empty() {
            self.out = Vec::new();
        }
    }
}

/// Grows `buf` (kept at `len == capacity`, zero-filled) to at least `len`;
/// `STATUS_LOCAL` if the allocator says no.
fn grow(buf: &mut Vec<u8>, len: usize) -> u32 {
    if buf.len() < len {
        // Doubling amortises growth, but not past what `shrink` keeps.
        let target = len.max(buf.len().saturating_mul(2).min(KEEP_BYTES)).max(256);
        if buf.try_reserve_exact(target - buf.len()).is_err() && buf.try_reserve_exact(len - buf.len()).is_err() {
            return STATUS_LOCAL;
        }
        buf.resize(buf.capacity(), 0);
    }
    STATUS_OK
}

fn msg_flags(frame_finished: bool, message_finished: bool) -> u32 {
    (if frame_finished { FLAG_FRAME_FINISHED } else { 0 }) | (if message_finished { FLAG_MESSAGE_FINISHED } else { 0 })
}

fn body_flag(set: bool) -> u32 {
    if set {
        FLAG_BODY
    } else {
        0
    }
}

/// wsproto's `ConnectionState` values.
fn state_code(state: ConnectionState) -> u32 {
    match state {
        ConnectionState::Connecting => 0,
        ConnectionState::Open => 1,
        ConnectionState::RemoteClosing => 2,
        ConnectionState::LocalClosing => 3,
        ConnectionState::Closed => 4,
        ConnectionState::Rejecting => 5,
    }
}

/// The event described by a blob, and the permessage-deflate handlers it
/// carries (a Request's offers, to remember).
fn decode_handshake(
    kind: u32,
    blob: &[u8],
    status: u32,
    has_body: bool,
) -> Result<(Event, Vec<PerMessageDeflate>), LocalProtocolError> {
    let mut r = Reader::new(blob);
    let mut handlers = Vec::new();
    let event = match kind {
        KIND_REQUEST => {
            let host = r.string()?;
            let target = r.string()?;
            let subprotocols = r.strings()?;
            let extensions = r.strings()?;
            handlers = r.handlers()?;
            Event::Request(Request {
                host,
                target,
                subprotocols,
                extensions,
                handlers: boxed(&handlers),
                extra_headers: r.headers()?,
            })
        }
        KIND_ACCEPT => {
            let mut subprotocol = r.strings()?;
            let extensions = r.strings()?;
            handlers = r.handlers()?;
            Event::AcceptConnection(AcceptConnection {
                subprotocol: subprotocol.pop(),
                extensions,
                handlers: boxed(&handlers),
                extra_headers: r.headers()?,
            })
        }
        KIND_REJECT => Event::RejectConnection(RejectConnection {
            status_code: u16::try_from(status)
                .map_err(|_| LocalProtocolError::new(format!("status code {status} is not a valid HTTP status")))?,
            headers: r.headers()?,
            has_body,
        }),
        _ => return Err(LocalProtocolError::new(format!("unknown handshake event kind {kind}"))),
    };
    if !r.rest().is_empty() {
        return Err(malformed());
    }
    Ok((event, handlers))
}

fn boxed(handlers: &[PerMessageDeflate]) -> Vec<Box<dyn Extension>> {
    handlers.iter().map(|h| Box::new(h.clone()) as Box<dyn Extension>).collect()
}

/// A whole list(handler) blob.
fn read_handler_list(blob: &[u8]) -> Result<Vec<PerMessageDeflate>, LocalProtocolError> {
    let mut r = Reader::new(blob);
    let handlers = r.handlers()?;
    if !r.rest().is_empty() {
        return Err(malformed());
    }
    Ok(handlers)
}

/// An extension of a frame-only connection, in the negotiated state that
/// `config` describes: the core negotiates it against the response it
/// stands for (every parameter explicit, unset window bits 15), as the
/// handshake would have.
fn established(role: ConnectionType, config: PerMessageDeflate) -> Box<dyn Extension> {
    let mut element = String::from(DEFLATE);
    if config.server_no_context_takeover {
        element.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        element.push_str("; client_no_context_takeover");
    }
    let server_bits = config.server_max_window_bits.unwrap_or(15);
    let client_bits = config.client_max_window_bits.unwrap_or(15);
    element.push_str(&format!("; server_max_window_bits={server_bits}; client_max_window_bits={client_bits}"));
    let mut ext = PerMessageDeflate::new();
    ext.compression_threshold = config.compression_threshold;
    ext.compression_level = config.compression_level;
    ext.keep_compressor = config.keep_compressor;
    // Both succeed: the element is well formed and asks for nothing the
    // fresh extension refuses (window bits were checked to be 8-15).
    match role {
        ConnectionType::Client => {
            let _ = ext.finalize(&element);
        }
        ConnectionType::Server => {
            let _ = ext.accept(&element);
        }
    }
    Box::new(ext)
}

/// Client: what the server's accepted elements negotiated for the
/// permessage-deflate offered, worked out as the core did (a clone of the
/// offered configuration finalized with the element): the agreed values,
/// every one set.
fn negotiated_handlers(accepted: &[String], offered: &[PerMessageDeflate]) -> Vec<PerMessageDeflate> {
    let Some(config) = offered.first() else {
        return Vec::new();
    };
    accepted
        .iter()
        .filter(|element| element.split(';').next().unwrap_or("").trim() == DEFLATE)
        .filter_map(|element| {
            let mut ext = config.clone();
            ext.finalize(element).ok()?;
            let n = ext.negotiated()?;
            let mut agreed = PerMessageDeflate::new();
            agreed.client_no_context_takeover = n.client_no_context_takeover;
            agreed.server_no_context_takeover = n.server_no_context_takeover;
            agreed.client_max_window_bits = Some(n.client_max_window_bits);
            agreed.server_max_window_bits = Some(n.server_max_window_bits);
            agreed.compression_threshold = config.compression_threshold;
            agreed.compression_level = config.compression_level;
            agreed.keep_compressor = config.keep_compressor;
            Some(agreed)
        })
        .collect()
}

fn malformed() -> LocalProtocolError {
    LocalProtocolError::new("malformed event passed to the wasm binding")
}

/// Reads blobs written by api.js; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn new(blob: &'a [u8]) -> Self {
        Reader(blob)
    }
    fn rest(&self) -> &'a [u8] {
        self.0
    }
    fn u32(&mut self) -> Result<usize, LocalProtocolError> {
        match self.0 {
            [a, b, c, d, rest @ ..] => {
                self.0 = rest;
                Ok(u32::from_le_bytes([*a, *b, *c, *d]) as usize)
            }
            _ => Err(malformed()),
        }
    }
    fn bytes(&mut self) -> Result<Vec<u8>, LocalProtocolError> {
        let len = self.u32()?;
        if len > self.0.len() {
            return Err(malformed());
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head.to_vec())
    }
    fn string(&mut self) -> Result<String, LocalProtocolError> {
        String::from_utf8(self.bytes()?).map_err(|_| LocalProtocolError::new("string is not valid UTF-8"))
    }
    fn strings(&mut self) -> Result<Vec<String>, LocalProtocolError> {
        let count = self.u32()?;
        // Each item takes at least 4 bytes: a count cannot make us allocate
        // more than the blob justifies.
        let mut items = Vec::with_capacity(count.min(self.0.len() / 4));
        for _ in 0..count {
            items.push(self.string()?);
        }
        Ok(items)
    }
    fn handlers(&mut self) -> Result<Vec<PerMessageDeflate>, LocalProtocolError> {
        let count = self.u32()?;
        // Each item takes at least 24 bytes (see `strings`).
        let mut items = Vec::with_capacity(count.min(self.0.len() / 24));
        for _ in 0..count {
            items.push(self.handler()?);
        }
        Ok(items)
    }
    fn handler(&mut self) -> Result<PerMessageDeflate, LocalProtocolError> {
        let name = self.string()?;
        if name != DEFLATE {
            return Err(LocalProtocolError::new(format!("unknown extension {name}")));
        }
        let flags = self.u32()? as u32;
        let client_bits = self.window_bits("clientMaxWindowBits")?;
        let server_bits = self.window_bits("serverMaxWindowBits")?;
        let threshold = self.u32()?;
        let level = self.u32()?;
        if level > 9 {
            return Err(LocalProtocolError::new(format!("compressionLevel must be between 0 and 9, not {level}")));
        }
        let mut ext = PerMessageDeflate::new();
        ext.client_no_context_takeover = flags & DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER != 0;
        ext.server_no_context_takeover = flags & DEFLATE_SERVER_NO_CONTEXT_TAKEOVER != 0;
        ext.keep_compressor = flags & DEFLATE_KEEP_COMPRESSOR != 0;
        ext.client_max_window_bits = client_bits;
        ext.server_max_window_bits = server_bits;
        ext.compression_threshold = threshold;
        ext.compression_level = level as u8;
        Ok(ext)
    }
    fn window_bits(&mut self, what: &str) -> Result<Option<u8>, LocalProtocolError> {
        match self.u32()? {
            v if v == BITS_UNSET as usize => Ok(None),
            v @ 8..=15 => Ok(Some(v as u8)),
            v => Err(LocalProtocolError::new(format!("{what} must be between 8 and 15, not {v}"))),
        }
    }
    fn headers(&mut self) -> Result<Headers, LocalProtocolError> {
        let count = self.u32()?;
        let mut items = Vec::with_capacity(count.min(self.0.len() / 8));
        for _ in 0..count {
            let name = self.bytes()?;
            items.push((name, self.bytes()?));
        }
        Ok(items)
    }
}

/// Writes blobs for api.js.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len());
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn strings(&mut self, items: &[String]) {
        self.u32(items.len());
        for s in items {
            self.string(s);
        }
    }
    fn handler(&mut self, h: &PerMessageDeflate) {
        self.string(DEFLATE);
        let mut flags = 0;
        if h.client_no_context_takeover {
            flags |= DEFLATE_CLIENT_NO_CONTEXT_TAKEOVER;
        }
        if h.server_no_context_takeover {
            flags |= DEFLATE_SERVER_NO_CONTEXT_TAKEOVER;
        }
        if h.keep_compressor {
            flags |= DEFLATE_KEEP_COMPRESSOR;
        }
        self.u32(flags as usize);
        for bits in [h.client_max_window_bits, h.server_max_window_bits] {
            self.u32(bits.map_or(BITS_UNSET as usize, usize::from));
        }
        self.u32(h.compression_threshold);
        self.u32(usize::from(h.compression_level));
    }
    fn headers(&mut self, headers: &Headers) {
        self.u32(headers.len());
        for (name, value) in headers {
            self.bytes(name);
            self.bytes(value);
        }
    }
}
