//! Frames built by hand, byte by byte, for tests that feed exact input.
#![allow(dead_code)]

/// A frame as a client sends it: masked with `key`.
pub fn masked_with(key: [u8; 4], first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    push_len(&mut out, 0x80, payload.len() as u64);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A frame as a server sends it (unmasked).
pub fn plain(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    push_len(&mut out, 0, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// The second header byte and extended length for `len`, in the shortest form.
pub fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: u64) {
    if len <= 125 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
}
