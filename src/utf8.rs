//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! Each piece is validated as it arrives (so bad bytes fail in the piece
//! where they appear, not at the end of the message); a code point split
//! across pieces is held back (at most 3 bytes) until it completes.
//!
//! Validation is `simdutf8`'s (SIMD, with the same `valid_up_to` /
//! `error_len` answers as `std::str::from_utf8`): measured natively on
//! multi-byte text, std's validator ran at about 200 MB/s here.

use crate::close::INVALID_FRAME_PAYLOAD_DATA;
use crate::error::ParseFailed;
use simdutf8::compat::from_utf8;
use std::borrow::Cow;

#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    /// Bytes of an incomplete code point carried from the previous piece.
    carry: Vec<u8>,
}

fn invalid() -> ParseFailed {
    ParseFailed::new(INVALID_FRAME_PAYLOAD_DATA, "invalid UTF-8 in text message")
}

impl Utf8Stream {
    /// Validates the next piece; returns the complete text in it. With
    /// `last`, the message ends here and nothing may be left over.
    pub(crate) fn push(&mut self, mut data: Vec<u8>, last: bool) -> Result<String, ParseFailed> {
        let Some((mut prefix, taken)) = self.complete_carry(&data, last)? else {
            return Ok(String::new());
        };
        data.drain(..taken);
        let valid = self.valid_len(&data, last)?;
        data.truncate(valid);
        // SAFETY: `data` holds exactly the bytes `from_utf8` just reported
        // as valid UTF-8 (the prefix up to `valid`).
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
        let data = &data[taken..];
        let valid = self.valid_len(data, last)?;
        // Validated again only when a code point was cut (once per piece
        // boundary inside a text message): no `unsafe` for a rare case.
        let text = from_utf8(&data[..valid]).map_err(|_| invalid())?;
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
            match from_utf8(&self.carry) {
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

    /// How many bytes of `data` are complete, valid UTF-8; an incomplete
    /// code point at the end is carried (an error if `last`).
    fn valid_len(&mut self, data: &[u8], last: bool) -> Result<usize, ParseFailed> {
        let valid = match from_utf8(data) {
            Ok(_) => data.len(),
            Err(e) if e.error_len().is_some() => return Err(invalid()),
            Err(e) => e.valid_up_to(),
        };
        if valid < data.len() {
            if last {
                return Err(invalid());
            }
            self.carry.extend_from_slice(&data[valid..]);
        }
        Ok(valid)
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
pub(crate) fn is_ascii(text: &str) -> bool {
    use core::arch::wasm32::{u8x16_bitmask, v128, v128_load, v128_or};
    let b = text.as_bytes();
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
#[allow(dead_code)]
pub(crate) fn is_ascii(text: &str) -> bool {
    text.is_ascii()
}

/// Appends `text` as UTF-16 code units to `out`. For the wasm binding:
/// JS turns UTF-16 into a string several times faster than it decodes
/// multi-byte UTF-8 (measured in Node 20: 1 GB/s and more against 0.25).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn push_utf16(text: &str, out: &mut Vec<u16>) {
    // Never more UTF-16 units than UTF-8 bytes (4 bytes make 2 units).
    out.reserve(text.len());
    let start = out.len();
    // Measured natively on multi-byte text: a third faster than
    // `extend(text.encode_utf16())` or a hand-written UTF-8 decoder.
    // SAFETY: at most `text.len()` units are written, into reserved space;
    // the length is set to what was written.
    unsafe {
        let base = out.as_mut_ptr().add(start);
        let mut at = base;
        for c in text.chars() {
            let c = c as u32;
            if c < 0x1_0000 {
                *at = c as u16;
                at = at.add(1);
            } else {
                let v = c - 0x1_0000;
                *at = 0xD800 | (v >> 10) as u16;
                *at.add(1) = 0xDC00 | (v & 0x3FF) as u16;
                at = at.add(2);
            }
        }
        out.set_len(start + at.offset_from(base) as usize);
    }
}

#[cfg(test)]
mod tests {
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
