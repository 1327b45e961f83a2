//! Writing frames.

use super::mask::{apply_mask, extend_masked};
use super::{Opcode, Rsv};

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub(crate) const MAX_HEADER: usize = 14;

/// A frame's header for a payload of `len` bytes: the bytes and how many.
fn header(fin: bool, rsv: Rsv, opcode: Opcode, len: usize, mask: Option<[u8; 4]>) -> ([u8; MAX_HEADER], usize) {
    let mut h = [0u8; MAX_HEADER];
    h[0] = (u8::from(fin) << 7) | rsv.to_byte() | opcode as u8;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = len as u64;
    let mut n = if len <= 125 {
        h[1] = mask_bit | len as u8;
        2
    } else if len <= 0xFFFF {
        h[1] = mask_bit | 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = mask_bit | 127;
        h[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        h[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    (h, n)
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
    let (h, n) = header(fin, rsv, opcode, payload.len(), mask);
    out.reserve(n + payload.len());
    out.extend_from_slice(&h[..n]);
    match mask {
        Some(key) => extend_masked(out, payload, key, 0),
        None => out.extend_from_slice(payload),
    }
}

/// Frames the payload `buf[MAX_HEADER..]` where it is: the header goes
/// just before it and the payload is masked in place. Returns where the
/// frame starts in `buf` (it ends at the end of `buf`). Saves the copy of
/// the payload into an output buffer. `buf` must hold `MAX_HEADER` bytes.
pub(crate) fn write_frame_in_place(buf: &mut [u8], fin: bool, rsv: Rsv, opcode: Opcode, mask: Option<[u8; 4]>) -> usize {
    let (head, payload) = buf.split_at_mut(MAX_HEADER);
    let (h, n) = header(fin, rsv, opcode, payload.len(), mask);
    if let Some(key) = mask {
        apply_mask(payload, key, 0);
    }
    head[MAX_HEADER - n..].copy_from_slice(&h[..n]);
    MAX_HEADER - n
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
