//! The frame protocol: frames in, events out, and events in, frames out.
//!
//! Inbound bytes are parsed as they arrive. Only an incomplete frame header
//! (at most 14 bytes) or an incomplete control frame (at most 125 bytes) is
//! ever held; data payloads stream out as events with `frame_finished =
//! false` until the frame ends. A declared length is a number counted down,
//! never an allocation size.
//!
//! Events go to a [`Sink`]: the connection's event queue, or the wasm
//! binding's record table. Input is either read-only (payloads are unmasked
//! while copied out) or the caller's own buffer, unmasked in place, whose
//! pieces a sink may borrow without any copy (see [`Input`]).

use crate::close::{self, MESSAGE_TOO_BIG};
use crate::config::Config;
use crate::error::{LocalProtocolError, ParseFailed};
use crate::events::{BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage};
use crate::extensions::Extension;
use crate::frame::decode::{parse_header, FrameHeader, Status, MAX_HEADER_LEN};
use crate::frame::encode::{write_frame, write_frame_in_place};
use crate::frame::mask::{apply_mask, apply_mask_ascii, extend_masked};
use crate::frame::{Opcode, Rsv};
use crate::random::RandomSource;
use crate::utf8::Utf8Stream;
use std::borrow::Cow;
use std::collections::VecDeque;

/// A delivered piece of a data message: unmasked, inflated, and for text
/// validated; borrowed from the input when nothing had to be assembled.
#[derive(Debug)]
pub(crate) enum Piece<'a> {
    Bytes(Cow<'a, [u8]>),
    /// `ascii`: the text is known to be all ASCII (the binding hands such
    /// text to JS as Latin-1, without transcoding it).
    Text {
        text: Cow<'a, str>,
        #[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
        ascii: bool,
    },
}

/// Where the protocol delivers what it parsed, in order.
pub(crate) trait Sink {
    /// A piece of a text or binary message.
    fn message(&mut self, piece: Piece<'_>, frame_finished: bool, message_finished: bool);
    /// Any other event (control frames, failures).
    fn event(&mut self, event: Event);
}

/// The event queue of [`crate::Connection`]: pieces become owned events
/// (no copy when the piece is already owned).
impl Sink for VecDeque<Event> {
    fn message(&mut self, piece: Piece<'_>, frame_finished: bool, message_finished: bool) {
        self.push_back(match piece {
            Piece::Bytes(data) => {
                Event::BytesMessage(BytesMessage { data: data.into_owned(), frame_finished, message_finished })
            }
            Piece::Text { text, .. } => {
                Event::TextMessage(TextMessage { data: text.into_owned(), frame_finished, message_finished })
            }
        });
    }
    fn event(&mut self, event: Event) {
        self.push_back(event);
    }
}

/// The bytes being parsed.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    /// Read-only: payloads are copied out as they are unmasked (one pass).
    Shared(&'a [u8]),
    /// The caller's scratch buffer: payloads are unmasked in place and
    /// handed to the sink borrowed, so the sink may keep no copy at all.
    InPlace(&'a mut [u8]),
}

impl<'a> Input<'a> {
    fn bytes(&self) -> &[u8] {
        match self {
            Input::Shared(s) => s,
            Input::InPlace(s) => s,
        }
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }

    #[inline]
    fn advance(&mut self, n: usize) {
        match self {
            Input::Shared(s) => *s = &s[n..],
            Input::InPlace(s) => *s = &mut std::mem::take(s)[n..],
        }
    }

    /// Takes the next `n` payload bytes, unmasked with `mask` (key and the
    /// offset into the frame's payload). With `text`, also whether they are
    /// all ASCII when unmasking in place told it (at no extra pass).
    /// Always inlined: as a call (once per frame) it was about a sixth of
    /// the wasm time of a 16-byte frame, and the module is smaller without.
    #[inline(always)]
    fn take_payload(&mut self, n: usize, mask: Option<([u8; 4], u64)>, text: bool) -> (Cow<'a, [u8]>, Option<bool>) {
        match self {
            Input::Shared(s) => {
                let (head, rest) = s.split_at(n);
                *s = rest;
                match mask {
                    Some((key, offset)) => {
                        let mut chunk = Vec::with_capacity(n);
                        extend_masked(&mut chunk, head, key, offset);
                        (Cow::Owned(chunk), None)
                    }
                    None => (Cow::Borrowed(head), None),
                }
            }
            Input::InPlace(s) => {
                let (head, rest) = std::mem::take(s).split_at_mut(n);
                *s = rest;
                let ascii = match mask {
                    Some((key, offset)) if text => Some(apply_mask_ascii(head, key, offset)),
                    Some((key, offset)) => {
                        apply_mask(head, key, offset);
                        None
                    }
                    None => None,
                };
                (Cow::Borrowed(head), ascii)
            }
        }
    }
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct InFrame {
    header: FrameHeader,
    /// Payload bytes read so far (the mask offset).
    read: u64,
}

impl InFrame {
    fn remaining(&self) -> u64 {
        self.header.payload_len - self.read
    }
}

/// What `receive` saw that changes the connection's state.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Nothing that changes the state.
    Nothing,
    /// A close frame arrived.
    Close,
}

#[derive(Debug)]
pub(crate) struct FrameProtocol {
    client: bool,
    max_message_size: u64,
    max_frame_size: u64,
    extensions: Vec<Box<dyn Extension>>,
    // ---- inbound ----
    /// An incomplete frame header carried between calls.
    stash: [u8; MAX_HEADER_LEN],
    stash_len: usize,
    /// Whether the stashed header was already judged by `begin_frame`.
    header_judged: bool,
    frame: Option<InFrame>,
    /// The payload of an incomplete control frame.
    control: Vec<u8>,
    /// The type (Text or Binary) of the message being received.
    message: Option<Opcode>,
    message_size: u64,
    utf8: Utf8Stream,
    /// After a close frame or a failure, further bytes are ignored.
    stopped: bool,
    // ---- outbound ----
    /// The type of the message being sent in fragments.
    out_message: Option<Opcode>,
}

impl FrameProtocol {
    pub(crate) fn new(client: bool, extensions: Vec<Box<dyn Extension>>, config: &Config) -> Self {
        FrameProtocol {
            client,
            max_message_size: config.max_message_size,
            max_frame_size: config.max_frame_size,
            extensions,
            stash: [0; MAX_HEADER_LEN],
            stash_len: 0,
            header_judged: false,
            frame: None,
            control: Vec::new(),
            message: None,
            message_size: 0,
            utf8: Utf8Stream::default(),
            stopped: false,
            out_message: None,
        }
    }

    /// The extensions in use.
    pub(crate) fn extensions(&self) -> &[Box<dyn Extension>] {
        &self.extensions
    }

    /// Parses everything in `input`, appending events. A protocol failure
    /// becomes a `CloseConnection` event with its code, and parsing stops.
    pub(crate) fn receive(&mut self, mut input: Input<'_>, sink: &mut dyn Sink) -> Received {
        while !self.stopped {
            match self.step(&mut input, sink) {
                Ok(Step::More) => {}
                Ok(Step::NeedData) => break,
                Ok(Step::Closed) => {
                    self.stopped = true;
                    return Received::Close;
                }
                Err(failure) => {
                    self.stopped = true;
                    sink.event(Event::CloseConnection(CloseConnection::with_reason(failure.code, failure.reason)));
                }
            }
        }
        Received::Nothing
    }

    /// Makes one unit of progress: a header, a payload piece, a control frame.
    fn step<'a>(&mut self, input: &mut Input<'a>, sink: &mut dyn Sink) -> Result<Step, ParseFailed> {
        let frame = match self.frame.take() {
            Some(frame) => frame,
            None if self.whole_frame(input, sink)? => return Ok(Step::More),
            None => match self.read_header(input)? {
                Some(header) => InFrame { header, read: 0 },
                None => return Ok(Step::NeedData),
            },
        };
        if frame.header.opcode.is_control() {
            self.read_control(frame, input, sink)
        } else {
            self.read_data(frame, input, sink)
        }
    }

    /// The common case, an unfragmented message of up to 64 KiB whose
    /// whole frame is in `input`, with no extensions, in one go: what
    /// `read_header`, `begin_frame` and `read_data` would do, without their
    /// per-frame bookkeeping. `Ok(false)`, nothing consumed, for anything
    /// else (failures included): the general path then handles it.
    fn whole_frame<'a>(&mut self, input: &mut Input<'a>, sink: &mut dyn Sink) -> Result<bool, ParseFailed> {
        let [b0, b1, ..] = *input.bytes() else {
            return Ok(false);
        };
        // FIN, no RSV bit, text or binary; masked as the role requires; a
        // 7-bit length or a 16-bit one that needs its 2 bytes.
        let (text, binary) = (0x80 | Opcode::Text as u8, 0x80 | Opcode::Binary as u8);
        let masked = if self.client { 0 } else { 0x80 };
        let (len, head) = match b1 & 0x7F {
            n @ 0..=125 => (usize::from(n), 2),
            // Below 126 it is a failure: the general path's.
            126 => match input.bytes().get(2..4) {
                Some(&[hi, lo]) if u16::from_be_bytes([hi, lo]) >= 126 => {
                    (usize::from(u16::from_be_bytes([hi, lo])), 4)
                }
                _ => return Ok(false),
            },
            _ => return Ok(false),
        };
        let head = head + if self.client { 0 } else { 4 };
        if !(b0 == binary || b0 == text)
            || b1 & 0x80 != masked
            || input.len() < head + len
            || self.stash_len != 0
            || self.message.is_some()
            || !self.extensions.is_empty()
            || len as u64 > self.max_frame_size.min(self.max_message_size)
        {
            return Ok(false);
        }
        // A server's frames end their header with the key (`head >= 6`).
        let mask = match input.bytes()[..head] {
            _ if self.client => None,
            [.., k0, k1, k2, k3] => Some(([k0, k1, k2, k3], 0)),
            _ => None,
        };
        input.advance(head);
        let (data, ascii) = input.take_payload(len, mask, b0 == text);
        // The state `begin_frame` and `read_data` leave behind.
        self.message_size = len as u64;
        self.utf8.reset();
        let piece = if b0 == text { self.text_piece(data, true, ascii)? } else { Piece::Bytes(data) };
        sink.message(piece, true, true);
        Ok(true)
    }

    /// Reads a frame header from the stash and `input`, or stashes what
    /// there is. The frame is judged (`begin_frame`) as soon as all but the
    /// mask key has arrived.
    fn read_header(&mut self, input: &mut Input<'_>) -> Result<Option<FrameHeader>, ParseFailed> {
        if input.len() == 0 {
            return Ok(None);
        }
        // With a stash, top it up to MAX_HEADER_LEN and parse from it.
        let had = self.stash_len;
        let take = (MAX_HEADER_LEN - had).min(input.len());
        let status = if had == 0 {
            parse_header(input.bytes(), self.client)?
        } else {
            self.stash[had..had + take].copy_from_slice(&input.bytes()[..take]);
            parse_header(&self.stash[..had + take], self.client)?
        };
        let header = match status {
            Status::Complete(header, used) => {
                if !self.header_judged {
                    self.begin_frame(&header)?;
                }
                self.header_judged = false;
                self.stash_len = 0;
                input.advance(used.saturating_sub(had).min(input.len()));
                return Ok(Some(header));
            }
            Status::NeedMask(header) => Some(header),
            Status::Partial => None,
        };
        if let Some(header) = header.filter(|_| !self.header_judged) {
            self.begin_frame(&header)?;
            self.header_judged = true;
        }
        // Incomplete: the rest of `input` is shorter than a header.
        if had == 0 {
            self.stash[..take].copy_from_slice(&input.bytes()[..take]);
        }
        self.stash_len = had + take;
        input.advance(take);
        Ok(None)
    }

    /// Checks a new frame against the extensions, the open message and the limits.
    fn begin_frame(&mut self, header: &FrameHeader) -> Result<(), ParseFailed> {
        let mut allowed = Rsv::NONE;
        for ext in &mut self.extensions {
            allowed = allowed.union(ext.frame_inbound_header(header.opcode, header.rsv, header.payload_len)?);
        }
        if header.rsv.exceeds(allowed) {
            return Err(ParseFailed::protocol("Reserved bit set unexpectedly"));
        }
        if header.opcode.is_control() {
            self.control.clear();
            return Ok(());
        }
        match (self.message, header.opcode) {
            (None, Opcode::Continuation) => return Err(ParseFailed::protocol("unexpected CONTINUATION")),
            (Some(_), Opcode::Text | Opcode::Binary) => {
                return Err(ParseFailed::protocol(format!("expected CONTINUATION, got {:?}", header.opcode)))
            }
            (None, opcode) => {
                self.message = Some(opcode);
                self.message_size = 0;
                self.utf8.reset();
            }
            (Some(_), _) => {}
        }
        if header.payload_len > self.max_frame_size {
            return Err(too_big(format!("frame of {} bytes exceeds the limit", header.payload_len)));
        }
        // Without extensions the payload is the message: fail before reading it.
        if self.extensions.is_empty() && self.message_size.saturating_add(header.payload_len) > self.max_message_size {
            return Err(too_big("message exceeds the size limit".to_owned()));
        }
        Ok(())
    }

    fn read_control(
        &mut self,
        mut frame: InFrame,
        input: &mut Input<'_>,
        sink: &mut dyn Sink,
    ) -> Result<Step, ParseFailed> {
        let take = take_len(frame.remaining(), input.len());
        self.control.extend_from_slice(&input.bytes()[..take]);
        input.advance(take);
        frame.read += take as u64;
        if frame.remaining() > 0 {
            self.frame = Some(frame);
            return Ok(Step::NeedData);
        }
        let mut payload = std::mem::take(&mut self.control);
        if let Some(key) = frame.header.mask {
            apply_mask(&mut payload, key, 0);
        }
        match frame.header.opcode {
            Opcode::Ping => sink.event(Event::Ping(Ping { payload })),
            Opcode::Pong => sink.event(Event::Pong(Pong { payload })),
            _ => {
                let (code, reason) = close::parse_close_payload(&payload)?;
                sink.event(Event::CloseConnection(CloseConnection { code, reason }));
                return Ok(Step::Closed);
            }
        }
        Ok(Step::More)
    }

    fn read_data<'a>(
        &mut self,
        mut frame: InFrame,
        input: &mut Input<'a>,
        sink: &mut dyn Sink,
    ) -> Result<Step, ParseFailed> {
        let take = take_len(frame.remaining(), input.len());
        if take == 0 && frame.remaining() > 0 {
            self.frame = Some(frame);
            return Ok(Step::NeedData);
        }
        // Unmasked text is checked for ASCII as it is unmasked (unless
        // an extension transforms it first).
        let text = self.message == Some(Opcode::Text) && self.extensions.is_empty();
        let (chunk, ascii) = input.take_payload(take, frame.header.mask.map(|key| (key, frame.read)), text);
        frame.read += take as u64;
        let frame_finished = frame.remaining() == 0;
        let fin = frame.header.fin;
        if !frame_finished {
            self.frame = Some(frame);
        }
        let data = self.inbound_extensions(chunk, frame_finished, fin)?;
        let room = self.max_message_size.saturating_sub(self.message_size);
        if data.len() as u64 > room {
            return Err(self.first_violation(&data, room, too_big("message exceeds the size limit".to_owned())));
        }
        self.message_size += data.len() as u64;
        let message_finished = frame_finished && fin;
        let piece = match self.message {
            Some(Opcode::Text) => self.text_piece(data, message_finished, ascii)?,
            _ => Piece::Bytes(data),
        };
        let empty = match &piece {
            Piece::Bytes(b) => b.is_empty(),
            Piece::Text { text, .. } => text.is_empty(),
        };
        if !empty || frame_finished {
            sink.message(piece, frame_finished, message_finished);
        }
        if message_finished {
            self.message = None;
        }
        Ok(Step::More)
    }

    /// A piece of a text message, validated (`last`: the message ends with
    /// it). `ascii`: whether it is all ASCII, if unmasking told; else it is
    /// checked here. ASCII after a code point boundary is valid UTF-8 as
    /// it is, so most text is read once (SIMD) rather than validated.
    fn text_piece<'a>(
        &mut self,
        data: Cow<'a, [u8]>,
        last: bool,
        ascii: Option<bool>,
    ) -> Result<Piece<'a>, ParseFailed> {
        if self.utf8.at_boundary() && ascii.unwrap_or_else(|| crate::utf8::is_ascii(&*data)) {
            // SAFETY: ASCII bytes are valid UTF-8.
            let text = match data {
                Cow::Owned(bytes) => Cow::Owned(unsafe { String::from_utf8_unchecked(bytes) }),
                Cow::Borrowed(bytes) => Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) }),
            };
            return Ok(Piece::Text { text, ascii: true });
        }
        let text = match data {
            Cow::Owned(bytes) => Cow::Owned(self.utf8.push(bytes, last)?),
            Cow::Borrowed(bytes) => self.utf8.push_slice(bytes, last)?,
        };
        Ok(Piece::Text { text, ascii: false })
    }

    /// Runs a payload piece through the extensions (e.g. inflation).
    fn inbound_extensions<'a>(
        &mut self,
        chunk: Cow<'a, [u8]>,
        frame_finished: bool,
        fin: bool,
    ) -> Result<Cow<'a, [u8]>, ParseFailed> {
        if self.extensions.is_empty() {
            return Ok(chunk);
        }
        let limit = self.max_message_size.saturating_sub(self.message_size);
        let last = self.extensions.len() - 1;
        let mut data = chunk;
        for (i, ext) in self.extensions.iter_mut().enumerate() {
            let mut out = Vec::new();
            let result = ext.frame_inbound_payload_data(&data, &mut out, limit).and_then(|()| {
                if frame_finished {
                    ext.frame_inbound_complete(fin, &mut out, limit)
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) => data = Cow::Owned(out),
                // The last extension's output is what the application sees.
                Err(failure) if i == last => return Err(self.first_violation(&out, limit, failure)),
                Err(failure) => return Err(failure),
            }
        }
        Ok(data)
    }

    /// The failure for a piece of a message that ends in `failure` (the
    /// message outgrows the `room` left under `max_message_size`, or the
    /// extension failed) after delivering `data`. The first violation in
    /// the stream decides, so the outcome never depends on how the bytes
    /// were chunked: invalid UTF-8 within the bytes that fit comes first
    /// (1007), and only otherwise is `failure` the outcome.
    fn first_violation(&mut self, data: &[u8], room: u64, failure: ParseFailed) -> ParseFailed {
        let fits = &data[..take_len(room, data.len())];
        if self.message == Some(Opcode::Text) {
            if let Err(invalid) = self.utf8.push_slice(fits, false) {
                return invalid;
            }
        }
        failure
    }

    // ---- outbound --------------------------------------------------------

    /// Frames a piece of a text or binary message.
    pub(crate) fn send_data(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        fin: bool,
        random: &mut dyn RandomSource,
        out: &mut Vec<u8>,
    ) -> Result<(), LocalProtocolError> {
        let frame_opcode = self.data_opcode(opcode)?;
        self.write(frame_opcode, payload, fin, random, out)?;
        self.out_message = if fin { None } else { Some(opcode) };
        Ok(())
    }

    /// As [`FrameProtocol::send_data`] for the payload `buf[MAX_HEADER..]`,
    /// framed where it is ([`write_frame_in_place`]); returns where the
    /// frame starts. `Ok(None)`, nothing done, with extensions: they
    /// rewrite the payload (use `send_data`).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn send_data_in_place(
        &mut self,
        opcode: Opcode,
        buf: &mut [u8],
        fin: bool,
        random: &mut dyn RandomSource,
    ) -> Result<Option<usize>, LocalProtocolError> {
        if !self.extensions.is_empty() {
            return Ok(None);
        }
        let frame_opcode = self.data_opcode(opcode)?;
        let mask = self.mask_key(random)?;
        let start = write_frame_in_place(buf, fin, Rsv::NONE, frame_opcode, mask);
        self.out_message = if fin { None } else { Some(opcode) };
        Ok(Some(start))
    }

    /// The opcode of the next frame of a message of type `opcode`.
    fn data_opcode(&self, opcode: Opcode) -> Result<Opcode, LocalProtocolError> {
        match self.out_message {
            None => Ok(opcode),
            Some(open) if open == opcode => Ok(Opcode::Continuation),
            Some(_) => Err(LocalProtocolError::new("Data type mismatch inside message")),
        }
    }

    /// A fresh mask key for a client's frame; none for a server's.
    fn mask_key(&self, random: &mut dyn RandomSource) -> Result<Option<[u8; 4]>, LocalProtocolError> {
        if !self.client {
            return Ok(None);
        }
        let mut key = [0u8; 4];
        random.fill(&mut key)?;
        Ok(Some(key))
    }

    /// Frames a ping or pong.
    pub(crate) fn send_control(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        random: &mut dyn RandomSource,
        out: &mut Vec<u8>,
    ) -> Result<(), LocalProtocolError> {
        if payload.len() > 125 {
            return Err(LocalProtocolError::new(format!(
                "control frame payload of {} bytes exceeds 125",
                payload.len()
            )));
        }
        self.write(opcode, payload, true, random, out)
    }

    /// Frames a close.
    pub(crate) fn send_close(
        &mut self,
        event: &CloseConnection,
        random: &mut dyn RandomSource,
        out: &mut Vec<u8>,
    ) -> Result<(), LocalProtocolError> {
        let payload = close::build_close_payload(event.code, &event.reason)?;
        self.write(Opcode::Close, &payload, true, random, out)
    }

    fn write(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        fin: bool,
        random: &mut dyn RandomSource,
        out: &mut Vec<u8>,
    ) -> Result<(), LocalProtocolError> {
        let mask = self.mask_key(random)?;
        if self.extensions.is_empty() {
            write_frame(out, fin, Rsv::NONE, opcode, payload, mask);
            return Ok(());
        }
        let mut rsv = Rsv::NONE;
        let mut data = payload.to_vec();
        for ext in self.extensions.iter_mut().rev() {
            (rsv, data) = ext.frame_outbound(opcode, rsv, data, fin);
        }
        write_frame(out, fin, rsv, opcode, &data, mask);
        Ok(())
    }
}

enum Step {
    /// Progress was made; try again.
    More,
    /// Nothing more can be done with the bytes at hand.
    NeedData,
    /// A close frame arrived: stop.
    Closed,
}

/// How many of `available` bytes belong to a payload with `remaining` bytes left.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn too_big(reason: String) -> ParseFailed {
    ParseFailed::new(MESSAGE_TOO_BIG, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode::write_frame;

    /// What a sink saw, owned, with whether each piece came borrowed.
    #[derive(Default)]
    struct Seen {
        events: VecDeque<Event>,
        borrowed: usize,
        /// Each non-empty text piece, with its `ascii` flag.
        texts: Vec<(String, bool)>,
    }

    impl Sink for Seen {
        fn message(&mut self, piece: Piece<'_>, frame_finished: bool, message_finished: bool) {
            if matches!(piece, Piece::Bytes(Cow::Borrowed(_)) | Piece::Text { text: Cow::Borrowed(_), .. }) {
                self.borrowed += 1;
            }
            if let Piece::Text { text, ascii } = &piece {
                if !text.is_empty() {
                    self.texts.push((text.to_string(), *ascii));
                }
            }
            self.events.message(piece, frame_finished, message_finished);
        }
        fn event(&mut self, event: Event) {
            self.events.push_back(event);
        }
    }

    /// Masked frames as a client sends them: binary, fragmented text with
    /// code points cut between fragments, a ping, an empty frame, a close.
    fn stream() -> Vec<u8> {
        let mut out = Vec::new();
        let key = Some([1, 2, 3, 4]);
        let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        write_frame(&mut out, true, Rsv::NONE, Opcode::Binary, &big, key);
        let text = "héllo wörld 😀 ".repeat(300);
        let bytes = text.as_bytes();
        // Inside a 4-byte code point, twice.
        let cut = text.rfind('😀').unwrap() + 1;
        write_frame(&mut out, false, Rsv::NONE, Opcode::Text, &bytes[..cut], key);
        write_frame(&mut out, false, Rsv::NONE, Opcode::Continuation, &bytes[cut..cut + 1], key);
        write_frame(&mut out, true, Rsv::NONE, Opcode::Continuation, &bytes[cut + 1..], key);
        write_frame(&mut out, true, Rsv::NONE, Opcode::Ping, b"ping", key);
        write_frame(&mut out, true, Rsv::NONE, Opcode::Binary, b"", key);
        write_frame(&mut out, true, Rsv::NONE, Opcode::Close, b"\x03\xe8bye", key);
        out
    }

    fn parse(stream: &[u8], cut: usize, in_place: bool) -> (Vec<Event>, usize) {
        parse_chunks(stream.chunks(cut), in_place, &Config::default())
    }

    fn parse_chunks<'a>(
        chunks: impl Iterator<Item = &'a [u8]>,
        in_place: bool,
        config: &Config,
    ) -> (Vec<Event>, usize) {
        let seen = parse_as(false, chunks, in_place, config);
        (seen.events.into_iter().collect(), seen.borrowed)
    }

    fn parse_as<'a>(client: bool, chunks: impl Iterator<Item = &'a [u8]>, in_place: bool, config: &Config) -> Seen {
        let mut proto = FrameProtocol::new(client, vec![], config);
        let mut seen = Seen::default();
        for chunk in chunks {
            let mut copy = chunk.to_vec();
            let input = if in_place { Input::InPlace(&mut copy) } else { Input::Shared(chunk) };
            proto.receive(input, &mut seen);
        }
        seen
    }

    /// ASCII text skips validation (known from unmasking in place, or
    /// checked): every piece's flag must be exact, and ASCII right after
    /// a code point cut between fragments must still fail.
    #[test]
    fn ascii_text_is_flagged_exactly_and_never_skips_a_cut_code_point() {
        let key = Some([0x80, 0x81, 0x7f, 0xff]);
        let mut ok = Vec::new();
        let long = "{\"id\":1,\"tags\":[\"alpha\"]},".repeat(3000);
        write_frame(&mut ok, true, Rsv::NONE, Opcode::Text, long.as_bytes(), key);
        write_frame(&mut ok, true, Rsv::NONE, Opcode::Text, b"short ascii", key);
        let mixed = format!("{}é{}", "a".repeat(100), "b".repeat(100));
        write_frame(&mut ok, true, Rsv::NONE, Opcode::Text, mixed.as_bytes(), key);
        // "é" cut between fragments, then ASCII fragments: all valid.
        write_frame(&mut ok, false, Rsv::NONE, Opcode::Text, b"ab\xc3", key);
        write_frame(&mut ok, false, Rsv::NONE, Opcode::Continuation, b"\xa9cd", key);
        write_frame(&mut ok, true, Rsv::NONE, Opcode::Continuation, b"efgh", key);
        let want = [long.as_str(), "short ascii", mixed.as_str(), "abé", "cd", "efgh"].concat();
        // A lead byte, then an ASCII fragment: invalid.
        let mut bad = Vec::new();
        write_frame(&mut bad, false, Rsv::NONE, Opcode::Text, b"ab\xc3", key);
        write_frame(&mut bad, true, Rsv::NONE, Opcode::Continuation, b"cdef", key);
        for cut in [ok.len(), 65_536, 1000, 7, 1] {
            for in_place in [false, true] {
                let seen = parse_as(false, ok.chunks(cut), in_place, &Config::default());
                let text: String = seen.texts.iter().map(|(t, _)| t.as_str()).collect();
                assert_eq!(text, want, "cut {cut} in place {in_place}");
                for (t, ascii) in &seen.texts {
                    // Text that ends in a cut code point ("ab\xc3") came
                    // from bytes that were not ASCII: it is validated.
                    let validated = "ab".ends_with(t.as_str()) && cut >= 3;
                    assert_eq!(*ascii, t.is_ascii() && !validated, "{t:?} cut {cut} in place {in_place}");
                }
                let (events, _) = parse_chunks(bad.chunks(cut), in_place, &Config::default());
                assert!(
                    matches!(events.last(), Some(Event::CloseConnection(c)) if c.code == 1007),
                    "cut {cut} in place {in_place}: {events:?}"
                );
            }
        }
    }

    #[test]
    fn in_place_input_gives_the_same_events_borrowed() {
        let stream = stream();
        for cut in [stream.len(), 65_536, 1000, 13, 1] {
            let (shared, _) = parse(&stream, cut, false);
            let (in_place, borrowed) = parse(&stream, cut, true);
            assert_eq!(shared, in_place, "cut {cut}");
            assert!(matches!(shared.last(), Some(Event::CloseConnection(c)) if c.code == 1000 && c.reason == "bye"));
            // In one chunk every piece is borrowed but the text fragment
            // that completes a code point cut between fragments.
            let messages =
                shared.iter().filter(|e| matches!(e, Event::BytesMessage(_) | Event::TextMessage(_))).count();
            if cut == stream.len() {
                assert_eq!((messages, borrowed), (5, 4), "one chunk");
            }
        }
    }

    proptest::proptest! {
        /// Text messages of ASCII runs, multi-byte characters and stray
        /// bytes, cut into frames and chunks anywhere (inside code points
        /// too): in place (ASCII known from unmasking) and read-only (ASCII
        /// checked) give the same events, and a message gives its text
        /// exactly when its bytes are valid UTF-8, a 1007 otherwise.
        #[test]
        fn text_in_any_frames_and_chunks_is_validated_exactly(
            parts in proptest::collection::vec((0u8..4, 1usize..40), 1..12),
            frame_cuts in proptest::collection::vec(0usize..400, 0..4),
            chunk in 1usize..300,
        ) {
            let mut bytes = Vec::new();
            for (kind, n) in parts {
                match kind {
                    0 => bytes.extend(std::iter::repeat(b'a' + (n % 26) as u8).take(n)),
                    1 => bytes.extend("é€😀".repeat(n % 5 + 1).as_bytes()),
                    2 => bytes.extend("aé".repeat(n).as_bytes()),
                    _ => bytes.push([0x80, 0xC3, 0xE2, 0xF0, 0xFF][n % 5]),
                }
            }
            let mut cuts: Vec<usize> = frame_cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut stream = Vec::new();
            let mut start = 0;
            for (i, &end) in cuts.iter().chain([bytes.len()].iter()).enumerate() {
                let opcode = if i == 0 { Opcode::Text } else { Opcode::Continuation };
                write_frame(&mut stream, end == bytes.len() && i == cuts.len(), Rsv::NONE, opcode, &bytes[start..end.max(start)], Some([0x81, 0x7f, 0x00, 0xc3]));
                start = end.max(start);
            }
            let in_place = parse_as(false, stream.chunks(chunk), true, &Config::default());
            let shared = parse_as(false, stream.chunks(chunk), false, &Config::default());
            proptest::prop_assert_eq!(&in_place.events, &shared.events);
            let text: String = in_place.texts.iter().map(|(t, _)| t.as_str()).collect();
            match std::str::from_utf8(&bytes) {
                Ok(valid) => {
                    proptest::prop_assert_eq!(text.as_str(), valid);
                    proptest::prop_assert!(!in_place.events.iter().any(|e| matches!(e, Event::CloseConnection(_))));
                }
                Err(_) => proptest::prop_assert!(matches!(in_place.events.back(), Some(Event::CloseConnection(c)) if c.code == 1007)),
            }
            for (t, ascii) in &in_place.texts {
                proptest::prop_assert!(!ascii || t.is_ascii());
            }
        }
    }

    /// Whole small frames take `whole_frame`; with their first byte fed
    /// apart they take the general path: the events must be the same,
    /// failures included.
    #[test]
    fn whole_small_frames_parse_as_the_general_path_does() {
        for client in [false, true] {
            // A server receives masked frames, a client unmasked ones.
            let (key, mask_bit) = if client { (None, 0) } else { (Some([9, 8, 7, 6]), 0x80) };
            let frames = |list: &[(bool, Opcode, &[u8])]| -> Vec<Vec<u8>> {
                let mut out = Vec::new();
                for &(fin, opcode, payload) in list {
                    let mut frame = Vec::new();
                    write_frame(&mut frame, fin, Rsv::NONE, opcode, payload, key);
                    out.push(frame);
                }
                out
            };
            let ok = frames(&[
                (true, Opcode::Binary, &[7; 16]),
                (true, Opcode::Text, "héllo".as_bytes()),
                (true, Opcode::Binary, b""),
                (true, Opcode::Text, b""),
                // A fragmented message: its frames take the general path.
                (false, Opcode::Text, b"ab"),
                (true, Opcode::Continuation, b"c"),
                (true, Opcode::Binary, &[1; 125]),
                (true, Opcode::Binary, &[2; 126]),
                (true, Opcode::Text, "é1234567".repeat(128).as_bytes()),
                (true, Opcode::Binary, &[3; 65_535]),
                (true, Opcode::Binary, &[4; 65_536]),
            ]);
            // 5 bytes with a 16-bit length: not minimal, a 1002.
            let mut long_short = frames(&[(true, Opcode::Binary, b"abcde")]);
            long_short[0].splice(1..2, [mask_bit | 126, 0, 5]);
            let bad_utf8_long = frames(&[(true, Opcode::Text, &[b"a".repeat(200), vec![0xff]].concat())]);
            let bad_utf8 =
                frames(&[(true, Opcode::Binary, b"x"), (true, Opcode::Text, b"a\xff"), (true, Opcode::Binary, b"y")]);
            let unexpected = frames(&[(false, Opcode::Binary, b"x"), (true, Opcode::Binary, b"y")]);
            let mut rsv = frames(&[(true, Opcode::Binary, b"x")]);
            rsv[0][0] |= 0x40;
            let small = Config { max_message_size: 10, max_frame_size: 12, ..Config::default() };
            let limits = Config { max_message_size: 1000, max_frame_size: 1024, ..Config::default() };
            for (list, config) in [
                (&ok, Config::default()),
                (&ok, small),
                (&ok, limits),
                (&bad_utf8, Config::default()),
                (&bad_utf8_long, Config::default()),
                (&long_short, Config::default()),
                (&unexpected, Config::default()),
                (&rsv, Config::default()),
            ] {
                let whole = list.concat();
                for in_place in [false, true] {
                    let fast = parse_as(client, std::iter::once(&whole[..]), in_place, &config).events;
                    let split = list.iter().flat_map(|f| [&f[..1], &f[1..]]);
                    let general = parse_as(client, split, in_place, &config).events;
                    assert_eq!(fast, general, "client: {client}, in place: {in_place}");
                    assert!(!fast.is_empty());
                    if list == &long_short {
                        assert!(matches!(fast.back(), Some(Event::CloseConnection(c)) if c.code == 1002), "{fast:?}");
                    }
                }
            }
        }
    }
}
