//! Writing frames.

use super::mask::{apply_mask, extend_masked};
use super::{Opcode, Rsv};

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub(crate) const MAX_HEADER: usize = 14;

/// Writes a frame's header for a payload of `len` bytes at the end of
/// `head` and returns where it starts: right-aligned, so that a frame built
/// in place needs no second copy, and with fixed-size stores only.
/// Inlined: it is on the wasm binding's send path (see its `finish_sent`).
#[inline]
fn header_before(
    head: &mut [u8; MAX_HEADER],
    fin: bool,
    rsv: Rsv,
    opcode: Opcode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> usize {
    let mut at = MAX_HEADER;
    if let Some(key) = mask {
        at -= 4;
        put(head, at, key);
    }
    let len = len as u64;
    let short_len = if len <= 125 {
        len as u8
    } else if len <= 0xFFFF {
        at -= 2;
        put(head, at, (len as u16).to_be_bytes());
        126
    } else {
        at -= 8;
        put(head, at, len.to_be_bytes());
        127
    };
    at -= 2;
    let b0 = (u8::from(fin) << 7) | rsv.to_byte() | opcode as u8;
    put(head, at, [b0, if mask.is_some() { 0x80 } else { 0 } | short_len]);
    at
}

/// `head[at..at + N] = bytes` through an array reference: a plain store,
/// where a slice copy at a variable offset is a library call at
/// `opt-level = "s"`.
fn put<const N: usize>(head: &mut [u8; MAX_HEADER], at: usize, bytes: [u8; N]) {
    if let Ok(dst) = <&mut [u8; N]>::try_from(&mut head[at..at + N]) {
        *dst = bytes;
    }
}

/// Appends one frame to `out`: header, then the payload (masked with `mask`
/// when given, as clients must).
pub(crate) fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: Rsv,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let mut h = [0u8; MAX_HEADER];
    let start = header_before(&mut h, fin, rsv, opcode, payload.len(), mask);
    out.reserve(MAX_HEADER - start + payload.len());
    out.extend_from_slice(&h[start..]);
    match mask {
        Some(key) => extend_masked(out, payload, key, 0),
        None => out.extend_from_slice(payload),
    }
}

/// Frames the payload `buf[MAX_HEADER..]` where it is: the header goes
/// just before it and the payload is masked in place. Returns where the
/// frame starts in `buf` (it ends at the end of `buf`). Saves the copy of
/// the payload into an output buffer. `buf` must hold `MAX_HEADER` bytes.
pub(crate) fn write_frame_in_place(
    buf: &mut [u8],
    fin: bool,
    rsv: Rsv,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
) -> usize {
    let (head, payload) = buf.split_at_mut(MAX_HEADER);
    let head: &mut [u8; MAX_HEADER] = head.try_into().expect("split at MAX_HEADER");
    if let Some(key) = mask {
        apply_mask(payload, key, 0);
    }
    header_before(head, fin, rsv, opcode, payload.len(), mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, true, Rsv::NONE, opcode, payload, mask);
        out
    }

    #[test]
    fn rfc_examples() {
        assert_eq!(frame(Opcode::Text, b"Hello", None), b"\x81\x05Hello");
        assert_eq!(
            frame(Opcode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d])),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        assert_eq!(frame(Opcode::Ping, b"Hello", None), b"\x89\x05Hello");
    }

    #[test]
    fn length_encodings_are_minimal() {
        for (len, header) in [
            (0usize, vec![0x82, 0]),
            (125, vec![0x82, 125]),
            (126, vec![0x82, 126, 0, 126]),
            (65535, vec![0x82, 126, 0xff, 0xff]),
            (65536, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let out = frame(Opcode::Binary, &vec![7; len], None);
            assert_eq!(&out[..header.len()], &header[..], "len {len}");
            assert_eq!(out.len(), header.len() + len);
        }
    }

    #[test]
    fn in_place_gives_the_same_frame() {
        for len in [0usize, 5, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d])] {
                let mut buf = vec![0xAA; MAX_HEADER];
                buf.extend_from_slice(&payload);
                let start = write_frame_in_place(&mut buf, true, Rsv::NONE, Opcode::Binary, mask);
                assert_eq!(buf[start..], frame(Opcode::Binary, &payload, mask)[..], "len {len}");
            }
        }
    }

    #[test]
    fn fin_and_rsv_bits() {
        let mut out = Vec::new();
        write_frame(&mut out, false, Rsv { rsv1: true, rsv2: false, rsv3: true }, Opcode::Continuation, b"", None);
        assert_eq!(out, [0x50, 0x00]);
    }
}
