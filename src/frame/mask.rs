//! Masking (RFC 6455 section 5.3): XOR with a 4-byte key, 16 bytes at a
//! time with SIMD (wasm `simd128`, x86-64 SSE2), 8 at a time otherwise.
//!
//! Measured (1 MiB masked send through the JS package): the previous
//! word-at-a-time loop, whose `copy_from_slice` per 8-byte chunk was not
//! inlined at `opt-level = "s"`, masked at about 230 MB/s; see
//! docs/bench.md for the current figures.

use std::mem::MaybeUninit;

/// XORs `data` with `key`, starting `offset` bytes into the frame's payload
/// (so a payload masked in pieces gives the same result as in one go).
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    mask_checking::<false>(data, key, offset);
}

/// As [`apply_mask`], and whether the unmasked bytes are all ASCII: text
/// is checked as it is unmasked, in the same pass, so that an ASCII
/// payload need not be read again to be validated and to be handed to JS
/// as Latin-1 (three passes over a 64 KiB message became one).
pub(crate) fn apply_mask_ascii(data: &mut [u8], key: [u8; 4], offset: u64) -> bool {
    !mask_checking::<true>(data, key, offset)
}

/// `apply_mask`; with `CHECK`, also whether any unmasked byte has its high
/// bit set (without, the answer means nothing and costs nothing).
#[inline(always)]
fn mask_checking<const CHECK: bool>(data: &mut [u8], key: [u8; 4], offset: u64) -> bool {
    // Rotate the key so that data[0] lines up with key[offset % 4].
    let key = rotate(key, (offset % 4) as usize);
    let n = lead(data.as_ptr(), data.len());
    if n == 0 {
        return mask_in_place::<CHECK>(data, key);
    }
    // From the 16-byte boundary on (see `lead`), then the first 16 bytes
    // (of 64 or more) as one block, masked from a copy taken before the
    // rest overlapped them.
    let mut first = [0u8; 16];
    first.copy_from_slice(&data[..16]);
    let high = mask_in_place::<CHECK>(&mut data[n..], rotate(key, n));
    let high = mask_in_place::<CHECK>(&mut first, key) | high;
    if let Ok(head) = <&mut [u8; 16]>::try_from(&mut data[..16]) {
        *head = first;
    }
    high
}

/// `mask_checking` with the key already rotated for `data[0]`.
#[inline]
fn mask_in_place<const CHECK: bool>(data: &mut [u8], key: [u8; 4]) -> bool {
    let (done, mut high) = wide::<CHECK>(data, key);
    // `done` is a multiple of 4, so the key is still aligned for the tail:
    // whole words, then bytes (small payloads are all tail).
    let word = u32::from_ne_bytes(key);
    let mut seen = 0;
    let mut words = data[done..].chunks_exact_mut(4);
    for chunk in &mut words {
        if let Ok(bytes) = <&mut [u8; 4]>::try_from(chunk) {
            let plain = u32::from_ne_bytes(*bytes) ^ word;
            seen |= plain;
            *bytes = plain.to_ne_bytes();
        }
    }
    for (byte, k) in words.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
        seen |= u32::from(*byte);
    }
    if CHECK {
        high |= seen & 0x8080_8080 != 0;
    }
    high
}

/// Appends `src` to `out`, masked with `key` starting `offset` bytes into
/// the payload: one pass over the bytes where copying and then masking in
/// place takes two.
pub(crate) fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: u64) {
    let key = rotate(key, (offset % 4) as usize);
    let len = src.len();
    out.reserve(len);
    let start = out.len();
    let spare = &mut out.spare_capacity_mut()[..len];
    // The first 16 bytes as one block, then from the destination's 16-byte
    // boundary on (see `lead`; a frame's payload follows its header, often
    // 14 bytes): the bytes in between are written twice, the same both times.
    let n = lead(spare.as_ptr() as *const u8, len);
    if n > 0 {
        mask_into(&mut spare[..16], &src[..16], key);
    }
    mask_into(&mut spare[n..], &src[n..], rotate(key, n));
    // SAFETY: `mask_into` initialises all of its destination: spare[n..],
    // and spare[..16] (n < 16) when n > 0, so the `len` bytes after `start`.
    unsafe { out.set_len(start + len) };
}

/// Writes `src` masked with `key` (rotated for `src[0]`) into `dst`, as long.
#[inline]
fn mask_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    let done = wide_into(dst, src, key);
    // `done` is a multiple of 4, so the key is still aligned for the tail.
    for (i, (dst, byte)) in dst[done..].iter_mut().zip(&src[done..]).enumerate() {
        dst.write(byte ^ key[i % 4]);
    }
}

/// Where masking `len` bytes at `ptr` should start its wide path: at the
/// next 16-byte boundary (the bytes before it go as one unaligned block),
/// so that its 16-byte stores never straddle a cache line; 0 when aligned
/// or short. In wasm that matters: with the payload 14 bytes past a
/// boundary (after a 64 KiB+ frame's header, or in the binding's scratch
/// buffer), V8 masked in place at 15 GB/s instead of 50, and while copying
/// at 14-17 GB/s instead of 28-40.
fn lead(ptr: *const u8, len: usize) -> usize {
    if len < 64 {
        return 0;
    }
    (ptr as usize).wrapping_neg() % 16
}

/// The key as seen from `shift` bytes into it (one rotate, not four loads).
fn rotate(key: [u8; 4], shift: usize) -> [u8; 4] {
    u32::from_le_bytes(key).rotate_right(8 * (shift % 4) as u32).to_le_bytes()
}

/// Masks a prefix of `data` whose length is a multiple of 4, as much as the
/// wide path handles: its length, and with `CHECK` whether any masked
/// byte has its high bit set.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn wide<const CHECK: bool>(data: &mut [u8], key: [u8; 4]) -> (usize, bool) {
    use core::arch::wasm32::{u32x4_splat, u8x16_bitmask, v128, v128_or};
    let k = u32x4_splat(u32::from_ne_bytes(key));
    let blocks = data.len() / 16;
    let ptr = data.as_mut_ptr();
    let mut seen = u32x4_splat(0);
    let mut i = 0;
    // Four vectors per iteration, each loaded, masked and stored in turn
    // (see `wide_into`; written out: at opt-level "s" a `for` over the four
    // stayed a loop), then one at a time. `seen` ORs what was stored: one
    // more instruction per vector, left out when not `CHECK`.
    while i + 4 <= blocks {
        // SAFETY: blocks i..i+4 lie within `data` (i + 4 <= len / 16), which
        // is borrowed mutably; v128_load/v128_store take unaligned addresses.
        unsafe {
            let p = ptr.add(i * 16) as *mut v128;
            let a = xor_block(p, k);
            let b = xor_block(p.add(1), k);
            let c = xor_block(p.add(2), k);
            let d = xor_block(p.add(3), k);
            if CHECK {
                seen = v128_or(seen, v128_or(v128_or(a, b), v128_or(c, d)));
            }
        }
        i += 4;
    }
    while i < blocks {
        // SAFETY: block i lies within `data` (i < len / 16); unaligned access is allowed.
        let v = unsafe { xor_block(ptr.add(i * 16) as *mut v128, k) };
        if CHECK {
            seen = v128_or(seen, v);
        }
        i += 1;
    }
    (blocks * 16, CHECK && u8x16_bitmask(seen) != 0)
}

/// XORs the 16 bytes at `p` with `k` in place; returns the result.
///
/// # Safety
/// `p` must be valid for reads and writes of 16 bytes (any alignment).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn xor_block(p: *mut core::arch::wasm32::v128, k: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{v128_load, v128_store, v128_xor};
    // SAFETY: as the caller guarantees.
    unsafe {
        let v = v128_xor(v128_load(p), k);
        v128_store(p, v);
        v
    }
}

/// Writes `src` masked with `key` into a prefix of `dst` (as long as `src`)
/// whose length is a multiple of 4, as much as the wide path handles, and
/// returns its length.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn wide_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) -> usize {
    use core::arch::wasm32::{u32x4_splat, v128, v128_load, v128_store, v128_xor};
    let k = u32x4_splat(u32::from_ne_bytes(key));
    let blocks = src.len().min(dst.len()) / 16;
    let (from, to) = (src.as_ptr() as *const v128, dst.as_mut_ptr() as *mut v128);
    let mut i = 0;
    // Four vectors per iteration, each loaded, masked and stored in turn.
    // Not four loads then four stores as natively: LLVM does not keep that
    // order for wasm (it emitted the vectors as 0, 3, 2, 1, each loaded and
    // stored in turn), which in V8 masked about 10% slower than in sequence
    // with the destination aligned, and half as fast with it misaligned.
    while i + 4 <= blocks {
        // SAFETY: blocks i..i+4 lie within both `src` and `dst` (i + 4 <=
        // len / 16); `dst` is borrowed mutably and does not overlap `src`
        // (a shared borrow); v128_load/v128_store take unaligned addresses,
        // and storing initialises the MaybeUninit bytes.
        unsafe {
            v128_store(to.add(i), v128_xor(v128_load(from.add(i)), k));
            v128_store(to.add(i + 1), v128_xor(v128_load(from.add(i + 1)), k));
            v128_store(to.add(i + 2), v128_xor(v128_load(from.add(i + 2)), k));
            v128_store(to.add(i + 3), v128_xor(v128_load(from.add(i + 3)), k));
        }
        i += 4;
    }
    while i < blocks {
        // SAFETY: block i lies within both buffers (i < len / 16), as above.
        unsafe { v128_store(to.add(i), v128_xor(v128_load(from.add(i)), k)) };
        i += 1;
    }
    blocks * 16
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unused_unsafe)]
fn wide_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) -> usize {
    use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128};
    // SAFETY: SSE2 is part of the x86-64 baseline.
    let k = unsafe { _mm_set1_epi32(i32::from_ne_bytes(key)) };
    let blocks = src.len().min(dst.len()) / 16;
    let (from, to) = (src.as_ptr() as *const __m128i, dst.as_mut_ptr() as *mut __m128i);
    let mut i = 0;
    // Four loads, then four stores: with the loads first, a source and
    // destination whose addresses agree modulo 4 KiB (power-of-two sizes
    // from the allocator) stall far less on false store-to-load aliasing.
    while i + 4 <= blocks {
        // SAFETY: blocks i..i+4 lie within both `src` and `dst` (i + 4 <=
        // len / 16); `dst` is borrowed mutably and does not overlap `src`;
        // the loadu/storeu forms take unaligned addresses, and storing
        // initialises the MaybeUninit bytes.
        unsafe {
            let (a, b, c, d) = (
                _mm_loadu_si128(from.add(i)),
                _mm_loadu_si128(from.add(i + 1)),
                _mm_loadu_si128(from.add(i + 2)),
                _mm_loadu_si128(from.add(i + 3)),
            );
            _mm_storeu_si128(to.add(i), _mm_xor_si128(a, k));
            _mm_storeu_si128(to.add(i + 1), _mm_xor_si128(b, k));
            _mm_storeu_si128(to.add(i + 2), _mm_xor_si128(c, k));
            _mm_storeu_si128(to.add(i + 3), _mm_xor_si128(d, k));
        }
        i += 4;
    }
    while i < blocks {
        // SAFETY: block i lies within both buffers (i < len / 16), as above.
        unsafe { _mm_storeu_si128(to.add(i), _mm_xor_si128(_mm_loadu_si128(from.add(i)), k)) };
        i += 1;
    }
    blocks * 16
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[inline]
fn wide_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) -> usize {
    words_into(dst, src, key)
}

/// The portable `wide_into`: 8 bytes at a time.
#[cfg_attr(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"), allow(dead_code))]
#[inline]
fn words_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) -> usize {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut done = 0;
    for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        if let Ok(bytes) = <[u8; 8]>::try_from(s) {
            let masked = (u64::from_ne_bytes(bytes) ^ word).to_ne_bytes();
            for (d, b) in d.iter_mut().zip(masked) {
                d.write(b);
            }
            done += 8;
        }
    }
    done
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unused_unsafe)]
fn wide<const CHECK: bool>(data: &mut [u8], key: [u8; 4]) -> (usize, bool) {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi32, _mm_setzero_si128, _mm_storeu_si128,
        _mm_xor_si128,
    };
    let blocks = data.len() / 16;
    let ptr = data.as_mut_ptr();
    // SAFETY: SSE2 is part of the x86-64 baseline. (Newer compilers call
    // these intrinsics safe, hence the allow.)
    #[allow(unused_unsafe)]
    let (k, mut seen) = unsafe { (_mm_set1_epi32(i32::from_ne_bytes(key)), _mm_setzero_si128()) };
    let mut i = 0;
    while i + 4 <= blocks {
        // SAFETY: blocks i..i+4 lie within `data` (i + 4 <= len / 16), which
        // is borrowed mutably; the loadu/storeu forms take unaligned addresses.
        unsafe {
            let p = ptr.add(i * 16) as *mut __m128i;
            let (a, b, c, d) =
                (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)), _mm_loadu_si128(p.add(2)), _mm_loadu_si128(p.add(3)));
            let (a, b, c, d) = (_mm_xor_si128(a, k), _mm_xor_si128(b, k), _mm_xor_si128(c, k), _mm_xor_si128(d, k));
            _mm_storeu_si128(p, a);
            _mm_storeu_si128(p.add(1), b);
            _mm_storeu_si128(p.add(2), c);
            _mm_storeu_si128(p.add(3), d);
            if CHECK {
                seen = _mm_or_si128(seen, _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)));
            }
        }
        i += 4;
    }
    while i < blocks {
        // SAFETY: block i lies within `data` (i < len / 16); unaligned access is allowed.
        unsafe {
            let p = ptr.add(i * 16) as *mut __m128i;
            let v = _mm_xor_si128(_mm_loadu_si128(p), k);
            _mm_storeu_si128(p, v);
            if CHECK {
                seen = _mm_or_si128(seen, v);
            }
        }
        i += 1;
    }
    // SAFETY: SSE2, as above.
    (blocks * 16, CHECK && unsafe { _mm_movemask_epi8(seen) } != 0)
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
#[inline]
fn wide<const CHECK: bool>(data: &mut [u8], key: [u8; 4]) -> (usize, bool) {
    words::<CHECK>(data, key)
}

/// The portable path: 8 bytes at a time as `u64`s (through array
/// references, which compile to plain loads and stores; `copy_from_slice`
/// per chunk became a `memcpy` call at `opt-level = "s"`).
#[cfg_attr(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"), allow(dead_code))]
#[inline]
fn words<const CHECK: bool>(data: &mut [u8], key: [u8; 4]) -> (usize, bool) {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut seen = 0;
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) {
            let plain = u64::from_ne_bytes(*bytes) ^ word;
            seen |= plain;
            *bytes = plain.to_ne_bytes();
        }
    }
    (data.len() / 8 * 8, CHECK && seen & 0x8080_8080_8080_8080 != 0)
}

// `pub(crate)`: tests/wasm.rs compiles this file in, to run
// `check_ascii_masking` on the SIMD path.
#[cfg(test)]
pub(crate) mod tests {
    use super::apply_mask;

    fn naive(data: &[u8], key: [u8; 4], offset: u64) -> Vec<u8> {
        data.iter().enumerate().map(|(i, b)| b ^ key[((offset as usize) + i) % 4]).collect()
    }

    #[test]
    fn matches_bytewise_masking_at_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut buf = data[..len].to_vec();
                apply_mask(&mut buf, key, offset);
                assert_eq!(buf, naive(&data[..len], key, offset), "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn matches_at_every_alignment() {
        // Every start alignment, so every `lead` (0 to 15) for 64 bytes and
        // more; the bytes around the slice stay as they were.
        let key = [0x01, 0x80, 0xfe, 0x7f];
        let data: Vec<u8> = (0..=255u8).cycle().take(1100).collect();
        for start in 0..16 {
            for len in [0, 3, 15, 16, 17, 63, 64, 65, 100, 150, 257, 1000] {
                for offset in 0..4 {
                    let mut buf = data.clone();
                    apply_mask(&mut buf[start..start + len], key, offset);
                    let mut expected = data.clone();
                    expected[start..start + len].copy_from_slice(&naive(&data[start..start + len], key, offset));
                    assert_eq!(buf, expected, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn portable_path_matches_too() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..100u8).collect();
        for len in 0..data.len() {
            let mut buf = data[..len].to_vec();
            let (done, high) = super::words::<true>(&mut buf, key);
            assert_eq!(done % 4, 0);
            assert_eq!(high, naive(&data[..done], key, 0).iter().any(|&b| b >= 0x80), "len {len}");
            for (i, byte) in buf[done..].iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
            assert_eq!(buf, naive(&data[..len], key, 0), "len {len}");
        }
    }

    #[test]
    fn ascii_check_sees_every_high_bit() {
        check_ascii_masking();
    }

    /// `apply_mask_ascii`: the answer, with masking as `apply_mask`'s, at
    /// every start alignment (every `lead`), length and key offset, for
    /// ASCII and for one byte 0x80 or above at each position (in the first
    /// block, the wide loops, the tail words and the last bytes).
    pub(crate) fn check_ascii_masking() {
        let key = [0x5a, 0x80, 0x01, 0xff];
        let plain: Vec<u8> = (0..200u32).map(|i| (i * 7 % 128) as u8).collect();
        for start in 0..16 {
            for len in [0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 70, 100, 129, 150] {
                for offset in 0..4 {
                    for bad in std::iter::once(None).chain((0..len).map(Some)) {
                        let mut text = plain[..len].to_vec();
                        if let Some(at) = bad {
                            text[at] = 0x80 | (at as u8);
                        }
                        let mut buf = vec![0xEEu8; start];
                        buf.extend(naive(&text, key, offset));
                        buf.extend([0xEE; 3]);
                        let ascii = super::apply_mask_ascii(&mut buf[start..start + len], key, offset);
                        assert_eq!(ascii, bad.is_none(), "start {start} len {len} offset {offset} bad {bad:?}");
                        assert_eq!(buf[start..start + len], text[..], "start {start} len {len} offset {offset}");
                        assert!(buf[..start].iter().chain(&buf[start + len..]).all(|&b| b == 0xEE));
                    }
                }
            }
        }
    }

    #[test]
    fn extend_masked_matches_at_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).cycle().take(200).collect();
        for len in 0..data.len() {
            for offset in 0..5 {
                let mut out = b"head".to_vec();
                super::extend_masked(&mut out, &data[..len], key, offset);
                assert_eq!(&out[..4], b"head");
                assert_eq!(out[4..], naive(&data[..len], key, offset), "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn extend_masked_matches_at_every_destination_alignment() {
        // Every destination alignment, so every `lead` (0 to 15).
        let key = [0x01, 0x80, 0xfe, 0x7f];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for prefix in 0..16 {
            for len in [63, 64, 65, 100, 257, 1000] {
                for offset in 0..4 {
                    let mut out = vec![0xAA; prefix];
                    super::extend_masked(&mut out, &data[..len], key, offset);
                    assert_eq!(out[..prefix], vec![0xAA; prefix][..]);
                    assert_eq!(
                        out[prefix..],
                        naive(&data[..len], key, offset),
                        "prefix {prefix} len {len} offset {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn portable_extend_matches_too() {
        let key = [9, 8, 7, 6];
        let data: Vec<u8> = (0..100u8).collect();
        for len in 0..data.len() {
            let mut out = Vec::with_capacity(len);
            let spare = &mut out.spare_capacity_mut()[..len];
            let done = super::words_into(spare, &data[..len], key);
            assert_eq!(done, len / 8 * 8);
            // SAFETY: words_into initialised spare[..done].
            let got: Vec<u8> = spare[..done].iter().map(|b| unsafe { b.assume_init() }).collect();
            assert_eq!(got, naive(&data[..done], key, 0));
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
