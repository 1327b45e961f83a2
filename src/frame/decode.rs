//! Parsing frame headers, httparse style: `Complete(header, length)` or
//! `Partial`, never allocating, and failing as soon as the bytes seen so far
//! are already wrong.

use super::{Opcode, Rsv};
use crate::error::ParseFailed;

/// The most bytes a frame header can take: 2 + 8 (length) + 4 (mask key).
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) fin: bool,
    pub(crate) rsv: Rsv,
    pub(crate) opcode: Opcode,
    pub(crate) payload_len: u64,
    pub(crate) mask: Option<[u8; 4]>,
}

/// The result of parsing from a buffer that may hold only part of a header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// The header and how many bytes it took.
    Complete(FrameHeader, usize),
    /// Everything but the mask key is here (the header's `mask` is `None`):
    /// enough to judge the frame before the key arrives.
    NeedMask(FrameHeader),
    /// More bytes are needed.
    Partial,
}

/// Parses one frame header. `client` says whether we are the client (and
/// so must receive unmasked frames).
pub(crate) fn parse_header(buf: &[u8], client: bool) -> Result<Status, ParseFailed> {
    let (b0, b1) = match buf {
        [b0, b1, ..] => (*b0, *b1),
        _ => return Ok(Status::Partial),
    };
    let fin = b0 & 0x80 != 0;
    let rsv = Rsv::from_byte(b0);
    let opcode =
        Opcode::from_u8(b0 & 0x0F).ok_or_else(|| ParseFailed::protocol(format!("Invalid opcode {:#x}", b0 & 0x0F)))?;
    if opcode.is_control() && !fin {
        return Err(ParseFailed::protocol("Invalid attempt to fragment control frame"));
    }
    let short_len = b1 & 0x7F;
    if opcode.is_control() && short_len > 125 {
        return Err(ParseFailed::protocol("Control frame with payload len > 125"));
    }
    let masked = b1 & 0x80 != 0;
    if masked && client {
        return Err(ParseFailed::protocol("client received unexpected masked frame"));
    }
    if !masked && !client {
        return Err(ParseFailed::protocol("server received unexpected unmasked frame"));
    }
    let len_bytes = match short_len {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask_bytes = if masked { 4 } else { 0 };
    let header_len = 2 + len_bytes + mask_bytes;
    // Validate the extended length as soon as it is here, before the mask.
    let ext = match buf.get(2..2 + len_bytes) {
        Some(ext) => ext,
        None => return Ok(Status::Partial),
    };
    let payload_len = match short_len {
        126 => {
            let len = u64::from(u16::from_be_bytes([ext[0], ext[1]]));
            if len <= 125 {
                return Err(ParseFailed::protocol("Payload length used 2 bytes when 1 would have sufficed"));
            }
            len
        }
        127 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(ext);
            let len = u64::from_be_bytes(raw);
            if len >> 63 != 0 {
                return Err(ParseFailed::protocol("8-byte payload length with non-zero MSB"));
            }
            if len <= 0xFFFF {
                return Err(ParseFailed::protocol("Payload length used 8 bytes when 2 would have sufficed"));
            }
            len
        }
        n => u64::from(n),
    };
    let mut header = FrameHeader { fin, rsv, opcode, payload_len, mask: None };
    match buf.get(2 + len_bytes..header_len) {
        None => return Ok(Status::NeedMask(header)),
        Some([a, b, c, d]) => header.mask = Some([*a, *b, *c, *d]),
        Some(_) => {}
    }
    Ok(Status::Complete(header, header_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8], client: bool) -> (FrameHeader, usize) {
        match parse_header(buf, client) {
            Ok(Status::Complete(h, n)) => (h, n),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    fn failure(buf: &[u8], client: bool) -> ParseFailed {
        parse_header(buf, client).expect_err("expected a failure")
    }

    #[test]
    fn unmasked_short() {
        let (h, n) = complete(b"\x81\x05Hello", true);
        assert_eq!(n, 2);
        assert_eq!(h, FrameHeader { fin: true, rsv: Rsv::NONE, opcode: Opcode::Text, payload_len: 5, mask: None });
    }

    #[test]
    fn masked_with_extended_lengths() {
        let (h, n) = complete(&[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4], false);
        assert_eq!((h.payload_len, h.mask, n), (256, Some([1, 2, 3, 4]), 8));
        let (h, n) = complete(&[0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9], false);
        assert_eq!((h.fin, h.opcode, h.payload_len, n), (false, Opcode::Binary, 65536, 14));
        let max = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(complete(&max, true).0.payload_len, (1 << 63) - 1);
    }

    #[test]
    fn partial_at_every_prefix() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9];
        let known = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: Opcode::Binary, payload_len: 65536, mask: None };
        for end in 0..full.len() {
            let expected = if end < 10 { Status::Partial } else { Status::NeedMask(known) };
            assert_eq!(parse_header(&full[..end], false), Ok(expected), "prefix {end}");
        }
    }

    #[test]
    fn failures_with_their_reasons() {
        assert_eq!(failure(b"\x83\x00", true).reason, "Invalid opcode 0x3");
        assert_eq!(failure(b"\x8B\x00", true).reason, "Invalid opcode 0xb");
        assert_eq!(failure(b"\x09\x00", true).reason, "Invalid attempt to fragment control frame");
        assert_eq!(failure(b"\x89\x7E", true).reason, "Control frame with payload len > 125");
        assert_eq!(failure(b"\x81\x80", true).reason, "client received unexpected masked frame");
        assert_eq!(failure(b"\x81\x00", false).reason, "server received unexpected unmasked frame");
        assert_eq!(failure(b"\x81\x7E\x00\x7D", true).reason, "Payload length used 2 bytes when 1 would have sufficed");
        assert_eq!(
            failure(&[0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], true).reason,
            "Payload length used 8 bytes when 2 would have sufficed"
        );
        assert_eq!(
            failure(&[0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], true).reason,
            "8-byte payload length with non-zero MSB"
        );
        assert!(parse_header(b"\x81\x7F", true).is_ok(), "cannot judge the length before it arrives");
        for f in [failure(b"\x83\x00", true), failure(b"\x81\x00", false)] {
            assert_eq!(f.code, 1002);
        }
    }
}
