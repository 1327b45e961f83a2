//! Writing frames.

use super::mask::extend_masked;
use super::{Opcode, Rsv};

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
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.reserve(14 + payload.len());
    out.push((u8::from(fin) << 7) | rsv.to_byte() | opcode as u8);
    let len = payload.len() as u64;
    if len <= 125 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            extend_masked(out, payload, key, 0);
        }
        None => out.extend_from_slice(payload),
    }
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
    fn fin_and_rsv_bits() {
        let mut out = Vec::new();
        write_frame(&mut out, false, Rsv { rsv1: true, rsv2: false, rsv3: true }, Opcode::Continuation, b"", None);
        assert_eq!(out, [0x50, 0x00]);
    }
}
