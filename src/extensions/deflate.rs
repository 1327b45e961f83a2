//! permessage-deflate (RFC 7692): messages compressed with DEFLATE,
//! negotiated in the opening handshake.
//!
//! Backend: zlib-rs, used directly. It is the one pure-Rust deflate crate
//! that compresses with the window the peer negotiated (`miniz_oxide` always
//! uses 32 KiB, which is correct only when 15 bits are agreed for our
//! direction, and peers such as Python `websockets` ask for 12 by default).
//! Using it without flate2 also lets us lower `memLevel`, which saves
//! ~100 KiB per compressor at no measurable cost in ratio. Measured (issue
//! 4): +99 KiB of .wasm after wasm-bindgen (+45 KiB gzipped) against +43
//! KiB for `miniz_oxide`; in V8 it inflates 2-6x faster than `miniz_oxide`
//! and compresses at about the same speed.
//!
//! Safety properties:
//! - Inflation is bounded while it runs: the output buffer never grows past
//!   the limit the protocol passes plus one byte, so a bomb fails with 1009
//!   having used about `limit` bytes, not the size it would inflate to.
//! - A control frame between the fragments of a compressed message touches
//!   no inflation state (Python wsproto's implementation loses track there).
//! - Header parsing is a single left-to-right scan: linear on any input.
//! - Under context takeover our compressor only refers back to what the
//!   peer's window holds: the history (the next compressor's dictionary)
//!   takes only what was sent compressed (not messages under
//!   `compression_threshold`), at most the negotiated window.

use crate::close::{INTERNAL_ERROR, INVALID_FRAME_PAYLOAD_DATA, MESSAGE_TOO_BIG, PROTOCOL_ERROR};
use crate::error::ParseFailed;
use crate::extensions::Extension;
use crate::frame::{Opcode, Rsv};
use std::fmt;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Status};

const NAME: &str = "permessage-deflate";

/// The empty stored block that ends a sync flush: stripped from every
/// compressed message (RFC 7692 section 7.2.1), appended on receipt (7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The LZ77 window range RFC 7692 allows (section 7.1.2).
const MIN_WINDOW_BITS: u8 = 8;
const MAX_WINDOW_BITS: u8 = 15;

/// zlib, and zlib-rs after it, cannot make raw deflate with a 256-byte
/// window (it silently used 512 before zlib 1.2.9 and refuses it since).
///
/// - Inflating: a 512-byte window decodes any stream made with 256 bytes,
///   so 8 is inflated with 9, which is correct.
/// - Compressing: a window larger than the negotiated one is not allowed
///   (RFC 7692 7.1.2.1/7.1.2.2: the peer may allocate only 256 bytes).
///   So when 8 bits were agreed for our direction, every message is sent
///   uncompressed, which RFC 7692 section 6 allows (RSV1 marks each
///   compressed message; any message may go without it). The offer is
///   still accepted, so the peer's messages to us stay compressed.
const MIN_CODEC_WINDOW_BITS: u8 = 9;

/// zlib's memLevel for the compressor: 5 (as Python `websockets` chose)
/// instead of 8 cuts its buffers from 112 KiB to 14 KiB; the measured ratio
/// difference on JSON-like text is 0.1%.
const MEM_LEVEL: i32 = 5;

/// Smallest output step while inflating, so 1-byte feeds stay cheap.
const MIN_INFLATE_STEP: usize = 1024;

/// Context takeover without keeping the compressor (the default, see
/// [`PerMessageDeflate::keep_compressor`]): the last this-many bytes sent
/// compressed (at most the window) are kept, and preset as the dictionary
/// of the next message's compressor. 4 KiB is the context a 12-bit window
/// gives, Python `websockets`' default, and the ratio is about as good
/// (`deflate_report` in tests/deflate.rs: 13% more bytes than a kept
/// 15-bit compressor on a stream of small JSON messages, 7% on 16 KiB JSON
/// documents; 2.5 times fewer than without context takeover on the small
/// messages), for 4 KiB per connection instead of ~270 KiB.
const HISTORY: usize = 4 * 1024;

/// The permessage-deflate extension (RFC 7692), Python wsproto's
/// `PerMessageDeflate`.
///
/// The four negotiation parameters are public fields. On a client they are
/// what is offered; on a server they are what is required of or granted to
/// the client (see [`PerMessageDeflate::accept`]). Window bits are 8 to 15
/// (values outside are clamped). The extension does nothing until the
/// handshake negotiated it: `accept` (server) or `finalize` (client), which
/// [`crate::WSConnection`] calls, also tells it which side it is on. The
/// defaults negotiate as wsproto's do: context takeover both ways, 15-bit
/// windows (a client offers `permessage-deflate; client_max_window_bits`, a
/// server answers a bare `permessage-deflate`).
///
/// Memory: the inflater and compressor are created on first use. zlib-rs's
/// compressor takes ~270 KiB whatever the window (a fixed 128 KiB hash
/// table, the window and its chains), so by default it is freed after
/// every message, and context takeover is kept with the last 4 KiB sent,
/// preset as the next compressor's dictionary (see
/// [`PerMessageDeflate::keep_compressor`]). Measured per connection that
/// sent and received messages, with context takeover both ways: 52 KiB by
/// default (the inflater's 47 KiB, which must keep the peer's window, and
/// the 4 KiB history; 48 KiB with 9-bit windows); 320 KiB with
/// `keep_compressor` (194 KiB with 9-bit windows); under 1 KiB between
/// messages without context takeover both ways. Sending a message takes
/// a compressor while it is compressed: ~300 KiB at peak (190 KiB with
/// 12-bit windows), freed after it.
///
/// ```
/// use wsproto::events::{AcceptConnection, Event, Request, TextMessage};
/// use wsproto::extensions::PerMessageDeflate;
/// use wsproto::{ConnectionType, WSConnection};
///
/// let mut client = WSConnection::new(ConnectionType::Client);
/// let mut server = WSConnection::new(ConnectionType::Server);
///
/// // The client offers deflate; by default it lets the server pick its window.
/// let offer = PerMessageDeflate::new();
/// let request = Request { host: "example.com".into(), target: "/".into(), handlers: vec![Box::new(offer)], ..Default::default() };
/// server.receive_data(Some(&client.send(request.into())?))?;
/// let Some(Event::Request(request)) = server.next_event() else { unreachable!() };
/// assert_eq!(request.extensions, ["permessage-deflate; client_max_window_bits"]);
///
/// // The server accepts with its own settings: limit the client's window to
/// // 10 bits, and keep its compressor between messages (more memory, the
/// // best ratio).
/// let mut ours = PerMessageDeflate::new();
/// ours.client_max_window_bits = Some(10);
/// ours.keep_compressor = true;
/// let accept = AcceptConnection { handlers: vec![Box::new(ours)], ..Default::default() };
/// client.receive_data(Some(&server.send(accept.into())?))?;
/// let Some(Event::AcceptConnection(accepted)) = client.next_event() else { unreachable!() };
/// assert_eq!(accepted.extensions, ["permessage-deflate; client_max_window_bits=10"]);
///
/// // Messages are compressed: RFC 7692 section 7.2.3.1's "Hello", RSV1
/// // set, then 7.2.3.2's, which refers back to the first.
/// let bytes = server.send(TextMessage::new("Hello").into())?;
/// assert_eq!(bytes, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
/// client.receive_data(Some(&bytes))?;
/// assert_eq!(client.next_event(), Some(Event::TextMessage(TextMessage::new("Hello"))));
/// let bytes = server.send(TextMessage::new("Hello").into())?;
/// assert_eq!(bytes, [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
///
/// // The client, with default settings, compresses each message with a new
/// // compressor primed with what it sent before.
/// let bytes = client.send(TextMessage::new("Hello").into())?;
/// assert_eq!(bytes[..2], [0xc1, 0x87]); // FIN + RSV1 + text; masked, 7 bytes
/// # Ok::<(), wsproto::Error>(())
/// ```
pub struct PerMessageDeflate {
    /// Client: offer not to use context takeover. Server: require it of the client.
    pub client_no_context_takeover: bool,
    /// Client: the largest window it will compress with (`None`: offer the
    /// parameter without a value, letting the server choose). Server: the
    /// window to impose on a client that supports the parameter (`None`:
    /// whatever the client offered, else 15).
    pub client_max_window_bits: Option<u8>,
    /// Client: ask the server not to use context takeover. Server: do not use it.
    pub server_no_context_takeover: bool,
    /// Client: ask the server to compress with at most this window (`None`:
    /// do not ask). Server: the largest window it compresses with (`None`:
    /// whatever the client asked for, else 15).
    pub server_max_window_bits: Option<u8>,
    /// Messages shorter than this many bytes are sent uncompressed.
    /// Default 0: every message is compressed, as in wsproto and
    /// `websockets`, which also keeps the shared window fed with every
    /// message under context takeover (`ws` uses 1024 to save CPU on small
    /// messages). It applies to messages sent whole; one sent in
    /// fragments is always compressed, its size being unknown when the
    /// first fragment goes out.
    pub compression_threshold: usize,
    /// zlib compression level, 0 (store) to 9 (best). Default 6, zlib's
    /// default, as used by wsproto, `ws` and `websockets`; 1 compresses
    /// about 4x faster for a ~25% larger output.
    pub compression_level: u8,
    /// Keep the compressor between messages when our direction uses context
    /// takeover. Default `false`: the compressor (~270 KiB in zlib-rs,
    /// whatever the window) is freed after each message and the next one is
    /// primed with the last 4 KiB sent, so context takeover still works (the
    /// negotiation is unchanged) for 4 KiB per connection. `true`: the
    /// whole window (up to 32 KiB) serves as context, about 10% fewer bytes
    /// on streams of small similar messages and half the CPU per small
    /// message (not for large ones: 16 KiB JSON documents compress 1.5x
    /// slower against a full window), for ~270 KiB per connection. Either way nothing changes on the wire but
    /// the bytes: this concerns our own compressor only.
    pub keep_compressor: bool,
    negotiated: Option<Negotiated>,
    inflater: Option<Inflate>,
    deflater: Option<Deflate>,
    /// Outbound, context takeover without a kept compressor: the end of
    /// what the peer's inflater holds in its window (see [`HISTORY`]).
    history: Vec<u8>,
    /// Inbound: whether the message being received is compressed (`None`
    /// between messages). Set by a data frame's header only.
    in_compressed: Option<bool>,
    /// Inbound: compressed payload bytes arrived for this message.
    in_payload_seen: bool,
    /// Inbound: a block with BFINAL set ended the deflate stream.
    in_stream_ended: bool,
    /// Outbound: the unfinished message being sent is compressed.
    out_compressing: bool,
}

/// The parameters both sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Whether this end is the client.
    pub is_client: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client's LZ77 window, 8 to 15 bits.
    pub client_max_window_bits: u8,
    /// The server's LZ77 window, 8 to 15 bits.
    pub server_max_window_bits: u8,
}

impl Negotiated {
    /// The window the peer compresses with.
    fn inbound_bits(self) -> u8 {
        if self.is_client {
            self.server_max_window_bits
        } else {
            self.client_max_window_bits
        }
    }
    /// The window we must compress with.
    fn outbound_bits(self) -> u8 {
        if self.is_client {
            self.client_max_window_bits
        } else {
            self.server_max_window_bits
        }
    }
    fn inbound_no_context_takeover(self) -> bool {
        if self.is_client {
            self.server_no_context_takeover
        } else {
            self.client_no_context_takeover
        }
    }
    fn outbound_no_context_takeover(self) -> bool {
        if self.is_client {
            self.client_no_context_takeover
        } else {
            self.server_no_context_takeover
        }
    }
}

impl Default for PerMessageDeflate {
    /// wsproto's defaults: context takeover both ways, 15-bit windows.
    fn default() -> Self {
        PerMessageDeflate {
            client_no_context_takeover: false,
            client_max_window_bits: None,
            server_no_context_takeover: false,
            server_max_window_bits: None,
            compression_threshold: 0,
            compression_level: 6,
            keep_compressor: false,
            negotiated: None,
            inflater: None,
            deflater: None,
            history: Vec::new(),
            in_compressed: None,
            in_payload_seen: false,
            in_stream_ended: false,
            out_compressing: false,
        }
    }
}

/// Copies the settings and the negotiated parameters, not the compression
/// contexts (zlib state cannot be copied): clone before messages flow.
impl Clone for PerMessageDeflate {
    fn clone(&self) -> Self {
        PerMessageDeflate {
            client_no_context_takeover: self.client_no_context_takeover,
            client_max_window_bits: self.client_max_window_bits,
            server_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.server_max_window_bits,
            compression_threshold: self.compression_threshold,
            compression_level: self.compression_level,
            keep_compressor: self.keep_compressor,
            negotiated: self.negotiated,
            ..PerMessageDeflate::default()
        }
    }
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("client_no_context_takeover", &self.client_no_context_takeover)
            .field("client_max_window_bits", &self.client_max_window_bits)
            .field("server_no_context_takeover", &self.server_no_context_takeover)
            .field("server_max_window_bits", &self.server_max_window_bits)
            .field("compression_threshold", &self.compression_threshold)
            .field("compression_level", &self.compression_level)
            .field("keep_compressor", &self.keep_compressor)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl PerMessageDeflate {
    /// The extension with default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The agreed parameters, once `accept` or `finalize` succeeded.
    #[must_use]
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    fn set_negotiated(&mut self, negotiated: Negotiated) {
        *self = PerMessageDeflate { negotiated: Some(negotiated), ..self.clone() };
    }

    /// Whether the compressor lives from one message to the next.
    fn keeps_compressor(&self, negotiated: Negotiated) -> bool {
        self.keep_compressor && !negotiated.outbound_no_context_takeover()
    }

    /// Compresses one frame of a message.
    fn deflate(&mut self, negotiated: Negotiated, data: &[u8], fin: bool) -> Vec<u8> {
        let level = i32::from(self.compression_level.min(9));
        let bits = negotiated.outbound_bits();
        let history = &self.history;
        let deflater = self.deflater.get_or_insert_with(|| {
            let mut deflater = Deflate::new_with_config(DeflateConfig {
                level,
                // Negative: raw deflate, no zlib header (RFC 7692 7.2.1).
                window_bits: -i32::from(bits.clamp(MIN_CODEC_WINDOW_BITS, MAX_WINDOW_BITS)),
                mem_level: MEM_LEVEL,
                ..DeflateConfig::default()
            });
            // The peer's window ends with these bytes, so the message may
            // refer back into them. A fresh raw stream always takes a
            // dictionary; were it refused, no reference would go back
            // before the message, which is correct too.
            if !history.is_empty() {
                let _ = deflater.set_dictionary(history);
            }
            deflater
        });
        let compressed = sync_flush(deflater, data).and_then(|mut out| {
            if !fin {
                return Some(out);
            }
            // The peer appends the tail back (RFC 7692 7.2.1 step 2).
            let body = out.len().checked_sub(TAIL.len())?;
            (out.get(body..) == Some(&TAIL[..])).then(|| {
                out.truncate(body);
                out
            })
        });
        let out = match compressed {
            Some(out) => out,
            None => {
                // zlib-rs does not fail on valid settings; should it ever,
                // stored blocks still continue the stream correctly: every
                // frame so far ended on a byte-aligned block boundary, and
                // a new compressor only refers back to data it saw itself
                // or to the history, which the peer holds.
                self.deflater = None;
                stored_blocks(data, fin)
            }
        };
        if fin && !self.keeps_compressor(negotiated) {
            // Freed rather than reset: idle connections then hold nothing,
            // and a reset clears the same 128 KiB hash table a new one does.
            self.deflater = None;
        }
        out
    }

    /// Records `data`, just sent compressed, as the end of the peer's
    /// window: kept (its last [`HISTORY`] bytes, at most the window) when
    /// our direction uses context takeover without a kept compressor,
    /// dropped otherwise so that a stale history is never used.
    fn remember(&mut self, negotiated: Negotiated, data: &[u8]) {
        if negotiated.outbound_no_context_takeover() || self.keep_compressor {
            if self.history.capacity() > 0 {
                self.history = Vec::new();
            }
            return;
        }
        let bits = negotiated.outbound_bits().clamp(MIN_CODEC_WINDOW_BITS, MAX_WINDOW_BITS);
        let cap = HISTORY.min(1 << bits);
        if self.history.capacity() < cap {
            self.history.reserve_exact(cap - self.history.len());
        }
        let data = data.get(data.len().saturating_sub(cap)..).unwrap_or(data);
        let excess = (self.history.len() + data.len()).saturating_sub(cap);
        self.history.drain(..excess);
        self.history.extend_from_slice(data);
    }

    /// Inflates `input` into `out`, keeping `out.len() <= limit`.
    fn inflate(
        &mut self,
        negotiated: Negotiated,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), ParseFailed> {
        let bits = negotiated.inbound_bits().clamp(MIN_CODEC_WINDOW_BITS, MAX_WINDOW_BITS);
        let inflater = self.inflater.get_or_insert_with(|| Inflate::new(false, bits));
        if bounded_inflate(inflater, input, out, limit)? {
            self.in_stream_ended = true;
        }
        Ok(())
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &str {
        NAME
    }

    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }

    /// The client's offer: all four parameters as configured, with
    /// `client_max_window_bits` always present (without a value when not
    /// set) so the server may shrink our window, as browsers offer.
    fn offer(&self) -> String {
        let mut params = Vec::new();
        if self.server_no_context_takeover {
            params.push("server_no_context_takeover".to_owned());
        }
        if self.client_no_context_takeover {
            params.push("client_no_context_takeover".to_owned());
        }
        if let Some(bits) = self.server_max_window_bits {
            params.push(format!("server_max_window_bits={}", clamp_bits(bits)));
        }
        match self.client_max_window_bits {
            Some(bits) => params.push(format!("client_max_window_bits={}", clamp_bits(bits))),
            None => params.push("client_max_window_bits".to_owned()),
        }
        params.join("; ")
    }

    /// Server: answers an offer per RFC 7692 section 7.1, or declines an
    /// invalid one (unknown or repeated parameter, bad value).
    ///
    /// - `server_no_context_takeover`: in the response if offered or configured.
    /// - `client_no_context_takeover`: echoed if offered; added if configured.
    /// - `server_max_window_bits`: the smaller of the offered and configured
    ///   values, whichever exist (the server may always state its window).
    /// - `client_max_window_bits`: only if offered (else the client cannot
    ///   take it): the smaller of the offered value and the configured one.
    fn accept(&mut self, offer: &str) -> Option<String> {
        let offered = parse_element(offer, Side::Offer).ok()?;
        let server_no_context_takeover = offered.server_no_context_takeover || self.server_no_context_takeover;
        let client_no_context_takeover = offered.client_no_context_takeover || self.client_no_context_takeover;
        let server_bits = min_some(offered.server_max_window_bits, self.server_max_window_bits.map(clamp_bits));
        let client_bits = match offered.client_max_window_bits {
            None => None,
            Some(value) => min_some(value, self.client_max_window_bits.map(clamp_bits)),
        };
        let mut params = Vec::new();
        if server_no_context_takeover {
            params.push("server_no_context_takeover".to_owned());
        }
        if client_no_context_takeover {
            params.push("client_no_context_takeover".to_owned());
        }
        if let Some(bits) = server_bits {
            params.push(format!("server_max_window_bits={bits}"));
        }
        if let Some(bits) = client_bits {
            params.push(format!("client_max_window_bits={bits}"));
        }
        self.set_negotiated(Negotiated {
            is_client: false,
            client_no_context_takeover,
            server_no_context_takeover,
            client_max_window_bits: client_bits.unwrap_or(MAX_WINDOW_BITS),
            server_max_window_bits: server_bits.unwrap_or(MAX_WINDOW_BITS),
        });
        Some(params.join("; "))
    }

    /// Client: checks the server's response against the offer (RFC 7692
    /// section 7.1); an `Err` fails the handshake.
    fn finalize(&mut self, response: &str) -> Result<(), String> {
        let answer = parse_element(response, Side::Response)?;
        if self.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err(format!("{NAME}: server_no_context_takeover was requested but not accepted"));
        }
        let server_bits = match (self.server_max_window_bits.map(clamp_bits), answer.server_max_window_bits) {
            (Some(_), None) => return Err(format!("{NAME}: server_max_window_bits was requested but not accepted")),
            (Some(asked), Some(got)) if got > asked => {
                return Err(format!("{NAME}: server_max_window_bits={got} exceeds the {asked} requested"))
            }
            (_, got) => got.unwrap_or(MAX_WINDOW_BITS),
        };
        let asked_client_bits = self.client_max_window_bits.map(clamp_bits);
        let client_bits = match answer.client_max_window_bits.flatten() {
            Some(got) if asked_client_bits.is_some_and(|asked| got > asked) => {
                return Err(format!("{NAME}: client_max_window_bits={got} exceeds the value offered"))
            }
            Some(got) => got,
            None => asked_client_bits.unwrap_or(MAX_WINDOW_BITS),
        };
        self.set_negotiated(Negotiated {
            is_client: true,
            client_no_context_takeover: self.client_no_context_takeover || answer.client_no_context_takeover,
            server_no_context_takeover: answer.server_no_context_takeover,
            client_max_window_bits: client_bits,
            server_max_window_bits: server_bits,
        });
        Ok(())
    }

    fn frame_inbound_header(&mut self, opcode: Opcode, rsv: Rsv, _payload_len: u64) -> Result<Rsv, ParseFailed> {
        if self.negotiated.is_none() {
            return Ok(Rsv::NONE);
        }
        match opcode {
            Opcode::Text | Opcode::Binary => {
                self.in_compressed = Some(rsv.rsv1);
                self.in_payload_seen = false;
                self.in_stream_ended = false;
                Ok(Rsv { rsv1: true, ..Rsv::NONE })
            }
            // RFC 7692 section 6.1: RSV1 marks a message's first frame only.
            _ if rsv.rsv1 => Err(ParseFailed::new(
                PROTOCOL_ERROR,
                format!("RSV1 set on a {} frame", if opcode.is_control() { "control" } else { "continuation" }),
            )),
            // A control frame may sit between fragments: leave the message alone.
            _ => Ok(Rsv::NONE),
        }
    }

    fn frame_inbound_payload_data(&mut self, data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), ParseFailed> {
        match self.negotiated {
            Some(negotiated) if self.in_compressed == Some(true) => {
                if self.in_stream_ended || data.is_empty() {
                    // After a BFINAL block only our own tail is expected: ignore the rest.
                    return Ok(());
                }
                self.in_payload_seen = true;
                self.inflate(negotiated, data, out, limit)
            }
            _ => {
                out.extend_from_slice(data);
                Ok(())
            }
        }
    }

    fn frame_inbound_complete(&mut self, fin: bool, out: &mut Vec<u8>, limit: u64) -> Result<(), ParseFailed> {
        if !fin {
            return Ok(());
        }
        let compressed = self.in_compressed.take() == Some(true);
        let Some(negotiated) = self.negotiated.filter(|_| compressed) else {
            return Ok(());
        };
        // An empty payload is read as an empty message (some peers send
        // that instead of 0x00); the tail alone would leave the inflater
        // inside a stored block and corrupt the next message.
        if self.in_payload_seen && !self.in_stream_ended {
            self.inflate(negotiated, &TAIL, out, limit)?;
        }
        // After BFINAL the stream cannot continue: start the next message
        // afresh (a reference back into the old one then fails with 1007).
        if negotiated.inbound_no_context_takeover() || self.in_stream_ended {
            self.inflater = None;
        }
        Ok(())
    }

    fn frame_outbound(&mut self, opcode: Opcode, rsv: Rsv, data: Vec<u8>, fin: bool) -> (Rsv, Vec<u8>) {
        let Some(negotiated) = self.negotiated else {
            return (rsv, data);
        };
        match opcode {
            Opcode::Text | Opcode::Binary => {
                let compress = negotiated.outbound_bits() >= MIN_CODEC_WINDOW_BITS
                    && (!fin || data.len() >= self.compression_threshold);
                self.out_compressing = compress && !fin;
                if !compress {
                    return (rsv, data);
                }
                // Every message is sent compressed, even one that does not
                // shrink (as wsproto, ws and websockets do): RFC 7692
                // section 6 would allow it to go as it is, but some peers
                // mishandle an uncompressed message once deflate is agreed
                // (kosoku 0.1.0 fails Autobahn cases 12-13 on one).
                let out = self.deflate(negotiated, &data, fin);
                self.remember(negotiated, &data);
                (Rsv { rsv1: true, ..rsv }, out)
            }
            Opcode::Continuation if self.out_compressing => {
                self.out_compressing = !fin;
                let out = self.deflate(negotiated, &data, fin);
                self.remember(negotiated, &data);
                (rsv, out)
            }
            _ => (rsv, data),
        }
    }
}

/// Compresses `data` and sync-flushes (RFC 7692 7.2.1), so the frame ends on
/// a byte boundary with `00 00 ff ff`. `None` if zlib-rs reports an error.
fn sync_flush(deflater: &mut Deflate, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; data.len() / 4 + 64];
    let mut written = 0;
    let mut input = data;
    loop {
        let (in_before, out_before) = (deflater.total_in(), deflater.total_out());
        let result = deflater.compress(input, out.get_mut(written..)?, DeflateFlush::SyncFlush);
        let consumed = usize::try_from(deflater.total_in().saturating_sub(in_before)).ok()?;
        let produced = usize::try_from(deflater.total_out().saturating_sub(out_before)).ok()?;
        result.ok()?;
        input = input.get(consumed..)?;
        written += produced;
        // Space left over means the flush is complete (zlib's contract).
        if input.is_empty() && written < out.len() {
            break;
        }
        if consumed == 0 && produced == 0 && written < out.len() {
            return None;
        }
        let grow = out.len();
        out.resize(out.len() + grow, 0);
    }
    out.truncate(written);
    Some(out)
}

/// `data` as stored deflate blocks (RFC 1951 3.2.4), for the fallback.
/// A final frame ends with the header byte of the empty stored block whose
/// LEN/NLEN the peer appends as the tail.
fn stored_blocks(data: &[u8], fin: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 0xffff * 5 + 6);
    for block in data.chunks(0xffff) {
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    if fin {
        out.push(0x00);
    }
    out
}

/// Inflates `input` into `out` without letting `out.len()` pass `limit`:
/// the buffer offered to zlib holds at most one byte more than the limit,
/// so a bomb is caught on the byte that crosses it. Returns whether the
/// deflate stream ended (a BFINAL block); input after that is ignored.
fn bounded_inflate(
    inflater: &mut Inflate,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: u64,
) -> Result<bool, ParseFailed> {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    loop {
        if out.len() > cap {
            return Err(too_big());
        }
        let room = cap.saturating_add(1).saturating_sub(out.len());
        // Grow geometrically (amortized copies), never beyond the room, and
        // take all of it rather than leave a sliver: one more reallocation
        // near the limit would briefly hold twice the limit.
        let step = input.len().saturating_mul(4).max(out.len()).max(MIN_INFLATE_STEP);
        let step = if step.saturating_mul(2) > room { room } else { step };
        let start = out.len();
        out.reserve_exact(step);
        out.resize(start + step, 0);
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let result = inflater.decompress(input, out.get_mut(start..).unwrap_or_default(), InflateFlush::NoFlush);
        let consumed = usize::try_from(inflater.total_in().saturating_sub(in_before)).unwrap_or(usize::MAX);
        let produced = usize::try_from(inflater.total_out().saturating_sub(out_before)).unwrap_or(0).min(step);
        out.truncate(start + produced);
        input = input.get(consumed..).unwrap_or_default();
        match result {
            Ok(Status::StreamEnd) => return if out.len() > cap { Err(too_big()) } else { Ok(true) },
            Ok(_) => {}
            Err(err) => {
                let code = match err {
                    zlib_rs::InflateError::DataError | zlib_rs::InflateError::NeedDict { .. } => {
                        INVALID_FRAME_PAYLOAD_DATA
                    }
                    _ => INTERNAL_ERROR,
                };
                return Err(ParseFailed::new(code, format!("invalid compressed data: {}", err.as_str())));
            }
        }
        if out.len() > cap {
            return Err(too_big());
        }
        // A partly filled buffer means zlib ran out of input.
        if (produced < step && input.is_empty()) || (produced == 0 && consumed == 0) {
            return Ok(false);
        }
    }
}

fn too_big() -> ParseFailed {
    ParseFailed::new(MESSAGE_TOO_BIG, "message exceeds the size limit")
}

fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// The smaller of two optional values; `None` only if both are.
fn min_some(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// ---- header parsing ------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A client's offer: `client_max_window_bits` may come without a value.
    Offer,
    /// A server's response: every window size has a value.
    Response,
}

/// One element's parameters.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses `permessage-deflate *( ";" param [ "=" ( token | quoted-string ) ] )`
/// (RFC 6455 9.1, with optional whitespace around the separators) and
/// checks the parameters against RFC 7692 section 7.1. One pass, no
/// backtracking: linear in the input.
fn parse_element(element: &str, side: Side) -> Result<Params, String> {
    let mut cursor = Cursor { bytes: element.as_bytes(), pos: 0 };
    cursor.skip_whitespace();
    if cursor.token() != NAME.as_bytes() {
        return Err(format!("not a {NAME} element"));
    }
    let mut params = Params::default();
    loop {
        cursor.skip_whitespace();
        match cursor.bump() {
            None => return Ok(params),
            Some(b';') => {}
            Some(_) => return Err(format!("{NAME}: malformed parameters")),
        }
        cursor.skip_whitespace();
        let name = cursor.token();
        if name.is_empty() {
            return Err(format!("{NAME}: missing parameter name"));
        }
        cursor.skip_whitespace();
        let value = if cursor.peek() == Some(b'=') {
            cursor.bump();
            cursor.skip_whitespace();
            Some(cursor.value().ok_or_else(|| format!("{NAME}: malformed parameter value"))?)
        } else {
            None
        };
        params.set(name, value, side)?;
    }
}

impl Params {
    fn set(&mut self, name: &[u8], value: Option<Vec<u8>>, side: Side) -> Result<(), String> {
        // Names are tokens (ASCII), so this is lossless.
        let shown = String::from_utf8_lossy(name);
        let duplicate = || format!("{NAME}: duplicate parameter {shown}");
        let bad_value = || format!("{NAME}: invalid value for {shown}");
        match name {
            b"server_no_context_takeover" | b"client_no_context_takeover" => {
                let flag = if name == b"server_no_context_takeover" {
                    &mut self.server_no_context_takeover
                } else {
                    &mut self.client_no_context_takeover
                };
                if *flag {
                    return Err(duplicate());
                }
                if value.is_some() {
                    return Err(bad_value());
                }
                *flag = true;
            }
            b"server_max_window_bits" => {
                if self.server_max_window_bits.is_some() {
                    return Err(duplicate());
                }
                let bits = value.as_deref().and_then(window_bits).ok_or_else(bad_value)?;
                self.server_max_window_bits = Some(bits);
            }
            b"client_max_window_bits" => {
                if self.client_max_window_bits.is_some() {
                    return Err(duplicate());
                }
                self.client_max_window_bits = Some(match value {
                    None if side == Side::Offer => None,
                    None => return Err(bad_value()),
                    Some(value) => Some(window_bits(&value).ok_or_else(bad_value)?),
                });
            }
            _ => return Err(format!("{NAME}: unknown parameter {shown}")),
        }
        Ok(())
    }
}

/// "8" to "15": a decimal without leading zeros (RFC 7692 7.1.2.1), so
/// "08", "015", "+9" and "15 " are refused.
fn window_bits(value: &[u8]) -> Option<u8> {
    match value {
        [digit @ b'8'..=b'9'] => Some(digit - b'0'),
        [b'1', digit @ b'0'..=b'5'] => Some(10 + digit - b'0'),
        _ => None,
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The longest run of token characters (RFC 7230 tchar), maybe empty.
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// A token or a quoted string, unescaped; `None` if malformed or empty.
    fn value(&mut self) -> Option<Vec<u8>> {
        if self.peek() != Some(b'"') {
            let token = self.token().to_vec();
            return (!token.is_empty()).then_some(token);
        }
        self.bump();
        let mut value = Vec::new();
        loop {
            match self.bump()? {
                b'"' => return Some(value),
                b'\\' => value.push(self.bump().filter(|&b| is_qdtext(b) || b == b'"' || b == b'\\')?),
                b if is_qdtext(b) => value.push(b),
                _ => return None,
            }
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7230 qdtext: visible characters, space, tab and obs-text, not `"` or `\`.
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}
