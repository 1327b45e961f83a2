//! Close codes (RFC 6455 section 7.4) and close-frame payloads.

use crate::error::{LocalProtocolError, ParseFailed};

/// 1000: the purpose of the connection has been fulfilled.
pub const NORMAL_CLOSURE: u16 = 1000;
/// 1001: the endpoint is going away.
pub const GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a type of data the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: no status code was present (never on the wire).
pub const NO_STATUS_RCVD: u16 = 1005;
/// 1006: closed without a close frame (never on the wire).
pub const ABNORMAL_CLOSURE: u16 = 1006;
/// 1007: data inconsistent with the message type (bad UTF-8).
pub const INVALID_FRAME_PAYLOAD_DATA: u16 = 1007;
/// 1008: policy violation.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: message too big.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: the client expected an extension the server did not negotiate.
pub const MANDATORY_EXT: u16 = 1010;
/// 1011: unexpected server condition.
pub const INTERNAL_ERROR: u16 = 1011;
/// 1012: service restart.
pub const SERVICE_RESTART: u16 = 1012;
/// 1013: try again later.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// 1014: bad gateway.
pub const BAD_GATEWAY: u16 = 1014;
/// 1015: TLS handshake failure (never on the wire).
pub const TLS_HANDSHAKE_FAILED: u16 = 1015;

/// Longest close reason in bytes: 125-byte control payload minus the code.
pub const MAX_REASON_BYTES: usize = 123;

/// Whether a code received from the peer is acceptable on the wire.
/// 1000-1003 and 1007-1013 are defined; 1004-1006, 1014, 1015 and the rest of
/// 1000-2999 are reserved; 3000-4999 belong to libraries and applications.
pub fn is_valid_received_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1013 | 3000..=4999)
}

/// Parses a received close payload into (code, reason).
pub(crate) fn parse_close_payload(payload: &[u8]) -> Result<(u16, String), ParseFailed> {
    match payload {
        [] => Ok((NO_STATUS_RCVD, String::new())),
        [_] => Err(ParseFailed::protocol("CLOSE with 1 byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_received_code(code) {
                // wsproto's three messages, for parity.
                return Err(ParseFailed::protocol(match code {
                    NO_STATUS_RCVD | ABNORMAL_CLOSURE | TLS_HANDSHAKE_FAILED => "remote CLOSE with local-only reason",
                    1000..=2999 => "CLOSE with unknown reserved code",
                    _ => "CLOSE with invalid code",
                }));
            }
            match std::str::from_utf8(reason) {
                Ok(text) => Ok((code, text.to_owned())),
                Err(_) => Err(ParseFailed::new(INVALID_FRAME_PAYLOAD_DATA, "CLOSE reason is not valid UTF-8")),
            }
        }
    }
}

/// Builds the payload of a close frame we send. Code 1005 means "no status":
/// an empty payload. 1006 and 1015 are local-only, and codes outside
/// 1000-4999 are invalid: both are refused rather than rewritten.
pub(crate) fn build_close_payload(code: u16, reason: &str) -> Result<Vec<u8>, LocalProtocolError> {
    if code == NO_STATUS_RCVD {
        if !reason.is_empty() {
            return Err(LocalProtocolError::new("cannot send a close reason without a close code"));
        }
        return Ok(Vec::new());
    }
    if code == ABNORMAL_CLOSURE || code == TLS_HANDSHAKE_FAILED {
        return Err(LocalProtocolError::new(format!("close code {code} is reserved for local use and is never sent")));
    }
    if !(1000..=4999).contains(&code) {
        return Err(LocalProtocolError::new(format!("close code {code} is outside 1000-4999")));
    }
    let reason = truncate_utf8(reason, MAX_REASON_BYTES);
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    Ok(payload)
}

/// Cuts `text` to at most `max` bytes without splitting a code point.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_code_matrix() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000 | 1001 | 1002 | 1003 | 1007..=1013 | 3000..=4999);
            assert_eq!(is_valid_received_code(code), expected, "code {code}");
        }
    }

    #[test]
    fn truncation_respects_code_points() {
        let text = "é".repeat(100); // 200 bytes
        let cut = truncate_utf8(&text, 123);
        assert_eq!(cut.len(), 122);
        assert_eq!(truncate_utf8("abc", 123), "abc");
    }
}
