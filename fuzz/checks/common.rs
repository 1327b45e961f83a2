//! Shared by the fuzz targets: the input layout, chunked feeding, a toy
//! extension, and the `Checker` that asserts the invariants every stream of
//! received events must keep.
//!
//! Input layout for the byte-oriented targets (`handshake`, `frames`):
//!
//! ```text
//! byte 0        flags (meaning per target)
//! byte 1        low 4 bits: n = number of chunk sizes (0..=15);
//!               high 4 bits: more flags (per target)
//! 2n bytes      chunk sizes, u16 little-endian, used in a cycle
//!               (0 = an empty receive_data call, then one byte)
//! rest          the bytes fed to the connection
//! ```
//!
//! With n = 0 the bytes are fed in one call. Missing bytes read as 0.
#![allow(dead_code)]

use wsproto::close::{self, is_valid_received_code};
use wsproto::events::{CloseConnection, Event};
use wsproto::extensions::Extension;
use wsproto::{Error, LocalProtocolError, Opcode, ParseFailed, Rsv};

/// Whether WSPROTO_FUZZ_DEBUG is set: the targets then print what each
/// input did (for checking seeds and reading crash artifacts).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("WSPROTO_FUZZ_DEBUG").is_some())
}

/// The decoded input layout.
pub struct Input<'a> {
    pub flags: u8,
    /// The high 4 bits of byte 1 (more flags).
    pub more: u8,
    pub sizes: Vec<usize>,
    pub payload: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let flags = data.first().copied().unwrap_or(0);
        let byte1 = data.get(1).copied().unwrap_or(0);
        let n = usize::from(byte1 & 0x0F);
        let mut pos = 2.min(data.len());
        let mut sizes = Vec::with_capacity(n);
        for _ in 0..n {
            let lo = data.get(pos).copied().unwrap_or(0);
            let hi = data.get(pos + 1).copied().unwrap_or(0);
            sizes.push(usize::from(u16::from_le_bytes([lo, hi])));
            pos = (pos + 2).min(data.len());
        }
        Input { flags, more: byte1 >> 4, sizes, payload: &data[pos..] }
    }

    /// Splits the payload into the chunks to feed, in order. An empty
    /// chunk stands for an empty `receive_data(Some(b""))` call.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self.payload;
        if self.sizes.is_empty() {
            out.push(rest);
            return out;
        }
        let mut i = 0;
        while !rest.is_empty() {
            let size = self.sizes[i % self.sizes.len()];
            i += 1;
            let take = if size == 0 {
                out.push(&rest[..0]);
                1
            } else {
                size.min(rest.len())
            };
            let (piece, tail) = rest.split_at(take);
            out.push(piece);
            rest = tail;
        }
        out
    }
}

/// A toy "compressing" extension, to drive the extension paths of the
/// frame code: it claims RSV1, and a frame with RSV1 set "inflates" to
/// every byte twice, failing with 1009 if that would exceed the limit it is
/// given (as a real inflater must). Offers are accepted unless they
/// contain "decline"; the server's response is refused if it contains "bad".
#[derive(Clone, Debug, Default)]
pub struct Doubler {
    active: bool,
    produced: u64,
}

impl Extension for Doubler {
    fn name(&self) -> &str {
        "x-double"
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
    fn offer(&self) -> String {
        "level=2".into()
    }
    fn accept(&mut self, offer: &str) -> Option<String> {
        (!offer.contains("decline")).then(|| "level=2".to_owned())
    }
    fn finalize(&mut self, response: &str) -> Result<(), String> {
        if response.contains("bad") {
            Err(format!("x-double refuses {response:?}"))
        } else {
            Ok(())
        }
    }
    fn frame_inbound_header(&mut self, opcode: Opcode, rsv: Rsv, _len: u64) -> Result<Rsv, ParseFailed> {
        if opcode.is_control() {
            return Ok(Rsv::NONE);
        }
        if opcode != Opcode::Continuation {
            self.active = rsv.rsv1;
            self.produced = 0;
        }
        Ok(Rsv { rsv1: true, ..Rsv::NONE })
    }
    fn frame_inbound_payload_data(&mut self, data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), ParseFailed> {
        if !self.active {
            out.extend_from_slice(data);
            return Ok(());
        }
        for &b in data {
            if out.len() as u64 + 2 > limit {
                // What fits goes out first, as the trait asks.
                if (out.len() as u64) < limit {
                    out.push(b);
                }
                return Err(ParseFailed { code: close::MESSAGE_TOO_BIG, reason: "x-double: too big".into() });
            }
            out.push(b);
            out.push(b);
            self.produced += 2;
        }
        Ok(())
    }
    fn frame_outbound(&mut self, opcode: Opcode, rsv: Rsv, data: Vec<u8>, _fin: bool) -> (Rsv, Vec<u8>) {
        // Never compresses: frames go out as they are, without RSV1.
        let _ = opcode;
        (rsv, data)
    }
}

/// A received event, normalised so that different chunkings compare equal:
/// a data frame's pieces are joined into one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Norm {
    Frame { text: bool, data: Vec<u8>, message_finished: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Other(Event),
}

/// Tracks a stream of received events and asserts the invariants.
#[derive(Debug)]
pub struct Checker {
    pub max_message: u64,
    /// Per-frame bound on delivered data (None when an extension may expand it).
    pub max_frame: Option<u64>,
    /// The open message's type (true = text) and its size so far.
    message: Option<bool>,
    message_len: u64,
    frame: Vec<u8>,
    frame_open: bool,
    /// A CloseConnection from the data (a close frame or a failure) was seen.
    pub closed_by_data: Option<u16>,
    /// `receive_data(None)` was called; how many 1006 events followed.
    eof: bool,
    eof_closes: usize,
    pub norm: Vec<Norm>,
}

impl Checker {
    pub fn new(max_message: u64, max_frame: Option<u64>) -> Checker {
        Checker {
            max_message,
            max_frame,
            message: None,
            message_len: 0,
            frame: Vec::new(),
            frame_open: false,
            closed_by_data: None,
            eof: false,
            eof_closes: 0,
            norm: Vec::new(),
        }
    }

    /// Call before `receive_data(None)`.
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Whether the last close came from a failure (so a partial frame was cut short).
    fn failed(&self) -> bool {
        matches!(self.norm.last(), Some(Norm::Close(code, reason))
            if matches!(*code, 1002 | 1007 | 1009 | 1011) && is_failure_reason(reason))
    }

    pub fn see(&mut self, event: Event) {
        if let Some(code) = self.closed_by_data {
            // After a close (frame or failure) only the EOF's 1006 may follow, once.
            match &event {
                Event::CloseConnection(c) if c.code == close::ABNORMAL_CLOSURE && self.eof && self.eof_closes == 0 => {
                    self.eof_closes += 1;
                    return;
                }
                other => panic!("event {other:?} after a close with code {code}"),
            }
        }
        match event {
            Event::TextMessage(m) => self.data(true, m.data.into_bytes(), m.frame_finished, m.message_finished),
            Event::BytesMessage(m) => self.data(false, m.data, m.frame_finished, m.message_finished),
            Event::Ping(p) => {
                assert!(p.payload.len() <= 125, "ping of {} bytes", p.payload.len());
                self.norm.push(Norm::Ping(p.payload));
            }
            Event::Pong(p) => {
                assert!(p.payload.len() <= 125, "pong of {} bytes", p.payload.len());
                self.norm.push(Norm::Pong(p.payload));
            }
            Event::CloseConnection(c) => {
                if c.code == close::ABNORMAL_CLOSURE {
                    assert!(self.eof, "1006 without EOF");
                    assert_eq!(self.eof_closes, 0, "two 1006 events");
                    assert_eq!(c.reason, "", "1006 with a reason");
                    self.eof_closes += 1;
                    self.closed_by_data = Some(c.code);
                    return;
                }
                assert!(
                    c.code == close::NO_STATUS_RCVD || is_valid_received_code(c.code),
                    "close event with code {}",
                    c.code
                );
                if c.code == close::NO_STATUS_RCVD {
                    assert_eq!(c.reason, "");
                }
                // A received reason fits in a control frame; our failure reasons are short too.
                assert!(c.reason.len() <= 123, "reason of {} bytes", c.reason.len());
                self.closed_by_data = Some(c.code);
                self.norm.push(Norm::Close(c.code, c.reason));
            }
            other => self.norm.push(Norm::Other(other)),
        }
    }

    fn data(&mut self, text: bool, data: Vec<u8>, frame_finished: bool, message_finished: bool) {
        assert!(!message_finished || frame_finished, "message finished inside a frame");
        match self.message {
            Some(open) => assert_eq!(open, text, "message type changed inside a message"),
            None => {
                self.message = Some(text);
                self.message_len = 0;
            }
        }
        // Pieces never exceed the limits, neither alone nor together.
        self.message_len += data.len() as u64;
        assert!(self.message_len <= self.max_message, "message of {} > {}", self.message_len, self.max_message);
        self.frame.extend_from_slice(&data);
        self.frame_open = true;
        if let Some(max_frame) = self.max_frame {
            assert!(self.frame.len() as u64 <= max_frame, "frame of {} > {}", self.frame.len(), max_frame);
        }
        if text {
            // Every piece of text ends on a code point.
            assert!(std::str::from_utf8(&self.frame).is_ok());
        }
        if frame_finished {
            self.norm.push(Norm::Frame { text, data: std::mem::take(&mut self.frame), message_finished });
            self.frame_open = false;
        }
        if message_finished {
            self.message = None;
        }
    }

    /// The normalised stream: complete frames, control events and the close,
    /// plus the unfinished frame's data unless a failure cut it short.
    pub fn finish(mut self) -> Vec<Norm> {
        if self.frame_open && !self.failed() {
            let text = self.message == Some(true);
            self.norm.push(Norm::Frame { text, data: std::mem::take(&mut self.frame), message_finished: false });
        }
        // Otherwise the data of a frame cut short by a failure is dropped:
        // how much of it was delivered before the failure depends on the chunking.
        self.norm
    }
}

/// Whether a close reason is one of the engine's own failure reasons
/// (rather than a reason the peer sent).
fn is_failure_reason(reason: &str) -> bool {
    const REASONS: &[&str] = &[
        "Invalid opcode",
        "Invalid attempt to fragment control frame",
        "Control frame with payload len > 125",
        "client received unexpected masked frame",
        "server received unexpected unmasked frame",
        "Payload length used",
        "8-byte payload length with non-zero MSB",
        "Reserved bit set unexpectedly",
        "unexpected CONTINUATION",
        "expected CONTINUATION",
        "frame of ",
        "message exceeds the size limit",
        "invalid UTF-8 in text message",
        "CLOSE with",
        "remote CLOSE with",
        "CLOSE reason is not valid UTF-8",
        "x-double: too big",
        "invalid compressed data",
        "RSV1 set on a",
    ];
    REASONS.iter().any(|r| reason.starts_with(r))
}

/// `receive_data` may only fail once the connection is CLOSED (and then
/// with exactly this message), or during the handshake with a remote error.
pub fn expect_closed_error(result: Result<(), Error>, closed: bool) {
    match result {
        Ok(()) => {}
        Err(Error::Local(e)) => {
            assert!(closed, "local error while not closed: {e}");
            assert_eq!(e, LocalProtocolError::new("Connection already closed."));
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

/// Replying to a received close must always be possible while the state
/// allows a close at all.
pub fn close_reply(close: &CloseConnection) -> Event {
    Event::CloseConnection(close.response())
}
