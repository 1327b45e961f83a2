//! Masking (RFC 6455 section 5.3): XOR with a 4-byte key, a word at a time.

/// XORs `data` with `key`, starting `offset` bytes into the frame's payload
/// (so a payload masked in pieces gives the same result as in one go).
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    // Rotate the key so that data[0] lines up with key[offset % 4].
    let shift = (offset % 4) as usize;
    let key = [key[shift], key[(shift + 1) % 4], key[(shift + 2) % 4], key[(shift + 3) % 4]];
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so the key is still aligned.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(data: &[u8], key: [u8; 4], offset: u64) -> Vec<u8> {
        data.iter().enumerate().map(|(i, b)| b ^ key[((offset as usize) + i) % 4]).collect()
    }

    #[test]
    fn matches_bytewise_masking_at_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..70u8).collect();
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut buf = data[..len].to_vec();
                apply_mask(&mut buf, key, offset);
                assert_eq!(buf, naive(&data[..len], key, offset), "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 5.7: masked "Hello" with key 37 fa 21 3d.
        let mut buf = b"Hello".to_vec();
        apply_mask(&mut buf, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn pieces_equal_whole() {
        let key = [1, 2, 3, 4];
        let mut whole: Vec<u8> = (0..=255).collect();
        let mut pieces = whole.clone();
        apply_mask(&mut whole, key, 0);
        let (a, b) = pieces.split_at_mut(7);
        apply_mask(a, key, 0);
        apply_mask(b, key, 7);
        assert_eq!(whole, pieces);
    }
}
