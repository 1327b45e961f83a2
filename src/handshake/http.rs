//! Incremental HTTP/1.1 framing: finding the end of a head, reading a
//! rejection's body, and encoding one. Every buffer here is bounded.

use crate::error::{LocalProtocolError, RemoteProtocolError};
use crate::events::{Event, Headers, RejectConnection};

/// Longest chunk-size line (size plus extensions) buffered while reading a
/// chunked body; anything longer is refused rather than buffered.
const MAX_CHUNK_LINE: usize = 4096;

/// A `RemoteProtocolError` whose hint is a bodiless `RejectConnection`.
pub(crate) fn remote_error(message: impl Into<String>, status_code: u16) -> RemoteProtocolError {
    let hint = RejectConnection { status_code, ..RejectConnection::default() };
    RemoteProtocolError::new(message, Some(Event::RejectConnection(hint)))
}

/// Maps an httparse failure: too many header lines is 431, the rest 400.
pub(crate) fn parse_error(error: httparse::Error) -> RemoteProtocolError {
    match error {
        httparse::Error::TooManyHeaders => remote_error("Too many headers", 431),
        _ => remote_error("Bad HTTP message", 400),
    }
}

/// Parsed headers as owned pairs with lower-cased names, in order.
pub(crate) fn lowered_headers(headers: &[httparse::Header<'_>]) -> Headers {
    headers.iter().map(|h| (h.name.to_ascii_lowercase().into_bytes(), h.value.to_vec())).collect()
}

/// Records a header that must appear at most once.
pub(crate) fn set_once<'a>(
    slot: &mut Option<&'a [u8]>,
    value: &'a [u8],
    name: &str,
) -> Result<(), RemoteProtocolError> {
    if slot.replace(value).is_some() {
        return Err(remote_error(format!("Duplicate header, '{name}'"), 400));
    }
    Ok(())
}

/// Header slots to give httparse: `max_headers`, but never more than the
/// head could hold (a header line takes at least 3 bytes), so a huge limit
/// does not become a huge allocation.
pub(crate) fn header_slots(head: &[u8], max_headers: usize) -> Vec<httparse::Header<'static>> {
    vec![httparse::EMPTY_HEADER; max_headers.min(head.len() / 3 + 1)]
}

/// Where the scan for the blank line that ends a head stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum EndScan {
    /// Inside a line.
    #[default]
    InLine,
    /// Just after a LF: a line starts.
    LineStart,
    /// A line started with CR.
    LineStartCr,
    /// The blank line was seen.
    Done,
}

impl EndScan {
    /// One byte of the `\n\r?\n` search (h11's rule: CRLFCRLF, and also the
    /// bare-LF endings that httparse accepts, so such heads do not hang).
    fn step(self, b: u8) -> EndScan {
        match (self, b) {
            (EndScan::LineStart | EndScan::LineStartCr, b'\n') => EndScan::Done,
            (EndScan::LineStart, b'\r') => EndScan::LineStartCr,
            (_, b'\n') => EndScan::LineStart,
            _ => EndScan::InLine,
        }
    }
}

/// Accumulates an HTTP head (request or status line plus headers).
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    scan: EndScan,
}

impl HeadReader {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes bytes up to the end of the head. Returns `Some(n)` once the head
    /// is complete, `n` being how many bytes of `data` it took; the rest of
    /// `data` (frames that came in the same read) is left to the caller.
    /// Each byte is scanned once, so feeding a byte at a time stays linear.
    pub(crate) fn push(&mut self, data: &[u8], max_bytes: usize) -> Result<Option<usize>, RemoteProtocolError> {
        if self.scan == EndScan::Done {
            return Ok(Some(0));
        }
        // Never look at (or keep) more than the limit allows.
        let room = max_bytes.saturating_sub(self.buf.len());
        let window = data.get(..room).unwrap_or(data);
        for (i, &b) in window.iter().enumerate() {
            self.scan = self.scan.step(b);
            if self.scan == EndScan::Done {
                let taken = i + 1;
                self.buf.extend_from_slice(window.get(..taken).unwrap_or(window));
                return Ok(Some(taken));
            }
        }
        self.buf.extend_from_slice(window);
        if self.buf.len() >= max_bytes {
            // Incomplete at the limit: the head can only get longer.
            return Err(remote_error(format!("HTTP head exceeds {max_bytes} bytes"), 431));
        }
        Ok(None)
    }

    /// The complete head (once `push` returned `Some`), leaving nothing
    /// behind: it is parsed once, and an open connection need not keep it.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// How a rejection response's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the connection closes.
    UntilEof,
}

/// The result of feeding body bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyChunk {
    /// Body bytes (de-chunked) found in this call.
    pub(crate) data: Vec<u8>,
    /// How many input bytes were used; the rest follow the body.
    pub(crate) consumed: usize,
    /// Whether the body is complete.
    pub(crate) finished: bool,
}

/// Where a chunked body's decoding stands.
#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    /// Collecting a chunk-size line (bounded by `MAX_CHUNK_LINE`).
    SizeLine(Vec<u8>),
    /// Inside a chunk's data, with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data; `true` once the CR is seen.
    DataEnd(bool),
    /// Reading (and discarding) trailer lines until the blank one.
    Trailer { line_len: usize, prev_cr: bool },
}

#[derive(Debug, PartialEq, Eq)]
enum BodyState {
    Length(u64),
    Chunked(Chunk),
    UntilEof,
    Done,
    /// The body was malformed: every later push fails the same way.
    Failed(RemoteProtocolError),
}

/// Reads the body of a rejection response, as framed by its head.
#[derive(Debug)]
pub(crate) struct BodyReader {
    state: BodyState,
}

impl BodyReader {
    pub(crate) fn new(framing: BodyFraming) -> Self {
        let state = match framing {
            BodyFraming::Length(0) => BodyState::Done,
            BodyFraming::Length(n) => BodyState::Length(n),
            BodyFraming::Chunked => BodyState::Chunked(Chunk::SizeLine(Vec::new())),
            BodyFraming::UntilEof => BodyState::UntilEof,
        };
        BodyReader { state }
    }

    /// Feeds received bytes; returns the body bytes they hold.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<BodyChunk, RemoteProtocolError> {
        let mut chunk = BodyChunk::default();
        match &mut self.state {
            BodyState::Done => {}
            BodyState::Failed(error) => return Err(error.clone()),
            BodyState::UntilEof => {
                chunk.data = data.to_vec();
                chunk.consumed = data.len();
            }
            BodyState::Length(remaining) => {
                let take = clamp(*remaining, data.len());
                chunk.data = data.get(..take).unwrap_or(data).to_vec();
                chunk.consumed = take;
                *remaining = remaining.saturating_sub(take as u64);
                if *remaining == 0 {
                    self.state = BodyState::Done;
                }
            }
            BodyState::Chunked(state) => {
                let (consumed, finished) = match push_chunked(state, data, &mut chunk.data) {
                    Ok(progress) => progress,
                    Err(error) => {
                        self.state = BodyState::Failed(error.clone());
                        if chunk.data.is_empty() {
                            return Err(error);
                        }
                        // The chunks decoded before the bad one are delivered
                        // first (as wsproto does); the next push fails.
                        chunk.consumed = data.len();
                        return Ok(chunk);
                    }
                };
                chunk.consumed = consumed;
                if finished {
                    self.state = BodyState::Done;
                }
            }
        }
        chunk.finished = self.state == BodyState::Done;
        Ok(chunk)
    }

    /// Whether the body failed: the next `push` returns the error.
    pub(crate) fn failed(&self) -> bool {
        matches!(self.state, BodyState::Failed(_))
    }

    /// The connection closed: returns whether that legitimately ends the body
    /// (it was read until EOF, or was already complete).
    pub(crate) fn eof(&mut self) -> bool {
        match self.state {
            BodyState::UntilEof | BodyState::Done => {
                self.state = BodyState::Done;
                true
            }
            _ => false,
        }
    }
}

/// `min(remaining, available)` without lossy casts.
fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn bad_chunk(why: &str) -> RemoteProtocolError {
    remote_error(format!("Bad chunked encoding: {why}"), 400)
}

/// Decodes as much of `data` as possible into `out`. Returns the bytes
/// used and whether the body ended (bytes after its end are not used).
fn push_chunked(state: &mut Chunk, data: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), RemoteProtocolError> {
    let mut pos = 0;
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        match state {
            Chunk::SizeLine(line) => {
                let (taken, complete) = match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (rest.len(), false),
                };
                if line.len().saturating_add(taken) > MAX_CHUNK_LINE {
                    return Err(bad_chunk("chunk-size line too long"));
                }
                line.extend_from_slice(rest.get(..taken).unwrap_or(rest));
                pos += taken;
                if complete {
                    *state = match parse_size_line(line)? {
                        0 => Chunk::Trailer { line_len: 0, prev_cr: false },
                        size => Chunk::Data(size),
                    };
                }
            }
            Chunk::Data(remaining) => {
                let take = clamp(*remaining, rest.len());
                out.extend_from_slice(rest.get(..take).unwrap_or(rest));
                pos += take;
                *remaining = remaining.saturating_sub(take as u64);
                if *remaining == 0 {
                    *state = Chunk::DataEnd(false);
                }
            }
            Chunk::DataEnd(seen_cr) => {
                pos += 1;
                match (*seen_cr, rest.first()) {
                    (false, Some(b'\r')) => *seen_cr = true,
                    (true, Some(b'\n')) => *state = Chunk::SizeLine(Vec::new()),
                    _ => return Err(bad_chunk("missing CRLF after chunk data")),
                }
            }
            Chunk::Trailer { line_len, prev_cr } => {
                pos += 1;
                if rest.first() != Some(&b'\n') {
                    *line_len = line_len.saturating_add(1);
                    *prev_cr = rest.first() == Some(&b'\r');
                } else if !*prev_cr {
                    return Err(bad_chunk("trailer line not ended by CRLF"));
                } else if *line_len == 1 {
                    return Ok((pos, true)); // the blank line: body complete
                } else {
                    *state = Chunk::Trailer { line_len: 0, prev_cr: false };
                }
            }
        }
    }
    Ok((pos, false))
}

/// The size from a complete chunk-size line (ending in LF).
fn parse_size_line(line: &[u8]) -> Result<u64, RemoteProtocolError> {
    // httparse reads an empty size as 0; require at least one digit.
    if !line.first().is_some_and(u8::is_ascii_hexdigit) {
        return Err(bad_chunk("invalid chunk size"));
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete((used, size))) if used == line.len() => Ok(size),
        _ => Err(bad_chunk("invalid chunk size")),
    }
}

/// How a rejection body the local side sends is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEncoding {
    /// As is, until the connection closes.
    Raw,
    /// As is, exactly this many bytes still to come (Content-Length).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The bytes that carry `data` (and, if `finished`, the body's end).
/// A declared Content-Length is enforced: too much or too little data is
/// refused (and `enc` is left unchanged), as h11 does for wsproto.
pub(crate) fn encode_body(enc: &mut BodyEncoding, data: &[u8], finished: bool) -> Result<Vec<u8>, LocalProtocolError> {
    match enc {
        BodyEncoding::Raw => Ok(data.to_vec()),
        BodyEncoding::Length(remaining) => {
            let len = data.len() as u64;
            if len > *remaining {
                return Err(LocalProtocolError::new("Too much data for declared Content-Length"));
            }
            if finished && len < *remaining {
                return Err(LocalProtocolError::new("Too little data for declared Content-Length"));
            }
            *remaining -= len;
            Ok(data.to_vec())
        }
        BodyEncoding::Chunked => {
            let mut out = Vec::with_capacity(data.len().saturating_add(24));
            // An empty chunk would end the body, so only write non-empty ones.
            if !data.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            if finished {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::headers::tests::{assert_linear_time, SCALE};

    fn hint_status(e: &RemoteProtocolError) -> Option<u16> {
        match e.event_hint() {
            Some(Event::RejectConnection(r)) => Some(r.status_code),
            _ => None,
        }
    }

    const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn head_in_one_push() {
        let mut r = HeadReader::new();
        assert_eq!(r.push(HEAD, 1024).unwrap(), Some(HEAD.len()));
        assert_eq!(r.take(), HEAD);
        // Taken: nothing is left behind.
        assert!(r.take().is_empty());
    }

    #[test]
    fn head_leaves_trailing_frames() {
        let mut data = HEAD.to_vec();
        data.extend_from_slice(b"\x81\x05hello");
        let mut r = HeadReader::new();
        assert_eq!(r.push(&data, 1024).unwrap(), Some(HEAD.len()));
        // Further pushes take nothing.
        assert_eq!(r.push(b"more", 1024).unwrap(), Some(0));
        assert_eq!(r.take(), HEAD);
    }

    #[test]
    fn head_split_at_every_boundary() {
        let mut data = HEAD.to_vec();
        data.extend_from_slice(b"tail");
        for split in 0..=HEAD.len() {
            let mut r = HeadReader::new();
            let (a, b) = data.split_at(split);
            let first = r.push(a, 1024).unwrap();
            if split == HEAD.len() {
                assert_eq!(first, Some(split));
            } else {
                assert_eq!(first, None, "split {split}");
                assert_eq!(r.push(b, 1024).unwrap(), Some(HEAD.len() - split));
            }
            assert_eq!(r.take(), HEAD);
        }
    }

    #[test]
    fn head_cr_lf_patterns() {
        // A lone LF-CR-LF inside a line does not end the head early.
        let mut r = HeadReader::new();
        assert_eq!(r.push(b"GET / HTTP/1.1\r\nA: b\r\r\n", 1024).unwrap(), None);
        assert_eq!(r.push(b"\r\nX", 1024).unwrap(), Some(2));
        // Bare-LF heads (accepted by h11 and httparse) also end.
        let mut r = HeadReader::new();
        assert_eq!(r.push(b"GET / HTTP/1.1\nHost: a\n\nX", 1024).unwrap(), Some(24));
    }

    #[test]
    fn head_at_exact_limit_is_accepted() {
        let mut r = HeadReader::new();
        assert_eq!(r.push(HEAD, HEAD.len()).unwrap(), Some(HEAD.len()));
    }

    #[test]
    fn head_over_limit_is_431() {
        let mut r = HeadReader::new();
        let e = r.push(HEAD, HEAD.len() - 1).unwrap_err();
        assert_eq!(hint_status(&e), Some(431));
        // Byte by byte: fails on reaching the limit, never buffers beyond it.
        let mut r = HeadReader::new();
        let limit = 10;
        for (i, b) in HEAD.iter().enumerate() {
            let res = r.push(std::slice::from_ref(b), limit);
            if i + 1 < limit {
                assert_eq!(res.unwrap(), None);
            } else {
                assert_eq!(hint_status(&res.unwrap_err()), Some(431));
                break;
            }
        }
        assert!(r.take().len() <= limit);
    }

    #[test]
    fn head_byte_at_a_time_is_linear() {
        let limit = 16 * 1024;
        let head_of = |size: usize| {
            let mut head = b"GET / HTTP/1.1\r\n".to_vec();
            while head.len() < size - 40 {
                head.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n");
            }
            head.extend_from_slice(b"\r\n");
            head
        };
        // Pushes one byte at a time; counts how often the buffer was reallocated.
        let bytewise = |head: &[u8]| {
            let mut r = HeadReader::new();
            let (mut done, mut capacity, mut grown) = (None, 0, 0);
            for b in head {
                done = r.push(std::slice::from_ref(b), limit).unwrap();
                if r.buf.capacity() != capacity {
                    (capacity, grown) = (r.buf.capacity(), grown + 1);
                }
            }
            (done, r.take(), grown)
        };
        let (small, head) = (head_of(limit / SCALE), head_of(limit));
        // Rescanning the buffer on every push would take 64x as long, not 8x.
        let (done, taken, grown) = assert_linear_time("bytewise head", &small[..], &head[..], bytewise);
        assert_eq!(done, Some(1));
        assert_eq!(taken, head);
        // Each byte is copied in once, the buffer growing by doubling.
        assert!(grown < 20, "reallocated {grown} times");
    }

    fn read_all(framing: BodyFraming, parts: &[&[u8]]) -> Result<(Vec<u8>, bool, usize), RemoteProtocolError> {
        let mut r = BodyReader::new(framing);
        let mut body = Vec::new();
        let mut finished = false;
        let mut unconsumed = 0;
        for part in parts {
            let c = r.push(part)?;
            body.extend_from_slice(&c.data);
            unconsumed += part.len() - c.consumed;
            finished = c.finished;
            if r.failed() {
                // Data decoded before a failure came first: now the error.
                r.push(&[])?;
            }
        }
        Ok((body, finished, unconsumed))
    }

    #[test]
    fn length_body() {
        assert_eq!(read_all(BodyFraming::Length(5), &[b"he", b"llo!!"]).unwrap(), (b"hello".to_vec(), true, 2));
        assert_eq!(read_all(BodyFraming::Length(5), &[b"he"]).unwrap(), (b"he".to_vec(), false, 0));
    }

    #[test]
    fn zero_length_body_is_finished_at_once() {
        let mut r = BodyReader::new(BodyFraming::Length(0));
        assert_eq!(r.push(b"").unwrap(), BodyChunk { data: vec![], consumed: 0, finished: true });
        assert_eq!(r.push(b"x").unwrap(), BodyChunk { data: vec![], consumed: 0, finished: true });
        assert!(r.eof());
    }

    #[test]
    fn huge_length_body() {
        let mut r = BodyReader::new(BodyFraming::Length(u64::MAX));
        let c = r.push(b"abc").unwrap();
        assert_eq!((c.data.as_slice(), c.consumed, c.finished), (&b"abc"[..], 3, false));
        assert!(!r.eof());
    }

    #[test]
    fn until_eof_body() {
        let mut r = BodyReader::new(BodyFraming::UntilEof);
        assert_eq!(r.push(b"abc").unwrap(), BodyChunk { data: b"abc".to_vec(), consumed: 3, finished: false });
        assert_eq!(r.push(b"").unwrap(), BodyChunk { data: vec![], consumed: 0, finished: false });
        assert!(r.eof());
        assert!(r.push(b"x").unwrap().finished);
    }

    #[test]
    fn eof_mid_body_is_not_legitimate() {
        let mut r = BodyReader::new(BodyFraming::Length(3));
        r.push(b"a").unwrap();
        assert!(!r.eof());
        let mut r = BodyReader::new(BodyFraming::Chunked);
        r.push(b"3\r\nab").unwrap();
        assert!(!r.eof());
        let mut r = BodyReader::new(BodyFraming::Chunked);
        r.push(b"0\r\n\r\n").unwrap();
        assert!(r.eof());
    }

    const CHUNKED: &[u8] =
        b"5;name=\"va;l\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0 ; last\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT";

    #[test]
    fn chunked_body_whole() {
        let (body, finished, unconsumed) = read_all(BodyFraming::Chunked, &[CHUNKED]).unwrap();
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
        assert!(finished);
        assert_eq!(unconsumed, 4);
    }

    #[test]
    fn chunked_body_split_everywhere() {
        for i in 0..=CHUNKED.len() {
            for j in i..=CHUNKED.len() {
                let parts = [&CHUNKED[..i], &CHUNKED[i..j], &CHUNKED[j..]];
                let (body, finished, unconsumed) = read_all(BodyFraming::Chunked, &parts).unwrap();
                assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "{i} {j}");
                assert!(finished);
                assert_eq!(unconsumed, 4);
            }
        }
    }

    #[test]
    fn chunked_body_byte_at_a_time() {
        let mut r = BodyReader::new(BodyFraming::Chunked);
        let mut body = Vec::new();
        let mut end = None;
        for (i, b) in CHUNKED.iter().enumerate() {
            let c = r.push(std::slice::from_ref(b)).unwrap();
            body.extend_from_slice(&c.data);
            if c.finished && end.is_none() {
                assert_eq!(c.consumed, 1);
                end = Some(i + 1);
            }
        }
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(end, Some(CHUNKED.len() - 4));
    }

    #[test]
    fn chunked_without_trailers() {
        let (body, finished, _) = read_all(BodyFraming::Chunked, &[b"3\r\nabc\r\n0\r\n\r\n"]).unwrap();
        assert_eq!((body.as_slice(), finished), (&b"abc"[..], true));
    }

    #[test]
    fn chunked_errors() {
        for bad in [
            &b"\r\n"[..],             // no size
            b";ext\r\n",              // no size
            b" 5\r\n",                // leading space
            b"g\r\n",                 // not hex
            b"5\n",                   // bare LF
            b"5;ext\n",               // bare LF after extension
            b"5\r\r\n",               // stray CR
            b"3\r\nabcX\r\n",         // data longer than size
            b"3\r\nabc\rX",           // broken CRLF
            b"0\r\nX: 1\n\r\n",       // trailer not CRLF
            b"0\r\n\n",               // final line not CRLF
            b"11111111111111111\r\n", // 17 hex digits overflow
        ] {
            let e = read_all(BodyFraming::Chunked, &[bad]).unwrap_err();
            assert_eq!(hint_status(&e), Some(400), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn chunked_errors_are_sticky() {
        // After a malformed body, bytes that would be valid again are not read.
        let mut r = BodyReader::new(BodyFraming::Chunked);
        assert!(r.push(b"5\r\nHello").is_ok());
        let e = r.push(b"XX").unwrap_err();
        assert_eq!(r.push(b"\r\n0\r\n\r\n"), Err(e.clone()));
        assert_eq!(r.push(b""), Err(e));
        assert!(!r.eof());
    }

    #[test]
    fn chunked_max_size_is_fine() {
        let mut r = BodyReader::new(BodyFraming::Chunked);
        let c = r.push(b"ffffffffffffffff\r\nab").unwrap();
        assert_eq!((c.data.as_slice(), c.finished), (&b"ab"[..], false));
    }

    #[test]
    fn chunked_size_line_is_bounded() {
        let mut r = BodyReader::new(BodyFraming::Chunked);
        assert!(r.push(b"5;").is_ok());
        let ext = vec![b'x'; MAX_CHUNK_LINE - 2];
        // Exactly at the limit is still buffered...
        assert!(r.push(&ext).is_ok());
        // ...one more byte is refused.
        assert!(r.push(b"x").is_err());
        // A long line in one push is refused without buffering it all.
        let mut r = BodyReader::new(BodyFraming::Chunked);
        let mut line = b"5;".to_vec();
        line.extend(std::iter::repeat(b'x').take(1 << 20));
        assert!(r.push(&line).is_err());
        // A line of exactly MAX_CHUNK_LINE bytes including CRLF is accepted.
        let mut r = BodyReader::new(BodyFraming::Chunked);
        let mut line = b"1;".to_vec();
        line.extend(std::iter::repeat(b'x').take(MAX_CHUNK_LINE - 4));
        line.extend_from_slice(b"\r\nZ\r\n0\r\n\r\n");
        let c = r.push(&line).unwrap();
        assert_eq!((c.data.as_slice(), c.finished), (&b"Z"[..], true));
    }

    pub(super) fn encode(mut enc: BodyEncoding, data: &[u8], finished: bool) -> Vec<u8> {
        encode_body(&mut enc, data, finished).unwrap()
    }

    #[test]
    fn encode_raw() {
        assert_eq!(encode(BodyEncoding::Raw, b"abc", false), b"abc");
        assert_eq!(encode(BodyEncoding::Raw, b"abc", true), b"abc");
        assert_eq!(encode(BodyEncoding::Raw, b"", true), b"");
    }

    #[test]
    fn encode_with_declared_length() {
        let mut enc = BodyEncoding::Length(5);
        assert_eq!(encode_body(&mut enc, b"Hel", false).unwrap(), b"Hel");
        assert_eq!(enc, BodyEncoding::Length(2));
        let err = encode_body(&mut enc, b"lo!", false).unwrap_err();
        assert_eq!(err.message(), "Too much data for declared Content-Length");
        let err = encode_body(&mut enc, b"l", true).unwrap_err();
        assert_eq!(err.message(), "Too little data for declared Content-Length");
        assert_eq!(enc, BodyEncoding::Length(2), "a refused piece changes nothing");
        assert_eq!(encode_body(&mut enc, b"lo", true).unwrap(), b"lo");
    }

    #[test]
    fn encode_chunked() {
        assert_eq!(encode(BodyEncoding::Chunked, b"abc", false), b"3\r\nabc\r\n");
        assert_eq!(encode(BodyEncoding::Chunked, b"abc", true), b"3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(encode(BodyEncoding::Chunked, b"", false), b"");
        assert_eq!(encode(BodyEncoding::Chunked, b"", true), b"0\r\n\r\n");
        let data = vec![b'z'; 300];
        let mut expected = b"12c\r\n".to_vec();
        expected.extend_from_slice(&data);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(encode(BodyEncoding::Chunked, &data, false), expected);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let mut wire = encode(BodyEncoding::Chunked, b"hello ", false);
        wire.extend(encode(BodyEncoding::Chunked, b"world", true));
        let (body, finished, unconsumed) = read_all(BodyFraming::Chunked, &[&wire]).unwrap();
        assert_eq!((body.as_slice(), finished, unconsumed), (&b"hello world"[..], true, 0));
    }

    #[test]
    fn parse_error_statuses() {
        assert_eq!(hint_status(&parse_error(httparse::Error::TooManyHeaders)), Some(431));
        let e = parse_error(httparse::Error::Token);
        assert_eq!((e.message(), hint_status(&e)), ("Bad HTTP message", Some(400)));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::handshake::{client, server};
    use proptest::prelude::*;

    /// Feeds `wire` to a chunked reader in pieces cut at `cuts`.
    fn decode_in_pieces(wire: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, bool, usize), RemoteProtocolError> {
        let mut r = BodyReader::new(BodyFraming::Chunked);
        let (mut body, mut finished, mut used, mut start) = (Vec::new(), false, 0, 0);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        for end in points {
            let c = r.push(&wire[start..end])?;
            body.extend_from_slice(&c.data);
            used += c.consumed;
            finished |= c.finished;
            start = end;
        }
        Ok((body, finished, used))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn chunked_round_trips(pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
                               cuts in prop::collection::vec(any::<usize>(), 0..8)) {
            let mut wire = Vec::new();
            for p in &pieces {
                wire.extend(super::tests::encode(BodyEncoding::Chunked, p, false));
            }
            wire.extend(super::tests::encode(BodyEncoding::Chunked, b"", true));
            let (body, finished, used) = decode_in_pieces(&wire, &cuts).unwrap();
            prop_assert_eq!(body, pieces.concat());
            prop_assert!(finished);
            prop_assert_eq!(used, wire.len());
        }

        #[test]
        fn chunked_never_panics(wire in prop::collection::vec(any::<u8>(), 0..200),
                                cuts in prop::collection::vec(any::<usize>(), 0..8)) {
            let _ = decode_in_pieces(&wire, &cuts);
        }

        #[test]
        fn head_parsers_never_panic(head in prop::collection::vec(any::<u8>(), 0..300), max in 0usize..20) {
            let _ = server::parse_request(&head, max);
            let _ = client::parse_response(&head, "dGhlIHNhbXBsZSBub25jZQ==", &[], max);
            let mut r = HeadReader::new();
            let _ = r.push(&head, max * 16);
        }

        #[test]
        fn near_valid_heads_never_panic(tail in "[ -~\r\n\t]{0,120}") {
            let request = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n{tail}\r\n\r\n");
            let _ = server::parse_request(request.as_bytes(), 100);
            let response = format!("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n{tail}\r\n\r\n");
            let _ = client::parse_response(response.as_bytes(), "k", &[], 100);
            let response = format!("HTTP/1.1 400 No\r\n{tail}\r\n\r\n");
            let _ = client::parse_response(response.as_bytes(), "k", &[], 100);
        }
    }
}
