//! Header-level helpers: list splitting, tokens, the accept key, and a
//! header writer that refuses anything that could split the message.

use crate::error::{quoted, LocalProtocolError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// RFC 6455 section 1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Splits a comma-separated HTTP list header into its elements.
///
/// Commas inside quoted strings (with `\` escapes) do not split. Optional
/// whitespace (SP, HTAB) around each element is trimmed and empty elements
/// are dropped. Invalid UTF-8 is decoded lossily (U+FFFD): such elements can
/// never match a token we compare against, and nothing here panics. Runs in
/// one pass, so time is linear in the input whatever its shape.
pub(crate) fn split_list(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(value);
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quote {
            match c {
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
        } else if c == '"' {
            in_quote = true;
        } else if c == ',' {
            push_element(&mut out, text.get(start..i));
            start = i + 1; // ',' is one byte
        }
    }
    push_element(&mut out, text.get(start..));
    out
}

fn push_element(out: &mut Vec<String>, element: Option<&str>) {
    let trimmed = element.unwrap_or("").trim_matches(|c| c == ' ' || c == '\t');
    if !trimmed.is_empty() {
        out.push(trimmed.to_owned());
    }
}

/// Whether the list header contains `token`, compared ASCII
/// case-insensitively (`"keep-alive, Upgrade"` has `"upgrade"`).
pub(crate) fn has_token(value: &[u8], token: &str) -> bool {
    split_list(value).iter().any(|t| t.eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for a client's key: base64(SHA-1(key ++ GUID)).
pub(crate) fn accept_key(nonce: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(nonce);
    hasher.update(ACCEPT_GUID);
    STANDARD.encode(hasher.finalize())
}

/// Whether a `Sec-WebSocket-Key` is canonical base64 of exactly 16 bytes
/// (RFC 6455 section 4.1), i.e. 22 characters then `==`.
pub(crate) fn is_valid_nonce(nonce: &[u8]) -> bool {
    nonce.len() == 24 && STANDARD.decode(nonce).is_ok_and(|raw| raw.len() == 16)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty HTTP token (header names, subprotocols).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Appends `name: value\r\n` to `out`.
///
/// Refuses a value holding CR, LF or NUL and a name that is not a token:
/// either could inject headers or end the head early.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), LocalProtocolError> {
    if !is_token(name) {
        return Err(LocalProtocolError::new(format!("Illegal header name {}", quoted(&String::from_utf8_lossy(name)))));
    }
    if value.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(LocalProtocolError::new(format!(
            "Illegal header value for {}: CR, LF and NUL are not allowed",
            String::from_utf8_lossy(name)
        )));
    }
    out.reserve(name.len().saturating_add(value.len()).saturating_add(4));
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    fn list(v: &[u8]) -> Vec<String> {
        split_list(v)
    }

    #[test]
    fn split_simple_list() {
        assert_eq!(list(b"a, b,c"), vec!["a", "b", "c"]);
        assert_eq!(list(b"  chat ,\tsuperchat\t "), vec!["chat", "superchat"]);
    }

    #[test]
    fn split_drops_empty_elements() {
        assert_eq!(list(b""), Vec::<String>::new());
        assert_eq!(list(b" , ,, "), Vec::<String>::new());
        assert_eq!(list(b",a,,b,"), vec!["a", "b"]);
    }

    #[test]
    fn split_keeps_extension_params() {
        assert_eq!(
            list(b"permessage-deflate; client_max_window_bits, x-foo; a=1"),
            vec!["permessage-deflate; client_max_window_bits", "x-foo; a=1"]
        );
    }

    #[test]
    fn split_respects_quotes_and_escapes() {
        assert_eq!(list(br#"a; p="x,y", b"#), vec![r#"a; p="x,y""#, "b"]);
        assert_eq!(list(br#"a; p="x\",y", b"#), vec![r#"a; p="x\",y""#, "b"]);
        assert_eq!(list(br#"a; p="x\\", b"#), vec![r#"a; p="x\\""#, "b"]);
    }

    #[test]
    fn split_unclosed_quote_swallows_rest() {
        assert_eq!(list(br#"a, b; p="x, y"#), vec!["a", r#"b; p="x, y"#]);
    }

    #[test]
    fn split_does_not_trim_other_whitespace() {
        // Only SP and HTAB are optional whitespace in HTTP.
        assert_eq!(list(b"\x0ba\x0b"), vec!["\u{b}a\u{b}"]);
    }

    #[test]
    fn split_non_utf8_is_lossy() {
        assert_eq!(list(b"a\xff, b"), vec!["a\u{fffd}", "b"]);
        assert_eq!(list(b"\xe2\x82, b"), vec!["\u{fffd}", "b"]);
    }

    /// This thread's CPU time: unlike the wall clock it stands still while
    /// parallel tests or other processes have the CPU. The wall clock where
    /// that clock is not available.
    fn cpu_time() -> Duration {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        {
            #[repr(C)]
            struct Timespec {
                sec: i64,
                nsec: i64,
            }
            extern "C" {
                fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
            }
            const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
            let mut time = Timespec { sec: 0, nsec: 0 };
            // SAFETY: a valid clock id and a pointer to a live timespec.
            if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) } == 0 {
                return Duration::new(time.sec as u64, time.nsec as u32);
            }
        }
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }

    /// How much larger the large input of [`assert_linear_time`] is.
    pub(crate) const SCALE: usize = 8;

    /// Checks that `work` takes about SCALE times longer on `large` than on
    /// `small` (SCALE times larger), not SCALE squared: CPU time within 3x of
    /// linear plus 0.2 ms for clock granularity. The time is the fastest of
    /// five runs on `small`, and of up to five on `large` (run again while
    /// over the bound, unless far over it). Returns the large input's result.
    pub(crate) fn assert_linear_time<I: ?Sized, R>(
        what: &str,
        small: &I,
        large: &I,
        mut work: impl FnMut(&I) -> R,
    ) -> R {
        let mut run = |input: &I| {
            let start = cpu_time();
            let result = work(input);
            (result, cpu_time() - start)
        };
        let mut small_time = Duration::MAX;
        for _ in 0..5 {
            small_time = small_time.min(run(small).1);
        }
        let bound = small_time * (3 * SCALE) as u32 + Duration::from_micros(200);
        let (mut result, mut large_time) = run(large);
        for _ in 1..5 {
            if large_time < bound || large_time > 2 * bound {
                break;
            }
            let (again, time) = run(large);
            (result, large_time) = (again, large_time.min(time));
        }
        assert!(large_time < bound, "{what}: CPU time {small_time:?} then {large_time:?}");
        result
    }

    /// Splits `shape(8 KiB)` and `shape(64 KiB)`, checking linear time.
    fn split_linear(shape: impl Fn(usize) -> Vec<u8>) -> Vec<String> {
        let (small, large) = (shape(8 * 1024), shape(SCALE * 8 * 1024));
        assert_linear_time("split_list", &small[..], &large[..], split_list)
    }

    #[test]
    fn split_is_linear_on_spaces() {
        assert!(split_linear(|n| vec![b' '; n]).is_empty());
    }

    #[test]
    fn split_is_linear_on_commas() {
        assert!(split_linear(|n| vec![b','; n]).is_empty());
    }

    #[test]
    fn split_is_linear_on_unclosed_quote() {
        let out = split_linear(|n| [&b"a, \""[..], &vec![b','; n]].concat());
        assert_eq!(out.len(), 2);
        assert_eq!(out.first().map(String::as_str), Some("a"));
        assert_eq!(out.get(1).map(String::len), Some(1 + 64 * 1024));
    }

    #[test]
    fn has_token_is_case_insensitive() {
        assert!(has_token(b"keep-alive, Upgrade", "upgrade"));
        assert!(has_token(b"UPGRADE", "upgrade"));
        assert!(!has_token(b"keep-alive", "upgrade"));
        assert!(!has_token(b"upgrade-insecure", "upgrade"));
        assert!(!has_token(b"", "upgrade"));
    }

    #[test]
    fn accept_key_rfc6455_example() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn accept_key_matches_wsproto() {
        // Value produced by Python wsproto for this nonce.
        assert_eq!(accept_key(b"aqUPn8bW9xAyNXl6AK2bsQ=="), "Qo/h3a8CdotS5LeDe4DPwMZcItU=");
    }

    #[test]
    fn valid_nonces() {
        assert!(is_valid_nonce(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_nonce(b"AAAAAAAAAAAAAAAAAAAAAA=="));
    }

    #[test]
    fn invalid_nonces() {
        assert!(!is_valid_nonce(b""));
        assert!(!is_valid_nonce(b"dGhlIHNhbXBsZSBub25jZQ")); // no padding
        assert!(!is_valid_nonce(b"dGhlIHNhbXBsZSBub25jZQ=")); // short padding
        assert!(!is_valid_nonce(b"dGhlIHNhbXBsZSBub25jZR==")); // non-zero trailing bits
        assert!(!is_valid_nonce(b"dGhlIHNhbXBsZSBub25j!Q==")); // not base64
        assert!(!is_valid_nonce(b"AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes
        assert!(!is_valid_nonce(b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=")); // 20 bytes
        assert!(!is_valid_nonce(b"dGhlIHNhbXBsZSBub25jZQ==\xff"));
    }

    #[test]
    fn write_header_formats() {
        let mut out = b"X".to_vec();
        write_header(&mut out, b"Sec-WebSocket-Protocol", b"chat").unwrap();
        write_header(&mut out, b"x-empty", b"").unwrap();
        assert_eq!(out, b"XSec-WebSocket-Protocol: chat\r\nx-empty: \r\n");
    }

    #[test]
    fn write_header_refuses_injection() {
        for value in [&b"a\rb"[..], b"a\nb", b"a\0b", b"\r\n"] {
            let mut out = Vec::new();
            assert!(write_header(&mut out, b"X", value).is_err());
            assert!(out.is_empty());
        }
    }

    #[test]
    fn write_header_refuses_bad_names() {
        for name in [&b""[..], b"a b", b"a:b", b"a\r", b"caf\xc3\xa9", b"(x)"] {
            let mut out = Vec::new();
            assert!(write_header(&mut out, name, b"v").is_err(), "{name:?}");
            assert!(out.is_empty());
        }
        let mut out = Vec::new();
        assert!(write_header(&mut out, b"X-Custom_1!#$%&'*+.^`|~", b"v").is_ok());
    }

    #[test]
    fn token_check() {
        assert!(is_token(b"chat.v2"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"a\"b"));
    }

    proptest::proptest! {
        #[test]
        fn split_list_never_panics(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for element in split_list(&value) {
                proptest::prop_assert!(!element.is_empty());
                proptest::prop_assert!(!element.starts_with([' ', '\t']) && !element.ends_with([' ', '\t']));
            }
            let _ = has_token(&value, "upgrade");
            let _ = is_valid_nonce(&value);
        }
    }
}
