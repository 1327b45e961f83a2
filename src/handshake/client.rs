//! Client side of the handshake: writing the request and reading the
//! server's response (accepted, or rejected with a body to read).

use crate::error::{quoted, LocalProtocolError, RemoteProtocolError};
use crate::events::{Headers, Request};
use crate::handshake::headers::{accept_key, has_token, is_token, split_list, write_header};
use crate::handshake::http::{header_slots, lowered_headers, parse_error, remote_error, set_once, BodyFraming};

/// The server's answer to the opening request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// 101 Switching Protocols, validated.
    Accept { subprotocol: Option<String>, extensions: Vec<String>, extra_headers: Headers },
    /// Any other status; `body` is `None` for 1xx (no body follows).
    Reject { status_code: u16, headers: Headers, body: Option<BodyFraming> },
}

/// Printable ASCII without space: what a request-target and a Host may hold.
fn is_visible_ascii(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// Checks the parts of the request line and headers we write verbatim.
fn validate_request(request: &Request) -> Result<(), LocalProtocolError> {
    let target = request.target.as_bytes();
    if target.is_empty() || !target.iter().all(|&b| is_visible_ascii(b)) {
        return Err(LocalProtocolError::new(format!("Invalid request target {}", quoted(&request.target))));
    }
    // Non-ASCII is let through (wsproto would IDNA-encode it); anything
    // that could break the line is not.
    let host = request.host.as_bytes();
    if host.is_empty() || host.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err(LocalProtocolError::new(format!("Invalid host {}", quoted(&request.host))));
    }
    if let Some(bad) = request.subprotocols.iter().find(|p| !is_token(p.as_bytes())) {
        return Err(LocalProtocolError::new(format!("Invalid subprotocol {}", quoted(bad))));
    }
    Ok(())
}

/// The opening request. `offers` are the extension offers (handlers' and
/// raw ones) as header elements.
pub(crate) fn build_request(request: &Request, key: &str, offers: &[String]) -> Result<Vec<u8>, LocalProtocolError> {
    validate_request(request)?;
    let mut out = format!("GET {} HTTP/1.1\r\n", request.target).into_bytes();
    write_header(&mut out, b"Host", request.host.as_bytes())?;
    write_header(&mut out, b"Upgrade", b"websocket")?;
    write_header(&mut out, b"Connection", b"Upgrade")?;
    write_header(&mut out, b"Sec-WebSocket-Key", key.as_bytes())?;
    write_header(&mut out, b"Sec-WebSocket-Version", b"13")?;
    if !request.subprotocols.is_empty() {
        write_header(&mut out, b"Sec-WebSocket-Protocol", request.subprotocols.join(", ").as_bytes())?;
    }
    if !offers.is_empty() {
        write_header(&mut out, b"Sec-WebSocket-Extensions", offers.join(", ").as_bytes())?;
    }
    for (name, value) in &request.extra_headers {
        write_header(&mut out, name, value)?;
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Parses the response head to a request sent with `key`.
pub(crate) fn parse_response(
    head: &[u8],
    key: &str,
    offered_subprotocols: &[String],
    max_headers: usize,
) -> Result<Response, RemoteProtocolError> {
    let mut slots = header_slots(head, max_headers);
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(remote_error("Bad HTTP message", 400)),
        Err(e) => return Err(parse_error(e)),
    }
    // RFC 9110 section 15: a status code is 100-599; httparse takes any three digits.
    let Some(status_code) = resp.code.filter(|code| (100..=599).contains(code)) else {
        return Err(remote_error("Bad HTTP message", 400));
    };
    if status_code == 101 {
        return ResponseFields::collect(resp.headers)?.validate(key, offered_subprotocols);
    }
    let body = if status_code < 200 { None } else { Some(body_framing(status_code, resp.headers)?) };
    Ok(Response::Reject { status_code, headers: lowered_headers(resp.headers), body })
}

/// The headers of a 101 response that the handshake looks at.
#[derive(Default)]
struct ResponseFields<'a> {
    connection_upgrade: bool,
    upgrade: Option<&'a [u8]>,
    accept: Option<&'a [u8]>,
    subprotocol: Option<&'a [u8]>,
    extensions: Vec<String>,
    extra_headers: Headers,
}

impl<'a> ResponseFields<'a> {
    fn collect(headers: &[httparse::Header<'a>]) -> Result<Self, RemoteProtocolError> {
        let mut f = ResponseFields::default();
        for (header, (name, value)) in headers.iter().zip(lowered_headers(headers)) {
            let raw = header.value;
            match name.as_slice() {
                b"connection" => f.connection_upgrade |= has_token(raw, "upgrade"),
                b"upgrade" => set_once(&mut f.upgrade, raw, "Upgrade")?,
                b"sec-websocket-accept" => set_once(&mut f.accept, raw, "Sec-WebSocket-Accept")?,
                b"sec-websocket-protocol" => set_once(&mut f.subprotocol, raw, "Sec-WebSocket-Protocol")?,
                b"sec-websocket-extensions" => f.extensions.extend(split_list(raw)),
                _ => f.extra_headers.push((name, value)),
            }
        }
        Ok(f)
    }

    /// wsproto's checks, in wsproto's order.
    fn validate(self, key: &str, offered_subprotocols: &[String]) -> Result<Response, RemoteProtocolError> {
        if !self.connection_upgrade {
            return Err(remote_error("Missing header, 'Connection: Upgrade'", 400));
        }
        if !self.upgrade.is_some_and(|u| u.eq_ignore_ascii_case(b"websocket")) {
            return Err(remote_error("Missing header, 'Upgrade: websocket'", 400));
        }
        if self.accept != Some(accept_key(key.as_bytes()).as_bytes()) {
            return Err(remote_error("Bad accept token", 400));
        }
        let subprotocol = self.subprotocol.map(|p| String::from_utf8_lossy(p).into_owned());
        if let Some(p) = subprotocol.as_ref().filter(|p| !offered_subprotocols.contains(p)) {
            return Err(remote_error(format!("unrecognized subprotocol {p}"), 400));
        }
        Ok(Response::Accept { subprotocol, extensions: self.extensions, extra_headers: self.extra_headers })
    }
}

/// How a rejection's body is delimited (RFC 9112 section 6.3).
fn body_framing(status_code: u16, headers: &[httparse::Header<'_>]) -> Result<BodyFraming, RemoteProtocolError> {
    if status_code == 204 || status_code == 304 {
        return Ok(BodyFraming::Length(0));
    }
    let named = |name: &'static str| headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    // Transfer-Encoding overrides Content-Length; unless chunked comes last
    // the body runs until the server closes.
    if named("transfer-encoding").next().is_some() {
        let codings: Vec<String> = named("transfer-encoding").flat_map(|h| split_list(h.value)).collect();
        let chunked = codings.last().is_some_and(|c| c.eq_ignore_ascii_case("chunked"));
        return Ok(if chunked { BodyFraming::Chunked } else { BodyFraming::UntilEof });
    }
    let mut length = None;
    for header in named("content-length") {
        let values = split_list(header.value);
        if values.is_empty() {
            return Err(remote_error("Invalid Content-Length", 400));
        }
        for value in values {
            let n = parse_length(&value)?;
            if length.replace(n).is_some_and(|previous| previous != n) {
                return Err(remote_error("Conflicting Content-Length", 400));
            }
        }
    }
    Ok(length.map_or(BodyFraming::UntilEof, BodyFraming::Length))
}

/// A Content-Length value: decimal digits only (no sign), fitting in u64.
fn parse_length(value: &str) -> Result<u64, RemoteProtocolError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(remote_error("Invalid Content-Length", 400));
    }
    value.parse().map_err(|_| remote_error("Invalid Content-Length", 400))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, RejectConnection};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn req(host: &str, target: &str) -> Request {
        Request { host: host.into(), target: target.into(), ..Request::default() }
    }

    fn hdr(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
        (name.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    #[test]
    fn minimal_request_bytes() {
        let out = build_request(&req("example.com", "/"), KEY, &[]).unwrap();
        assert_eq!(
            out,
            &b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"[..]
        );
    }

    #[test]
    fn request_bytes_match_wsproto() {
        let mut r = req("example.com", "/chat");
        r.subprotocols = vec!["a".into(), "b".into()];
        let offers = vec!["permessage-deflate; client_max_window_bits=15; server_max_window_bits=15".to_string()];
        let out = build_request(&r, "aqUPn8bW9xAyNXl6AK2bsQ==", &offers).unwrap();
        assert_eq!(
            out,
            &b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: aqUPn8bW9xAyNXl6AK2bsQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15; server_max_window_bits=15\r\n\r\n"[..]
        );
    }

    #[test]
    fn request_with_offers_and_extra_headers() {
        let mut r = req("h:8080", "/p?q=1");
        r.extra_headers = vec![hdr("Origin", "http://h"), hdr("x-y", "")];
        let out = build_request(&r, KEY, &["a".to_string(), "b; x=1".to_string()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: h:8080\r\n"));
        assert!(
            text.ends_with("Version: 13\r\nSec-WebSocket-Extensions: a, b; x=1\r\nOrigin: http://h\r\nx-y: \r\n\r\n")
        );
    }

    #[test]
    fn request_validation() {
        for target in ["", "/a b", "/a\r\n", "/\t", "/\u{7f}", "/é"] {
            assert!(build_request(&req("h", target), KEY, &[]).is_err(), "{target:?}");
        }
        for host in ["", "a b", "a\r\nX: y", "a\0", "a\n"] {
            assert!(build_request(&req(host, "/"), KEY, &[]).is_err(), "{host:?}");
        }
        assert!(build_request(&req("bücher.example", "/"), KEY, &[]).is_ok());
        for proto in ["", "a b", "a,b", "a\r\n"] {
            let mut r = req("h", "/");
            r.subprotocols = vec!["ok".into(), proto.into()];
            assert!(build_request(&r, KEY, &[]).is_err(), "{proto:?}");
        }
        assert!(build_request(&req("h", "/"), KEY, &["x\r\ny".to_string()]).is_err());
        let mut r = req("h", "/");
        r.extra_headers = vec![hdr("X", "a\nb")];
        assert!(build_request(&r, KEY, &[]).is_err());
    }

    fn accepted(lines: &[&str]) -> String {
        let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for line in lines {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head
    }

    fn parse(head: &str, offered: &[&str]) -> Result<Response, RemoteProtocolError> {
        let offered: Vec<String> = offered.iter().copied().map(String::from).collect();
        parse_response(head.as_bytes(), KEY, &offered, 100)
    }

    fn fails(head: &str, offered: &[&str], message: &str) {
        let e = parse(head, offered).unwrap_err();
        assert_eq!(e.message(), message);
        assert_eq!(e.event_hint(), Some(&Event::RejectConnection(RejectConnection::default())));
    }

    const ACCEPT_LINE: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    #[test]
    fn accept_minimal() {
        let head = accepted(&["Upgrade: websocket", "Connection: Upgrade", ACCEPT_LINE]);
        assert_eq!(
            parse(&head, &[]).unwrap(),
            Response::Accept { subprotocol: None, extensions: vec![], extra_headers: vec![] }
        );
    }

    #[test]
    fn accept_full() {
        let head = accepted(&[
            "upgrade: WebSocket",
            "Connection: keep-alive, upgrade",
            ACCEPT_LINE,
            "Sec-WebSocket-Protocol: b",
            "Sec-WebSocket-Extensions: x; p=\"1,2\"",
            "Set-Cookie: a=1",
            "sec-websocket-extensions: y",
        ]);
        assert_eq!(
            parse(&head, &["a", "b"]).unwrap(),
            Response::Accept {
                subprotocol: Some("b".into()),
                extensions: vec!["x; p=\"1,2\"".into(), "y".into()],
                extra_headers: vec![hdr("set-cookie", "a=1")],
            }
        );
    }

    #[test]
    fn accept_from_wsproto_server() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: Qo/h3a8CdotS5LeDe4DPwMZcItU=\r\nSec-WebSocket-Protocol: a\r\n\r\n";
        let offered = vec!["a".to_string()];
        let r = parse_response(head.as_bytes(), "aqUPn8bW9xAyNXl6AK2bsQ==", &offered, 100).unwrap();
        assert!(matches!(r, Response::Accept { subprotocol: Some(ref p), .. } if p == "a"));
    }

    #[test]
    fn accept_validation_order() {
        fails(&accepted(&[]), &[], "Missing header, 'Connection: Upgrade'");
        fails(
            &accepted(&["Connection: keep-alive", "Upgrade: websocket", ACCEPT_LINE]),
            &[],
            "Missing header, 'Connection: Upgrade'",
        );
        fails(&accepted(&["Connection: Upgrade"]), &[], "Missing header, 'Upgrade: websocket'");
        fails(
            &accepted(&["Connection: Upgrade", "Upgrade: h2c", ACCEPT_LINE]),
            &[],
            "Missing header, 'Upgrade: websocket'",
        );
        fails(&accepted(&["Connection: Upgrade", "Upgrade: websocket"]), &[], "Bad accept token");
        fails(
            &accepted(&[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
            ]),
            &[],
            "Bad accept token",
        );
        fails(
            &accepted(&[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Protocol: c",
                "Sec-WebSocket-Accept: x",
            ]),
            &["a"],
            "Bad accept token",
        );
        fails(
            &accepted(&["Connection: Upgrade", "Upgrade: websocket", ACCEPT_LINE, "Sec-WebSocket-Protocol: c"]),
            &["a", "b"],
            "unrecognized subprotocol c",
        );
        // Case matters for subprotocols.
        fails(
            &accepted(&["Connection: Upgrade", "Upgrade: websocket", ACCEPT_LINE, "Sec-WebSocket-Protocol: A"]),
            &["a"],
            "unrecognized subprotocol A",
        );
    }

    #[test]
    fn accept_duplicates_refused() {
        let base = ["Connection: Upgrade", "Upgrade: websocket", ACCEPT_LINE];
        for (extra, name) in [
            ("Upgrade: websocket", "Upgrade"),
            (ACCEPT_LINE, "Sec-WebSocket-Accept"),
            ("Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol"),
        ] {
            let mut lines = base.to_vec();
            lines.push(extra);
            if name == "Sec-WebSocket-Protocol" {
                lines.push(extra);
            }
            fails(&accepted(&lines), &["a"], &format!("Duplicate header, '{name}'"));
        }
    }

    fn rejected(status_line: &str, lines: &[&str]) -> Response {
        let mut head = format!("{status_line}\r\n");
        for line in lines {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        parse(&head, &[]).unwrap()
    }

    fn framing_of(lines: &[&str]) -> Option<BodyFraming> {
        match rejected("HTTP/1.1 400 Bad Request", lines) {
            Response::Reject { body, .. } => body,
            Response::Accept { .. } => None,
        }
    }

    #[test]
    fn reject_keeps_all_headers() {
        assert_eq!(
            rejected("HTTP/1.1 403 Forbidden", &["Content-Length: 2", "X-Why: no", "Sec-WebSocket-Version: 13"]),
            Response::Reject {
                status_code: 403,
                headers: vec![hdr("content-length", "2"), hdr("x-why", "no"), hdr("sec-websocket-version", "13")],
                body: Some(BodyFraming::Length(2)),
            }
        );
    }

    #[test]
    fn informational_has_no_body() {
        assert_eq!(
            rejected("HTTP/1.1 100 Continue", &["X: 1"]),
            Response::Reject { status_code: 100, headers: vec![hdr("x", "1")], body: None }
        );
    }

    #[test]
    fn body_framings() {
        assert_eq!(framing_of(&[]), Some(BodyFraming::UntilEof));
        assert_eq!(framing_of(&["Content-Length: 0"]), Some(BodyFraming::Length(0)));
        assert_eq!(framing_of(&["Content-Length: 18446744073709551615"]), Some(BodyFraming::Length(u64::MAX)));
        assert_eq!(framing_of(&["Content-Length: 5, 5", "content-length: 5"]), Some(BodyFraming::Length(5)));
        assert_eq!(framing_of(&["Transfer-Encoding: chunked"]), Some(BodyFraming::Chunked));
        assert_eq!(framing_of(&["Transfer-Encoding: gzip", "Transfer-Encoding: CHUNKED"]), Some(BodyFraming::Chunked));
        assert_eq!(framing_of(&["Transfer-Encoding: chunked, gzip"]), Some(BodyFraming::UntilEof));
        assert_eq!(framing_of(&["Content-Length: 3", "Transfer-Encoding: chunked"]), Some(BodyFraming::Chunked));
    }

    #[test]
    fn no_content_statuses_have_empty_bodies() {
        for status in ["HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"] {
            let r = rejected(status, &["Content-Length: 10"]);
            assert!(matches!(r, Response::Reject { body: Some(BodyFraming::Length(0)), .. }));
        }
    }

    #[test]
    fn bad_content_lengths() {
        for value in ["", "-1", "+1", "1.0", "0x10", "1 2", "18446744073709551616", "5, 6", "abc"] {
            let head = format!("HTTP/1.1 400 Bad Request\r\nContent-Length: {value}\r\n\r\n");
            let e = parse(&head, &[]).unwrap_err();
            assert!(e.message().contains("Content-Length"), "{value:?}: {}", e.message());
            assert_eq!(e.event_hint(), Some(&Event::RejectConnection(RejectConnection::default())));
        }
        let head = "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(parse(head, &[]).unwrap_err().message(), "Conflicting Content-Length");
    }

    #[test]
    fn malformed_responses() {
        for head in [
            "HTTP/1.1 abc\r\n\r\n",
            "HTTP/1.1 101 OK\r\nBad Header: x\r\n\r\n",
            "HTTP/1.1 101 OK\r\n",
            "garbage\r\n\r\n",
            "",
        ] {
            let e = parse(head, &[]).unwrap_err();
            assert_eq!(e.message(), "Bad HTTP message", "{head:?}");
            assert_eq!(e.event_hint(), Some(&Event::RejectConnection(RejectConnection::default())));
        }
    }

    #[test]
    fn too_many_headers_is_431() {
        let head = accepted(&["Connection: Upgrade", "Upgrade: websocket", ACCEPT_LINE]);
        let offered: Vec<String> = vec![];
        assert!(parse_response(head.as_bytes(), KEY, &offered, 3).is_ok());
        let e = parse_response(head.as_bytes(), KEY, &offered, 2).unwrap_err();
        let hint = RejectConnection { status_code: 431, ..RejectConnection::default() };
        assert_eq!(e.event_hint(), Some(&Event::RejectConnection(hint)));
        assert!(parse_response(head.as_bytes(), KEY, &offered, usize::MAX).is_ok());
    }

    #[test]
    fn round_trip_through_server() {
        use crate::handshake::server::{build_accept, parse_request};
        let mut r = req("example.com", "/chat");
        r.subprotocols = vec!["a".into(), "b".into()];
        let bytes = build_request(&r, KEY, &["x; p=1".to_string()]).unwrap();
        let parsed = parse_request(&bytes, 100).unwrap();
        assert_eq!(parsed.request.extensions, ["x; p=1"]);
        let response = build_accept(&parsed.key, Some("b"), Some("x"), &vec![hdr("X-S", "1")]).unwrap();
        let got = parse_response(&response, KEY, &r.subprotocols, 100).unwrap();
        assert_eq!(
            got,
            Response::Accept {
                subprotocol: Some("b".into()),
                extensions: vec!["x".into()],
                extra_headers: vec![hdr("x-s", "1")],
            }
        );
    }

    #[test]
    fn accept_constant_is_rfc_value() {
        assert_eq!(accept_key(KEY.as_bytes()), ACCEPT);
    }
}
