//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! Each piece is validated as it arrives (so bad bytes fail in the piece
//! where they appear, not at the end of the message); a code point split
//! across pieces is held back (at most 3 bytes) until it completes.
//!
//! Validation is `simdutf8`'s (SIMD, with the same `valid_up_to` /
//! `error_len` answers as `std::str::from_utf8`): measured natively on
//! multi-byte text, std's validator ran at about 200 MB/s here. Each piece
//! is validated once in the usual cases (all valid, or a code point cut at
//! its end), with `simdutf8::basic`, which is faster than `compat` for not
//! keeping the error position; `compat` runs only on invalid input, for the
//! exact answer.

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
        if let Ok(text) = simdutf8::basic::from_utf8(&data[..cut]) {
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
        // Otherwise the exact answer (in practice: invalid).
        let valid = match simdutf8::compat::from_utf8(data) {
            Ok(text) => return Ok(text),
            Err(e) if e.error_len().is_some() => return Err(invalid()),
            Err(e) => e.valid_up_to(),
        };
        if last {
            return Err(invalid());
        }
        self.carry.extend_from_slice(&data[valid..]);
        // SAFETY: `compat::from_utf8` just reported the first `valid`
        // bytes of `data` as valid UTF-8.
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
    use core::arch::wasm32::{u8x16_bitmask, v128, v128_load, v128_or};
    let b = text.as_ref();
    let mut i = 0;
    while i + 64 <= b.len() {
        // SAFETY: the 64 bytes at `i` are in `b`; v128_load takes any
        // alignment.
        let acc = unsafe {
            let p = b.as_ptr().add(i).cast::<v128>();
            v128_or(
                v128_or(v128_load(p), v128_load(p.add(1))),
                v128_or(v128_load(p.add(2)), v128_load(p.add(3))),
            )
        };
        if u8x16_bitmask(acc) != 0 {
            return false;
        }
        i += 64;
    }
    while i + 16 <= b.len() {
        // SAFETY: as above, 16 bytes.
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
/// Code point by code point, except that two ASCII bytes in a row start a
/// 16-byte block, widened at once (SIMD in wasm) and kept as far as it is
/// ASCII. Measured in wasm on 1 KiB: 3 times faster than `str::chars`
/// on ASCII, 1.6 on Latin text with accents, the same on CJK and mixed
/// text, 6% slower on Cyrillic. The gate on the second byte matters:
/// trying a block at every ASCII byte (one space between words) cost more.
/// A branchless decoder was 3 times slower (each length waits on the
/// previous one), and bounds-checked reads 5 to 15%.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn push_utf16(text: &str, out: &mut Vec<u16>) {
    let b = text.as_bytes();
    let n = b.len();
    // Never more UTF-16 units than UTF-8 bytes (4 bytes make 2 units), so
    // `at <= i` throughout: what is written at `at` fits when the bytes
    // read at `i` are there.
    out.reserve(n);
    let start = out.len();
    // SAFETY: reads are at `i..n` (`i + 16 <= n` for a block; a lead byte's
    // continuation bytes are there, `text` being valid UTF-8); writes are
    // at most as many units as bytes read, into reserved space; the length
    // is set to what was written.
    unsafe {
        let src = b.as_ptr();
        let dst = out.as_mut_ptr().add(start);
        let (mut i, mut at) = (0, 0);
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

/// Widens 16 bytes to 16 units (`dst` may be uninitialised); returns how
/// many leading bytes are ASCII (16 if all are), the units that are right.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn widen16(src: &[u8; 16], dst: &mut [MaybeUninit<u16>; 16]) -> usize {
    use core::arch::wasm32::{u16x8_extend_high_u8x16, u16x8_extend_low_u8x16, u8x16_bitmask, v128, v128_load, v128_store};
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
    const CHARS: [char; 12] = ['a', ' ', '\u{7f}', '\u{80}', 'é', '\u{7ff}', '\u{800}', '你', '\u{ffff}', '\u{10000}', '😀', '\u{10ffff}'];

    /// Strings that try `push_utf16` at every alignment of its 16-byte
    /// blocks: each code point after 0 to 40 ASCII bytes, then more text;
    /// and random mixes with runs of ASCII.
    pub(crate) fn utf16_cases() -> Vec<String> {
        let mut cases = Vec::new();
        for c in CHARS {
            for ascii in 0..=40 {
                for tail in ["", "b", "bc", "é", "😀", "abcdefghijklmnopqrstuvwxyz", "ab你好"] {
                    cases.push(format!("{}{c}{tail}{c}", "x".repeat(ascii)));
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

    /// Random text cut at random places, and random bytes: the pieces
    /// together give what std's validator gives for the whole.
    #[test]
    fn random_pieces_match_std() {
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
        for text in ["", "a", "abcdefgh", "abcdefghi", "héllo wörld, ça va? Привет мир — 你好，世界 😀👍 ", "😀", "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}", "12345678é12345678😀abc"] {
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
