//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! Each piece is validated as it arrives (so bad bytes fail in the piece
//! where they appear, not at the end of the message); a code point split
//! across pieces is held back (at most 3 bytes) until it completes.
//!
//! Each piece is validated once in the usual cases (all valid, or a code
//! point cut at its end) by [`is_valid`]: natively `simdutf8::basic`
//! (SIMD; std's validator ran at about 200 MB/s on multi-byte text here),
//! in wasm the same algorithm written for V8 (2.3 times faster there than
//! `simdutf8`'s wasm build, which is then not linked: -1.1 KB gzipped).
//! Only invalid input takes `std::str::from_utf8` again, for the exact
//! answer (`valid_up_to`, `error_len`).
//!
//! Also here, for the wasm binding: [`push_utf16`], UTF-8 to UTF-16.

use crate::close::INVALID_FRAME_PAYLOAD_DATA;
use crate::error::ParseFailed;
use std::borrow::Cow;
use std::mem::MaybeUninit;

#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    /// Bytes of an incomplete code point carried from the previous piece.
    carry: Vec<u8>,
}

fn invalid() -> ParseFailed {
    ParseFailed::new(INVALID_FRAME_PAYLOAD_DATA, "invalid UTF-8 in text message")
}

/// Where a code point cut at the end of `data` starts: the last lead byte
/// among the last 3 bytes if too few bytes follow it; else `data.len()`.
/// Says nothing of validity: only where to split before validating.
fn cut_point(data: &[u8]) -> usize {
    let len = data.len();
    for back in 1..=len.min(3) {
        let b = data[len - back];
        if b & 0xC0 != 0x80 {
            // Bytes a sequence with this lead takes (1 for ASCII and for
            // bytes that cannot lead: nothing is cut then).
            let need = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xFF => 4,
                _ => 1,
            };
            return if back < need { len - back } else { len };
        }
    }
    len
}

impl Utf8Stream {
    /// Validates the next piece; returns the complete text in it. With
    /// `last`, the message ends here and nothing may be left over.
    pub(crate) fn push(&mut self, mut data: Vec<u8>, last: bool) -> Result<String, ParseFailed> {
        let Some((mut prefix, taken)) = self.complete_carry(&data, last)? else {
            return Ok(String::new());
        };
        data.drain(..taken);
        let valid = self.valid_prefix(&data, last)?.len();
        data.truncate(valid);
        // SAFETY: `data` holds exactly the bytes `valid_prefix` just
        // returned as a `&str` (its first `valid` bytes).
        let text = unsafe { String::from_utf8_unchecked(data) };
        if prefix.is_empty() {
            Ok(text)
        } else {
            prefix.push_str(&text);
            Ok(prefix)
        }
    }

    /// As [`Utf8Stream::push`] for a borrowed piece: the text is borrowed
    /// from it unless a carried code point had to be joined to it.
    pub(crate) fn push_slice<'a>(&mut self, data: &'a [u8], last: bool) -> Result<Cow<'a, str>, ParseFailed> {
        let Some((mut prefix, taken)) = self.complete_carry(data, last)? else {
            return Ok(Cow::Borrowed(""));
        };
        let text = self.valid_prefix(&data[taken..], last)?;
        if prefix.is_empty() {
            Ok(Cow::Borrowed(text))
        } else {
            prefix.push_str(text);
            Ok(Cow::Owned(prefix))
        }
    }

    /// Completes a code point carried from the previous piece with as few
    /// bytes of `data` as it needs: its text (empty if nothing was carried)
    /// and how many bytes it took; `None` if `data` ran out first.
    fn complete_carry(&mut self, data: &[u8], last: bool) -> Result<Option<(String, usize)>, ParseFailed> {
        let mut prefix = String::new();
        let mut taken = 0;
        while !self.carry.is_empty() {
            // At most 4 bytes: std's validator is as good as any here.
            match std::str::from_utf8(&self.carry) {
                Ok(text) => {
                    prefix.push_str(text);
                    self.carry.clear();
                }
                Err(e) if e.error_len().is_some() => return Err(invalid()),
                Err(_) => match data.get(taken) {
                    Some(&b) => {
                        self.carry.push(b);
                        taken += 1;
                    }
                    // Still incomplete and no more bytes.
                    None if last => return Err(invalid()),
                    None => return Ok(None),
                },
            }
        }
        Ok(Some((prefix, taken)))
    }

    /// The complete, valid text at the start of `data`; an incomplete code
    /// point at the end is carried (an error if `last`), anything else
    /// invalid is an error.
    fn valid_prefix<'a>(&mut self, data: &'a [u8], last: bool) -> Result<&'a str, ParseFailed> {
        // The usual cases, one validation: all valid, or valid up to a
        // code point cut at the end (large messages arrive in pieces).
        let cut = cut_point(data);
        if is_valid(&data[..cut]) {
            // SAFETY: `is_valid` just checked these bytes.
            let text = unsafe { std::str::from_utf8_unchecked(&data[..cut]) };
            if cut == data.len() {
                return Ok(text);
            }
            // The cut bytes must begin a valid code point (std's answer
            // for `data`: valid up to `cut`, no error yet).
            if matches!(std::str::from_utf8(&data[cut..]), Err(e) if e.error_len().is_none()) {
                if last {
                    return Err(invalid());
                }
                self.carry.extend_from_slice(&data[cut..]);
                return Ok(text);
            }
        }
        // Otherwise the exact answer (in practice: invalid), std's.
        let valid = match std::str::from_utf8(data) {
            Ok(text) => return Ok(text),
            Err(e) if e.error_len().is_some() => return Err(invalid()),
            Err(e) => e.valid_up_to(),
        };
        if last {
            return Err(invalid());
        }
        self.carry.extend_from_slice(&data[valid..]);
        // SAFETY: `from_utf8` just reported the first `valid` bytes of
        // `data` as valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(&data[..valid]) })
    }

    /// Whether the text so far ends between code points (nothing carried):
    /// then a piece that is all ASCII is valid as it is.
    pub(crate) fn at_boundary(&self) -> bool {
        self.carry.is_empty()
    }

    /// Forgets any carried bytes (a new message starts).
    pub(crate) fn reset(&mut self) {
        self.carry.clear();
    }
}

/// Whether `text` is all ASCII. In wasm, 16 bytes at a time with SIMD:
/// `str::is_ascii` goes 4 bytes at a time there (and a plain OR loop is
/// not vectorised), which cost more than decoding the text in JS.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) fn is_ascii(text: &(impl AsRef<[u8]> + ?Sized)) -> bool {
    use core::arch::wasm32::{u8x16_bitmask, v128, v128_load};
    let b = text.as_ref();
    let mut i = simd::skip_ascii(b, 0);
    while i + 16 <= b.len() {
        // SAFETY: the 16 bytes at `i` are in `b`; v128_load takes any
        // alignment.
        if u8x16_bitmask(unsafe { v128_load(b.as_ptr().add(i).cast::<v128>()) }) != 0 {
            return false;
        }
        i += 16;
    }
    b[i..].is_ascii()
}

/// Whether `text` is all ASCII.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) fn is_ascii(text: &(impl AsRef<[u8]> + ?Sized)) -> bool {
    text.as_ref().is_ascii()
}

/// Appends `text` as UTF-16 code units to `out`. For the wasm binding:
/// JS turns UTF-16 into a string several times faster than it decodes
/// multi-byte UTF-8 (measured in Node 20: 1 GB/s and more against 0.25).
///
/// In wasm, `simd::blocks` decodes all but the last 17 bytes or so, 16
/// at a time; the rest (and all of it natively) goes code point by code
/// point, except that two ASCII bytes in a row start a 16-byte block,
/// widened at once and kept as far as it is ASCII. Measured in wasm
/// (Node 20) on 1 KiB, against the scalar decoder alone: 2.5 GB/s against
/// 1.1 on mixed text (2-, 3- and 4-byte code points among ASCII), 3.2
/// against 1.0 on Cyrillic, 2.6 against 1.4 on CJK, 1.8 against 0.9 on
/// emoji with spaces.
///
/// Of the scalar decoder, measured before the blocks: 3 times faster than
/// `str::chars` on ASCII, 1.6 on Latin text with accents, the same on CJK
/// and mixed text. The gate on the second byte matters: trying a block at
/// every ASCII byte (one space between words) cost more. A branchless
/// decoder was 3 times slower (each length waits on the previous one),
/// and bounds-checked reads 5 to 15%.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn push_utf16(text: &str, out: &mut Vec<u16>) {
    let b = text.as_bytes();
    let n = b.len();
    // Never more UTF-16 units than UTF-8 bytes (4 bytes make 2 units), so
    // `at <= i` throughout: what is written at `at` fits when the bytes
    // read at `i` are there.
    out.reserve(n);
    let start = out.len();
    // SAFETY: `dst` has room for `n` units (reserved above). Reads are at
    // `i..n` (`i + 16 <= n` for a block; a lead byte's continuation bytes
    // are there, `text` being valid UTF-8); writes are at most as many
    // units as bytes read, into reserved space; the length is set to what
    // was written.
    unsafe {
        let src = b.as_ptr();
        let dst = out.as_mut_ptr().add(start);
        let (mut i, mut at) = blocks(b, dst);
        // The blocks stop at a byte, maybe within a code point they
        // decoded: its other bytes are skipped.
        while i < n && (*src.add(i) as i8) < -64 {
            i += 1;
        }
        while i < n {
            let lead = *src.add(i);
            if lead < 0x80 {
                if i + 16 <= n && *src.add(i + 1) < 0x80 {
                    let ascii = widen16(&*src.add(i).cast(), &mut *dst.add(at).cast());
                    i += ascii;
                    at += ascii;
                } else {
                    *dst.add(at) = u16::from(lead);
                    i += 1;
                    at += 1;
                }
                continue;
            }
            let lead = u32::from(lead);
            let cont = |k: usize| u32::from(*src.add(i + k) & 0x3F);
            if lead < 0xE0 {
                *dst.add(at) = ((lead & 0x1F) << 6 | cont(1)) as u16;
                i += 2;
                at += 1;
            } else if lead < 0xF0 {
                *dst.add(at) = ((lead & 0x0F) << 12 | cont(1) << 6 | cont(2)) as u16;
                i += 3;
                at += 1;
            } else {
                // Beyond the BMP: a surrogate pair; the high one is
                // 0xD800 + ((c - 0x1_0000) >> 10).
                let c = (lead & 0x07) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3);
                *dst.add(at) = (0xD7C0 + (c >> 10)) as u16;
                *dst.add(at + 1) = (0xDC00 | (c & 0x3FF)) as u16;
                i += 4;
                at += 2;
            }
        }
        out.set_len(start + at);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd::blocks;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use simd::is_valid;

/// Natively, no blocks: the scalar decoder does all of `text`.
///
/// # Safety
/// None needed; `unsafe` as the SIMD version.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(dead_code)]
unsafe fn blocks(_text: &[u8], _dst: *mut u16) -> (usize, usize) {
    (0, 0)
}

/// Whether all of `data` is valid UTF-8 (natively `simdutf8`'s SIMD).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn is_valid(data: &[u8]) -> bool {
    simdutf8::basic::from_utf8(data).is_ok()
}

/// Whether all of `data` is valid UTF-8 (wasm without SIMD: std's).
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
pub(crate) fn is_valid(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok()
}

/// UTF-8 validation and UTF-16 transcoding with wasm SIMD.
///
/// V8 (Node 20) builds a constant vector anew at each use, even in a
/// loop (3 to 5 instructions), and spills what does not fit in registers:
/// so the constants here are made once per call, opaque to LLVM (which
/// would fold them back) by [`opaque`], and the loops kept small.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// `v`, as a value LLVM cannot see through: kept in a register rather
    /// than rebuilt at each use.
    #[inline(always)]
    fn opaque(v: v128) -> v128 {
        core::hint::black_box(v)
    }

    #[inline(always)]
    fn splat(b: u8) -> v128 {
        opaque(u8x16_splat(b))
    }

    /// Each byte shifted left by `by` (in 16-bit lanes: the caller masks
    /// off the bits from the byte below).
    #[inline(always)]
    fn shl(v: v128, by: u32) -> v128 {
        i16x8_shl(v, by)
    }

    /// Each byte shifted right by `by` (in 16-bit lanes: the caller masks
    /// off the bits from the byte above).
    #[inline(always)]
    fn shr(v: v128, by: u32) -> v128 {
        u16x8_shr(v, by)
    }

    // ---- validation ---------------------------------------------------

    /// Whether all of `data` is valid UTF-8: the lookup algorithm of
    /// Keiser and Lemire ("Validating UTF-8 in less than one instruction
    /// per byte", 2021), as `simdutf8` has it (the same tables), written
    /// for V8: `simdutf8`'s wasm build keeps its 64-byte blocks in memory
    /// and calls a function per block, whose constants V8 rebuilds. Measured
    /// in Node 20 on mixed multi-byte text: 6.7 GB/s against 2.9 (1 KiB),
    /// 7.2 against 3.1 (64 KiB). Under 32 bytes, std's (the last block
    /// is read as the 16 bytes before the end, with the 16 before).
    pub(crate) fn is_valid(data: &[u8]) -> bool {
        let n = data.len();
        if n < 32 {
            return std::str::from_utf8(data).is_ok();
        }
        let k = Checks::new();
        let p = data.as_ptr();
        let zero = u8x16_splat(0);
        // The 16 bytes before the block, errors so far, and where the
        // block ends inside a code point (bad if the next one is ASCII).
        let (mut prev, mut error, mut cut) = (zero, zero, zero);
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: bytes `i..i + 16` are in `data`; any alignment.
            let block = unsafe { v128_load(p.add(i).cast::<v128>()) };
            i += 16;
            if u8x16_bitmask(block) == 0 {
                error = v128_or(error, cut);
                cut = zero;
                prev = block;
                i = skip_ascii(data, i);
                continue;
            }
            error = v128_or(error, k.errors(prev, block));
            cut = u8x16_sub_sat(block, k.cut_max);
            prev = block;
        }
        if i < n {
            // The last 16 bytes, some checked already (again is harmless);
            // their own cut replaces the previous block's, now inside.
            // SAFETY: `32 <= n`: bytes `n - 32..n` are in `data`.
            let (prev, block) =
                unsafe { (v128_load(p.add(n - 32).cast::<v128>()), v128_load(p.add(n - 16).cast::<v128>())) };
            error = v128_or(error, k.errors(prev, block));
            cut = u8x16_sub_sat(block, k.cut_max);
        }
        !v128_any_true(v128_or(error, cut))
    }

    /// Skips ASCII from `i`, 64 bytes at a time; returns where it stopped
    /// (also `is_ascii`'s main loop).
    #[inline(always)]
    pub(super) fn skip_ascii(data: &[u8], mut i: usize) -> usize {
        while i + 64 <= data.len() {
            // SAFETY: bytes `i..i + 64` are in `data`; any alignment.
            let any = unsafe {
                let p = data.as_ptr().add(i).cast::<v128>();
                v128_or(v128_or(v128_load(p), v128_load(p.add(1))), v128_or(v128_load(p.add(2)), v128_load(p.add(3))))
            };
            if u8x16_bitmask(any) != 0 {
                break;
            }
            i += 64;
        }
        i
    }

    // The error classes: each table sets, for its nibble, the bits of the
    // classes that nibble may belong to; an error is a bit all three set.
    const TOO_SHORT: u8 = 1 << 0;
    const TOO_LONG: u8 = 1 << 1;
    const OVERLONG_3: u8 = 1 << 2;
    const TOO_LARGE: u8 = 1 << 3;
    const SURROGATE: u8 = 1 << 4;
    const OVERLONG_2: u8 = 1 << 5;
    const TOO_LARGE_1000: u8 = 1 << 6;
    const OVERLONG_4: u8 = 1 << 6;
    const TWO_CONTS: u8 = 1 << 7;
    const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

    /// By the high nibble of the byte before.
    const BYTE_1_HIGH: [u8; 16] = {
        let mut t = [TOO_LONG; 16];
        let mut i = 8;
        while i < 12 {
            t[i] = TWO_CONTS;
            i += 1;
        }
        t[12] = TOO_SHORT | OVERLONG_2;
        t[13] = TOO_SHORT;
        t[14] = TOO_SHORT | OVERLONG_3 | SURROGATE;
        t[15] = TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4;
        t
    };

    /// By the low nibble of the byte before.
    const BYTE_1_LOW: [u8; 16] = {
        let mut t = [CARRY | TOO_LARGE | TOO_LARGE_1000; 16];
        t[0] = CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4;
        t[1] = CARRY | OVERLONG_2;
        t[2] = CARRY;
        t[3] = CARRY;
        t[4] = CARRY | TOO_LARGE;
        t[13] = CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE;
        t
    };

    /// By the high nibble of the byte.
    const BYTE_2_HIGH: [u8; 16] = {
        let mut t = [TOO_SHORT; 16];
        t[8] = TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4;
        t[9] = TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE;
        t[10] = TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE;
        t[11] = TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE;
        t
    };

    /// The vectors `is_valid` uses, made once per call.
    struct Checks {
        byte_1_high: v128,
        byte_1_low: v128,
        byte_2_high: v128,
        x0f: v128,
        x80: v128,
        /// Above 0x7F after subtracting these: leads of 3 (and 4) bytes,
        /// leads of 4.
        third: v128,
        fourth: v128,
        /// Above these in the last 3 bytes: a code point cut at the end.
        cut_max: v128,
    }

    impl Checks {
        fn new() -> Self {
            let table = |t: [u8; 16]| opaque(v128_load_bytes(t));
            let mut cut_max = [0xFF; 16];
            (cut_max[13], cut_max[14], cut_max[15]) = (0xEF, 0xDF, 0xBF);
            Checks {
                byte_1_high: table(BYTE_1_HIGH),
                byte_1_low: table(BYTE_1_LOW),
                byte_2_high: table(BYTE_2_HIGH),
                x0f: splat(0x0F),
                x80: splat(0x80),
                third: splat(0xE0 - 0x80),
                fourth: splat(0xF0 - 0x80),
                cut_max: table(cut_max),
            }
        }

        /// The errors in `block`, `prev` being the 16 bytes before it
        /// (non-zero bytes where there are).
        #[inline(always)]
        fn errors(&self, prev: v128, block: v128) -> v128 {
            let prev1 = i8x16_shuffle::<15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30>(prev, block);
            let prev2 = i8x16_shuffle::<14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29>(prev, block);
            let prev3 = i8x16_shuffle::<13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28>(prev, block);
            let nibble = |v: v128| v128_and(v, self.x0f);
            let special = v128_and(
                v128_and(
                    i8x16_swizzle(self.byte_1_high, nibble(shr(prev1, 4))),
                    i8x16_swizzle(self.byte_1_low, nibble(prev1)),
                ),
                i8x16_swizzle(self.byte_2_high, nibble(shr(block, 4))),
            );
            // Second and third continuation bytes, where a lead 2 or 3
            // bytes back says they must be: the one case the tables leave
            // (TWO_CONTS set there, and right).
            let must = v128_or(u8x16_sub_sat(prev2, self.third), u8x16_sub_sat(prev3, self.fourth));
            v128_xor(v128_and(must, self.x80), special)
        }
    }

    /// The 16 bytes `t` as a vector.
    #[inline(always)]
    fn v128_load_bytes(t: [u8; 16]) -> v128 {
        // SAFETY: 16 bytes read from a 16-byte array; any alignment.
        unsafe { v128_load(t.as_ptr().cast::<v128>()) }
    }

    // ---- UTF-8 to UTF-16 ----------------------------------------------

    /// For each byte value `m`, the shuffle that packs the units of 8
    /// whose bits are set in `m`, from their low bytes in the first half
    /// of a vector and their high bytes in the second: the positions of
    /// the set bits, lowest first, each as the pair `bit, bit + 8` (4 KB,
    /// 0.6 gzipped; 8-byte entries widened at each use cost 7% more time).
    static PACK: [[u8; 16]; 256] = {
        let mut table = [[0; 16]; 256];
        let mut m = 0;
        while m < 256 {
            let (mut bit, mut k) = (0, 0);
            while bit < 8 {
                if m >> bit & 1 != 0 {
                    table[m][2 * k] = bit as u8;
                    table[m][2 * k + 1] = bit as u8 + 8;
                    k += 1;
                }
                bit += 1;
            }
            m += 1;
        }
        table
    };

    /// The vectors `block` uses, made once per call.
    struct Masks {
        /// Above it (signed), bytes that start a code point.
        cont_max: v128,
        /// Above these (signed), leads of 3 and of 4 bytes, and ASCII.
        two_max: v128,
        three_max: v128,
        x3f: v128,
        x0f: v128,
        x07: v128,
        x03: v128,
        x04: v128,
        xd8: v128,
        xdc: v128,
    }

    impl Masks {
        fn new() -> Self {
            Masks {
                cont_max: splat(0xBF),
                two_max: splat(0xDF),
                three_max: splat(0xEF),
                x3f: splat(0x3F),
                x0f: splat(0x0F),
                x07: splat(0x07),
                x03: splat(0x03),
                x04: splat(0x04),
                xd8: splat(0xD8),
                xdc: splat(0xDC),
            }
        }
    }

    /// Decodes `text` 16 bytes at a time while 2 more bytes follow (a
    /// code point that starts in a block ends there). Returns how many
    /// bytes were decoded (the last code point may end after them) and
    /// how many units were written at `dst`.
    ///
    /// Each byte of a block is decoded as if a code point started there
    /// (from it and the two bytes after it), into the low and the high
    /// byte of a unit; then the units of continuation bytes are dropped
    /// and the rest packed together by a shuffle from [`PACK`]. A 4-byte
    /// code point makes two units: the high surrogate at its lead byte and
    /// the low one at the next byte, kept for it. So a block decodes the
    /// code points that start in it, whatever came before, and moves on by
    /// 16 bytes (15 if its last byte starts a surrogate pair, whose low
    /// unit would fall in the next block); the next block drops the
    /// continuation bytes it starts with. Blocks with only 1- and 2-byte
    /// code points, and those with no 4-byte one, skip the longer ones'
    /// work. No table indexed by the whole block's pattern (simdutf's is
    /// 8 KB, and advances by 12 bytes at most): this one is 4 KB.
    ///
    /// # Safety
    /// `dst` has room for `text.len()` units.
    pub(super) unsafe fn blocks(text: &[u8], dst: *mut u16) -> (usize, usize) {
        let n = text.len();
        if n < 18 {
            return (0, 0);
        }
        let k = Masks::new();
        let src = text.as_ptr();
        let (mut i, mut at) = (0, 0);
        while i + 18 <= n {
            // SAFETY: bytes `i..i + 18` are in `text`; `at <= i` (each
            // unit comes from a byte of its own), so the 16 units `block`
            // may write at `at` are within the `n` `dst` has room for.
            let (read, written) = unsafe { block(src.add(i), dst.add(at), &k) };
            i += read;
            at += written;
        }
        (i, at)
    }

    /// Decodes the code points that start in the 16 bytes at `src` into
    /// units at `dst`; returns the bytes done (16, or 15 to leave a 4-byte
    /// code point at the end to the next block) and the units written.
    ///
    /// # Safety
    /// 18 bytes are readable at `src`, 16 units writable at `dst`.
    #[inline(always)]
    unsafe fn block(src: *const u8, dst: *mut u16, k: &Masks) -> (usize, usize) {
        // SAFETY: v128 loads and stores take any alignment; the caller
        // vouches for the 18 bytes read and the 16 units written.
        unsafe {
            let b0 = v128_load(src.cast::<v128>());
            let high = u32::from(u8x16_bitmask(b0));
            if high == 0 {
                let to = dst.cast::<v128>();
                v128_store(to, u16x8_extend_low_u8x16(b0));
                v128_store(to.add(1), u16x8_extend_high_u8x16(b0));
                return (16, 16);
            }
            let b1 = v128_load(src.add(1).cast::<v128>());
            let ascii = i8x16_gt(b0, u8x16_splat(0xFF));
            // Bytes that are not continuation bytes (0x80..=0xBF) start a
            // code point, each making one unit.
            let mut keep = u32::from(i8x16_bitmask(i8x16_gt(b0, k.cont_max)));
            // Each byte decoded as a lead of 2 bytes, then of 3 and 4
            // where it is one (the masks, signed compares, take in ASCII
            // too: ASCII is set last), as low and high bytes of units.
            let c1 = v128_and(b1, k.x3f);
            // 110xxxyy 10zzzzzz: 00000xxx yyzzzzzz.
            let mut lo = v128_or(v128_andnot(shl(b0, 6), k.x3f), c1);
            let mut hi = v128_and(shr(b0, 2), k.x07);
            let three = i8x16_gt(b0, k.two_max);
            let mut read = 16;
            if u32::from(i8x16_bitmask(three)) & high != 0 {
                let c2 = v128_and(v128_load(src.add(2).cast::<v128>()), k.x3f);
                // 1110wwww 10xxxxyy 10zzzzzz: wwwwxxxx yyzzzzzz.
                let lo3 = v128_or(v128_andnot(shl(b1, 6), k.x3f), c2);
                let hi3 = v128_or(v128_andnot(shl(b0, 4), k.x0f), v128_and(shr(c1, 2), k.x0f));
                lo = v128_bitselect(lo3, lo, three);
                hi = v128_bitselect(hi3, hi, three);
                let four = i8x16_gt(b0, k.three_max);
                let fours = u32::from(i8x16_bitmask(four)) & high;
                if fours != 0 {
                    let four = v128_andnot(four, ascii);
                    // 11110uuu 10uuwwww 10xxxxyy 10zzzzzz makes 110110vv
                    // vvwwwwxx 110111xx yyzzzzzz, vvvv = uuuuu - 1. As a
                    // lead of 3 bytes, the lead made 0uuuuuww wwxxxxyy
                    // (`hi3`, `lo3`): vvvvww is that high byte minus 4;
                    // and the byte after it wwwwxxxx yyzzzzzz, which
                    // gives the low surrogate, kept there.
                    let v = u8x16_sub(hi3, k.x04);
                    let lo4 = v128_or(v128_andnot(shl(v, 4), k.x0f), v128_and(shr(lo3, 4), k.x0f));
                    let hi4 = v128_or(v128_and(shr(v, 4), k.x0f), k.xd8);
                    lo = v128_bitselect(lo4, lo, four);
                    hi = v128_bitselect(hi4, hi, four);
                    let after = i8x16_shuffle::<15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30>(
                        u8x16_splat(0),
                        four,
                    );
                    lo = v128_bitselect(lo3, lo, after);
                    hi = v128_bitselect(v128_or(v128_and(hi3, k.x03), k.xdc), hi, after);
                    keep |= fours << 1;
                    if fours & 0x8000 != 0 {
                        keep &= 0x7FFF;
                        read = 15;
                    }
                }
            }
            lo = v128_bitselect(b0, lo, ascii);
            hi = v128_andnot(hi, ascii);
            (read, pack(lo, hi, keep, dst))
        }
    }

    /// Stores the units whose bits are set in `keep` (16 bits) one after
    /// the other at `dst`: their low bytes are in `lo`, high in `hi`.
    /// Returns how many; writes 16 units at most.
    ///
    /// # Safety
    /// 16 units are writable at `dst`.
    #[inline(always)]
    unsafe fn pack(lo: v128, hi: v128, keep: u32, dst: *mut u16) -> usize {
        let (first, second) = (keep as usize & 0xFF, keep as usize >> 8 & 0xFF);
        let n = first.count_ones() as usize;
        // SAFETY: 16 bytes read from an entry of PACK (`first` and
        // `second` are below 256); `n <= 8`, so both stores of 8 units
        // are within the 16.
        unsafe {
            let packer = |m: usize| v128_load(PACK[m].as_ptr().cast::<v128>());
            v128_store(dst.cast::<v128>(), i8x16_swizzle(i64x2_shuffle::<0, 2>(lo, hi), packer(first)));
            v128_store(dst.add(n).cast::<v128>(), i8x16_swizzle(i64x2_shuffle::<1, 3>(lo, hi), packer(second)));
        }
        n + second.count_ones() as usize
    }
}

/// Widens 16 bytes to 16 units (`dst` may be uninitialised); returns how
/// many leading bytes are ASCII (16 if all are), the units that are right.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn widen16(src: &[u8; 16], dst: &mut [MaybeUninit<u16>; 16]) -> usize {
    use core::arch::wasm32::{
        u16x8_extend_high_u8x16, u16x8_extend_low_u8x16, u8x16_bitmask, v128, v128_load, v128_store,
    };
    // SAFETY: 16 bytes read from `src` and 32 written to `dst`, both
    // exactly their sizes; v128 loads and stores take any alignment.
    unsafe {
        let v = v128_load(src.as_ptr().cast::<v128>());
        let to = dst.as_mut_ptr().cast::<v128>();
        v128_store(to, u16x8_extend_low_u8x16(v));
        v128_store(to.add(1), u16x8_extend_high_u8x16(v));
        // u16::trailing_zeros(0) is 16.
        u8x16_bitmask(v).trailing_zeros() as usize
    }
}

/// Widens 16 bytes to 16 units; returns how many leading bytes are ASCII
/// (16 if all are), the units that are right.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn widen16(src: &[u8; 16], dst: &mut [MaybeUninit<u16>; 16]) -> usize {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(u16::from(s));
    }
    src.iter().position(|&s| s >= 0x80).unwrap_or(16)
}

// `pub(crate)`: tests/wasm.rs compiles this file in, to run `check_utf16`
// (the SIMD path) in wasm.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Both entry points must agree on every input.
    fn feed(pieces: &[&[u8]]) -> Result<String, ParseFailed> {
        let mut owned = Utf8Stream::default();
        let mut borrowed = Utf8Stream::default();
        let (mut a, mut b) = (String::new(), String::new());
        let (mut ea, mut eb) = (None, None);
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            match owned.push(piece.to_vec(), last) {
                Ok(t) if ea.is_none() => a.push_str(&t),
                Err(e) if ea.is_none() => ea = Some(e),
                _ => {}
            }
            match borrowed.push_slice(piece, last) {
                Ok(t) if eb.is_none() => b.push_str(&t),
                Err(e) if eb.is_none() => eb = Some(e),
                _ => {}
            }
        }
        assert_eq!((&a, ea.as_ref().map(|e| e.code)), (&b, eb.as_ref().map(|e| e.code)), "{pieces:?}");
        match ea {
            Some(e) => Err(e),
            None => Ok(a),
        }
    }

    #[test]
    fn split_code_points_at_every_boundary() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                assert_eq!(feed(&[&bytes[..i], &bytes[i..j], &bytes[j..]]).as_deref(), Ok(text), "{i} {j}");
            }
        }
    }

    #[test]
    fn pieces_end_on_code_points() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(b"a\xF0\x9F".to_vec(), false).unwrap(), "a");
        assert_eq!(stream.push(b"\x98".to_vec(), false).unwrap(), "");
        assert_eq!(stream.push(b"\x80b".to_vec(), true).unwrap(), "😀b");
    }

    #[test]
    fn fails_fast_in_the_piece_with_the_bad_byte() {
        let mut stream = Utf8Stream::default();
        // 0xED 0xA0 starts a surrogate: invalid before the code point ends.
        assert!(stream.push(b"ok\xED".to_vec(), false).is_ok());
        assert_eq!(stream.push(b"\xA0".to_vec(), false).unwrap_err().code, 1007);
        // Above U+10FFFF, caught at its second byte.
        assert_eq!(feed(&[b"\xF4\x90", b"\x80\x80"]).unwrap_err().code, 1007);
    }

    #[test]
    fn rejects_overlongs_surrogates_and_truncation() {
        for bad in [&b"\xC0\xAF"[..], b"\xE0\x80\xAF", b"\xED\xA0\x80", b"\xF8\x88\x80\x80\x80", b"\xFF", b"\xCE"] {
            assert_eq!(feed(&[bad]).unwrap_err().code, 1007, "{bad:?}");
        }
        // Truncated at message end, even when split.
        assert_eq!(feed(&[b"\xE2\x82", b""]).unwrap_err().code, 1007);
        assert_eq!(feed(&[b"\xE2", b"\x82"]).unwrap_err().code, 1007);
    }

    /// xorshift64: enough randomness for these tests, and no dependency
    /// (this module also runs in wasm, from tests/wasm.rs).
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Code points of every UTF-8 length, at the edges of each length.
    const CHARS: [char; 12] =
        ['a', ' ', '\u{7f}', '\u{80}', 'é', '\u{7ff}', '\u{800}', '你', '\u{ffff}', '\u{10000}', '😀', '\u{10ffff}'];

    /// Strings that try `push_utf16` at every alignment of its 16-byte
    /// blocks: each code point after 0 to 40 ASCII bytes, then more text;
    /// each pair of code points, repeated over several blocks, after 0 to
    /// 15 ASCII bytes (so every length starts, and is cut by a block end,
    /// at every position, next to every other); random mixes with runs of
    /// ASCII; and random mixes with none, of every length to 64 code
    /// points (the blocks with no ASCII byte, ending anywhere).
    pub(crate) fn utf16_cases() -> Vec<String> {
        let mut cases = Vec::new();
        for c in CHARS {
            for ascii in 0..=40 {
                for tail in ["", "b", "bc", "é", "😀", "abcdefghijklmnopqrstuvwxyz", "ab你好"] {
                    cases.push(format!("{}{c}{tail}{c}", "x".repeat(ascii)));
                }
            }
        }
        for a in CHARS {
            for b in CHARS {
                for ascii in 0..16 {
                    cases.push(format!("{}{}", "x".repeat(ascii), format!("{a}{b}").repeat(10)));
                }
            }
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..rng.below(80) {
                if rng.below(3) == 0 {
                    s.push_str(&"q".repeat(rng.below(20)));
                } else {
                    s.push(CHARS[rng.below(CHARS.len())]);
                }
            }
            cases.push(s);
        }
        for len in 0..=64 {
            for _ in 0..40 {
                cases.push((0..len).map(|_| CHARS[3 + rng.below(CHARS.len() - 3)]).collect());
            }
        }
        cases
    }

    /// Checks `push_utf16` on `utf16_cases()`, appending after other text.
    pub(crate) fn check_utf16() {
        for text in utf16_cases() {
            let mut out = vec![7u16; 3];
            push_utf16(&text, &mut out);
            let want: Vec<u16> = [7, 7, 7].into_iter().chain(text.encode_utf16()).collect();
            assert_eq!(out, want, "{text:?}");
            assert_eq!(is_ascii(&text), text.is_ascii(), "{text:?}");
        }
    }

    #[test]
    fn utf16_matches_std_at_every_block_alignment() {
        check_utf16();
    }

    /// Checks `is_valid` (SIMD in wasm) against std: every 2-byte
    /// sequence, and those of 3 and 4 bytes from the bytes that matter,
    /// in ASCII on either side of a 16-byte block boundary, at the end,
    /// and cut at the end; then random text, mostly valid, of 0 to 300
    /// bytes.
    pub(crate) fn check_is_valid() {
        const EDGES: [u8; 8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF];
        let mut seqs = Vec::new();
        for a in 0..=255 {
            for b in 0..=255 {
                seqs.push(vec![a, b]);
            }
        }
        for a in 0xC0..=0xFF {
            for b in 0..=255 {
                seqs.extend(EDGES.map(|c| vec![a, b, c]));
            }
        }
        for a in 0xF0..=0xF5 {
            for b in 0..=255 {
                for c in EDGES {
                    seqs.extend(EDGES.map(|d| vec![a, b, c, d]));
                }
            }
        }
        let check = |bytes: &[u8]| assert_eq!(is_valid(bytes), std::str::from_utf8(bytes).is_ok(), "{bytes:?}");
        let mut buf = [b'a'; 40];
        for seq in &seqs {
            for at in [14, 15, 16, 40 - seq.len()] {
                buf[at..at + seq.len()].copy_from_slice(seq);
                check(&buf);
                buf[at..at + seq.len()].fill(b'a');
            }
            for cut in 1..seq.len() {
                buf[40 - cut..].copy_from_slice(&seq[..cut]);
                check(&buf);
            }
            buf[36..].fill(b'a');
        }
        let mut rng = Rng(0x5851_F42D_4C95_7F2D);
        for _ in 0..20_000 {
            let (mut bytes, len) = (Vec::new(), rng.below(300));
            while bytes.len() < len {
                if rng.below(40) == 0 {
                    bytes.push(rng.below(256) as u8);
                } else {
                    let mut b = [0; 4];
                    bytes.extend_from_slice(CHARS[rng.below(CHARS.len())].encode_utf8(&mut b).as_bytes());
                }
            }
            check(&bytes);
        }
        // Valid text with one byte changed, or cut: a single error
        // anywhere, in any kind of block, also after or inside ASCII runs
        // long enough to be skipped 64 bytes at a time.
        for _ in 0..5_000 {
            let (mut bytes, len) = (Vec::new(), 32 + rng.below(400));
            while bytes.len() < len {
                if rng.below(8) == 0 {
                    let run = rng.below(200);
                    bytes.extend((0..run).map(|i| b' ' + (i % 90) as u8));
                }
                let mut b = [0; 4];
                bytes.extend_from_slice(CHARS[rng.below(CHARS.len())].encode_utf8(&mut b).as_bytes());
            }
            let at = rng.below(bytes.len());
            let was = bytes[at];
            bytes[at] = rng.below(256) as u8;
            check(&bytes);
            bytes[at] = was;
            check(&bytes[..bytes.len() - rng.below(4)]);
        }
    }

    #[test]
    fn is_valid_matches_std() {
        check_is_valid();
    }

    #[test]
    fn random_pieces_match_std() {
        check_random_pieces();
    }

    /// Random text cut at random places, and random bytes: the pieces
    /// together give what std's validator gives for the whole.
    pub(crate) fn check_random_pieces() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for round in 0..20_000 {
            let mut bytes = Vec::new();
            if round % 2 == 0 {
                // Valid text, from code points of every length.
                for _ in 0..rng.below(60) {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(CHARS[rng.below(CHARS.len())].encode_utf8(&mut buf).as_bytes());
                }
            } else {
                // Mostly valid, with a few random bytes (invalid, often).
                for _ in 0..rng.below(60) {
                    if rng.below(8) == 0 {
                        bytes.push(rng.below(256) as u8);
                    } else {
                        let mut buf = [0; 4];
                        bytes.extend_from_slice(CHARS[rng.below(CHARS.len())].encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            let mut cuts: Vec<usize> = (0..rng.below(5)).map(|_| rng.below(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            match (feed(&pieces), std::str::from_utf8(&bytes)) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(_)) => assert_eq!(e.code, 1007),
                (got, want) => panic!("{pieces:?}: {got:?} against std's {want:?}"),
            }
        }
    }

    /// A piece's text is all of it that is valid, up to a cut code point.
    #[test]
    fn cut_point_matches_std() {
        for text in ["", "a", "é", "你", "😀", "aé你😀"] {
            for end in 0..=text.len() {
                for start in 0..=end {
                    let bytes = &text.as_bytes()[start..end];
                    let mut stream = Utf8Stream::default();
                    let got = stream.valid_prefix(bytes, false).map(|t| t.len());
                    let want = match std::str::from_utf8(bytes) {
                        Ok(t) => Ok(t.len()),
                        Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
                        Err(_) => Err(1007),
                    };
                    assert_eq!(got.map_err(|e| e.code), want, "{bytes:?}");
                    if let Ok(valid) = want {
                        assert_eq!(stream.carry, &bytes[valid..], "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn utf16_matches_encode_utf16() {
        let mut out = vec![7u16];
        let mut want = vec![7u16];
        for text in [
            "",
            "a",
            "abcdefgh",
            "abcdefghi",
            "héllo wörld, ça va? Привет мир — 你好，世界 😀👍 ",
            "😀",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
            "12345678é12345678😀abc",
        ] {
            for i in 0..text.len() {
                if !text.is_char_boundary(i) {
                    continue;
                }
                let t = &text[i..];
                push_utf16(t, &mut out);
                want.extend(t.encode_utf16());
                assert_eq!(out, want, "{t:?}");
                assert_eq!(is_ascii(t), t.is_ascii());
            }
        }
    }
}
