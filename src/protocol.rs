//! The frame protocol: frames in, events out, and events in, frames out.
//!
//! Inbound bytes are parsed as they arrive. Only an incomplete frame header
//! (at most 14 bytes) or an incomplete control frame (at most 125 bytes) is
//! ever held; data payloads stream out as events with `frame_finished =
//! false` until the frame ends. A declared length is a number counted down,
//! never an allocation size.

use crate::close::{self, MESSAGE_TOO_BIG};
use crate::config::Config;
use crate::error::{LocalProtocolError, ParseFailed};
use crate::events::{BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage};
use crate::extensions::Extension;
use crate::frame::decode::{parse_header, FrameHeader, Status, MAX_HEADER_LEN};
use crate::frame::encode::write_frame;
use crate::frame::mask::{apply_mask, extend_masked};
use crate::frame::{Opcode, Rsv};
use crate::random::RandomSource;
use crate::utf8::Utf8Stream;
use std::collections::VecDeque;

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
    pub(crate) fn receive(&mut self, mut input: &[u8], events: &mut VecDeque<Event>) -> Received {
        while !self.stopped {
            match self.step(&mut input, events) {
                Ok(Step::More) => {}
                Ok(Step::NeedData) => break,
                Ok(Step::Closed) => {
                    self.stopped = true;
                    return Received::Close;
                }
                Err(failure) => {
                    self.stopped = true;
                    events.push_back(Event::CloseConnection(CloseConnection::with_reason(
                        failure.code,
                        failure.reason,
                    )));
                }
            }
        }
        Received::Nothing
    }

    /// Makes one unit of progress: a header, a payload piece, a control frame.
    fn step(&mut self, input: &mut &[u8], events: &mut VecDeque<Event>) -> Result<Step, ParseFailed> {
        let frame = match self.frame.take() {
            Some(frame) => frame,
            None => match self.read_header(input)? {
                Some(header) => InFrame { header, read: 0 },
                None => return Ok(Step::NeedData),
            },
        };
        if frame.header.opcode.is_control() {
            self.read_control(frame, input, events)
        } else {
            self.read_data(frame, input, events)
        }
    }

    /// Reads a frame header from the stash and `input`, or stashes what
    /// there is. The frame is judged (`begin_frame`) as soon as all but the
    /// mask key has arrived.
    fn read_header(&mut self, input: &mut &[u8]) -> Result<Option<FrameHeader>, ParseFailed> {
        if input.is_empty() {
            return Ok(None);
        }
        // With a stash, top it up to MAX_HEADER_LEN and parse from it.
        let had = self.stash_len;
        let take = (MAX_HEADER_LEN - had).min(input.len());
        let status = if had == 0 {
            parse_header(input, self.client)?
        } else {
            self.stash[had..had + take].copy_from_slice(&input[..take]);
            parse_header(&self.stash[..had + take], self.client)?
        };
        let header = match status {
            Status::Complete(header, used) => {
                if !self.header_judged {
                    self.begin_frame(&header)?;
                }
                self.header_judged = false;
                self.stash_len = 0;
                *input = input.get(used.saturating_sub(had)..).unwrap_or_default();
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
            self.stash[..take].copy_from_slice(&input[..take]);
        }
        self.stash_len = had + take;
        *input = &input[take..];
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
                return Err(ParseFailed::protocol(format!(
                    "expected CONTINUATION, got {:?}",
                    header.opcode
                )))
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
        input: &mut &[u8],
        events: &mut VecDeque<Event>,
    ) -> Result<Step, ParseFailed> {
        let take = take_len(frame.remaining(), input.len());
        self.control.extend_from_slice(&input[..take]);
        *input = &input[take..];
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
            Opcode::Ping => events.push_back(Event::Ping(Ping { payload })),
            Opcode::Pong => events.push_back(Event::Pong(Pong { payload })),
            _ => {
                let (code, reason) = close::parse_close_payload(&payload)?;
                events.push_back(Event::CloseConnection(CloseConnection { code, reason }));
                return Ok(Step::Closed);
            }
        }
        Ok(Step::More)
    }

    fn read_data(
        &mut self,
        mut frame: InFrame,
        input: &mut &[u8],
        events: &mut VecDeque<Event>,
    ) -> Result<Step, ParseFailed> {
        let take = take_len(frame.remaining(), input.len());
        if take == 0 && frame.remaining() > 0 {
            self.frame = Some(frame);
            return Ok(Step::NeedData);
        }
        // Unmasked while copied out of `input`: one pass over the bytes.
        let chunk = match frame.header.mask {
            Some(key) => {
                let mut chunk = Vec::with_capacity(take);
                extend_masked(&mut chunk, &input[..take], key, frame.read);
                chunk
            }
            None => input[..take].to_vec(),
        };
        *input = &input[take..];
        frame.read += take as u64;
        let frame_finished = frame.remaining() == 0;
        let fin = frame.header.fin;
        if !frame_finished {
            self.frame = Some(frame);
        }
        let data = self.inbound_extensions(chunk, frame_finished, fin)?;
        self.message_size = self.message_size.saturating_add(data.len() as u64);
        if self.message_size > self.max_message_size {
            return Err(too_big("message exceeds the size limit".to_owned()));
        }
        let message_finished = frame_finished && fin;
        let event = match self.message {
            Some(Opcode::Text) => {
                let text = self.utf8.push(data, message_finished)?;
                (!text.is_empty() || frame_finished).then(|| {
                    Event::TextMessage(TextMessage { data: text, frame_finished, message_finished })
                })
            }
            _ => (!data.is_empty() || frame_finished)
                .then(|| Event::BytesMessage(BytesMessage { data, frame_finished, message_finished })),
        };
        events.extend(event);
        if message_finished {
            self.message = None;
        }
        Ok(Step::More)
    }

    /// Runs a payload piece through the extensions (e.g. inflation).
    fn inbound_extensions(&mut self, chunk: Vec<u8>, frame_finished: bool, fin: bool) -> Result<Vec<u8>, ParseFailed> {
        if self.extensions.is_empty() {
            return Ok(chunk);
        }
        let limit = self.max_message_size.saturating_sub(self.message_size);
        let mut data = chunk;
        for ext in &mut self.extensions {
            let mut out = Vec::new();
            ext.frame_inbound_payload_data(&data, &mut out, limit)?;
            if frame_finished {
                ext.frame_inbound_complete(fin, &mut out, limit)?;
            }
            data = out;
        }
        Ok(data)
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
        let frame_opcode = match self.out_message {
            None => opcode,
            Some(open) if open == opcode => Opcode::Continuation,
            Some(_) => return Err(LocalProtocolError::new("Data type mismatch inside message")),
        };
        self.write(frame_opcode, payload, fin, random, out)?;
        self.out_message = if fin { None } else { Some(opcode) };
        Ok(())
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
        let mask = if self.client {
            let mut key = [0u8; 4];
            random.fill(&mut key)?;
            Some(key)
        } else {
            None
        };
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
