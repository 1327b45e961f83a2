//! Server side of the handshake: validating the client's request (in
//! wsproto's order, with wsproto's messages) and writing the response.

use crate::error::{LocalProtocolError, RemoteProtocolError};
use crate::events::{Event, Headers, RejectConnection, Request};
use crate::handshake::headers::{accept_key, has_token, is_valid_nonce, split_list, write_header};
use crate::handshake::http::{header_slots, lowered_headers, parse_error, remote_error, set_once, BodyEncoding};

/// The only WebSocket version (RFC 6455 section 4.1).
const WEBSOCKET_VERSION: &[u8] = b"13";

/// A validated opening request and the client's raw key.
#[derive(Debug)]
pub(crate) struct ParsedRequest {
    pub request: Request,
    pub key: Vec<u8>,
}

/// Parses and validates a complete request head.
pub(crate) fn parse_request(head: &[u8], max_headers: usize) -> Result<ParsedRequest, RemoteProtocolError> {
    let mut slots = header_slots(head, max_headers);
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(remote_error("Bad HTTP message", 400)),
        Err(e) => return Err(parse_error(e)),
    }
    if req.version != Some(1) {
        return Err(remote_error("HTTP/1.1 is required", 400));
    }
    if req.method != Some("GET") {
        return Err(remote_error("Request method must be GET", 400));
    }
    // httparse only hands out a target that is valid UTF-8.
    let target = req.path.unwrap_or("").to_owned();
    let fields = RequestFields::collect(req.headers)?;
    let (host, key) = fields.validate()?;
    let request = Request {
        host,
        target,
        subprotocols: fields.subprotocols,
        extensions: fields.extensions,
        handlers: Vec::new(),
        extra_headers: fields.extra_headers,
    };
    Ok(ParsedRequest { request, key })
}

/// The headers of a request that the handshake looks at.
#[derive(Default)]
struct RequestFields<'a> {
    connection_upgrade: bool,
    host: Option<&'a [u8]>,
    key: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
    upgrade: Option<&'a [u8]>,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    /// Everything but Host and the two list headers, as wsproto keeps them.
    extra_headers: Headers,
}

impl<'a> RequestFields<'a> {
    fn collect(headers: &[httparse::Header<'a>]) -> Result<Self, RemoteProtocolError> {
        let mut f = RequestFields::default();
        for (header, (name, value)) in headers.iter().zip(lowered_headers(headers)) {
            let raw = header.value;
            match name.as_slice() {
                b"host" => {
                    set_once(&mut f.host, raw, "Host")?;
                    continue;
                }
                b"sec-websocket-extensions" => {
                    f.extensions.extend(split_list(raw));
                    continue;
                }
                b"sec-websocket-protocol" => {
                    f.subprotocols.extend(split_list(raw));
                    continue;
                }
                // Connection is a list header: any occurrence may carry the token.
                b"connection" => f.connection_upgrade |= has_token(raw, "upgrade"),
                b"sec-websocket-key" => set_once(&mut f.key, raw, "Sec-WebSocket-Key")?,
                b"sec-websocket-version" => set_once(&mut f.version, raw, "Sec-WebSocket-Version")?,
                b"upgrade" => set_once(&mut f.upgrade, raw, "Upgrade")?,
                _ => {}
            }
            f.extra_headers.push((name, value));
        }
        Ok(f)
    }

    /// wsproto's checks, in wsproto's order. Returns the host and the key.
    fn validate(&self) -> Result<(String, Vec<u8>), RemoteProtocolError> {
        if !self.connection_upgrade {
            return Err(remote_error("Missing header, 'Connection: Upgrade'", 400));
        }
        if self.version != Some(WEBSOCKET_VERSION) {
            return Err(version_error(self.version));
        }
        let Some(key) = self.key else {
            return Err(remote_error("Missing header, 'Sec-WebSocket-Key'", 400));
        };
        if !is_valid_nonce(key) {
            return Err(remote_error("Invalid header, 'Sec-WebSocket-Key'", 400));
        }
        if !self.upgrade.is_some_and(|u| u.eq_ignore_ascii_case(b"websocket")) {
            return Err(remote_error("Missing header, 'Upgrade: websocket'", 400));
        }
        let Some(host) = self.host else {
            return Err(remote_error("Missing header, 'Host'", 400));
        };
        let host = std::str::from_utf8(host).map_err(|_| remote_error("Invalid header, 'Host'", 400))?;
        Ok((host.to_owned(), key.to_vec()))
    }
}

/// A wrong or missing version: 426 (with the version we speak) if the
/// client named one, 400 if not.
fn version_error(version: Option<&[u8]>) -> RemoteProtocolError {
    let status_code = if version.is_some_and(|v| !v.is_empty()) { 426 } else { 400 };
    let hint = RejectConnection {
        status_code,
        headers: vec![(b"Sec-WebSocket-Version".to_vec(), WEBSOCKET_VERSION.to_vec())],
        has_body: false,
    };
    RemoteProtocolError::new("Missing header, 'Sec-WebSocket-Version'", Some(Event::RejectConnection(hint)))
}

/// The 101 response accepting a request with `key`. The caller has checked
/// that `subprotocol` was offered.
pub(crate) fn build_accept(
    key: &[u8],
    subprotocol: Option<&str>,
    extensions: Option<&str>,
    extra_headers: &Headers,
) -> Result<Vec<u8>, LocalProtocolError> {
    let mut out = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    write_header(&mut out, b"Upgrade", b"websocket")?;
    write_header(&mut out, b"Connection", b"Upgrade")?;
    write_header(&mut out, b"Sec-WebSocket-Accept", accept_key(key).as_bytes())?;
    if let Some(protocol) = subprotocol {
        write_header(&mut out, b"Sec-WebSocket-Protocol", protocol.as_bytes())?;
    }
    if let Some(extensions) = extensions {
        write_header(&mut out, b"Sec-WebSocket-Extensions", extensions.as_bytes())?;
    }
    for (name, value) in extra_headers {
        write_header(&mut out, name, value)?;
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Statuses whose responses never have a body (RFC 9110 section 6.4.1).
fn is_bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// The values of every header named `name` (ASCII case-insensitive).
fn header_values<'a>(headers: &'a Headers, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

/// The head of a rejection and how its body (if any) must be encoded.
///
/// Adds `Content-Length: 0` when there is no body and
/// `Transfer-Encoding: chunked` when there is one of unknown length, unless
/// the user framed the response already.
pub(crate) fn build_reject(event: &RejectConnection) -> Result<(Vec<u8>, BodyEncoding), LocalProtocolError> {
    let status = event.status_code;
    if !(100..=599).contains(&status) || status == 101 {
        return Err(LocalProtocolError::new(format!("Invalid status code {status} for a rejection")));
    }
    if event.has_body && is_bodiless(status) {
        return Err(LocalProtocolError::new(format!("A {status} response cannot have a body")));
    }
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).into_bytes();
    for (name, value) in &event.headers {
        write_header(&mut out, name, value)?;
    }
    let encoding = add_framing(&mut out, event)?;
    out.extend_from_slice(b"\r\n");
    Ok((out, encoding))
}

/// Checks the user's framing headers and adds what is missing.
fn add_framing(out: &mut Vec<u8>, event: &RejectConnection) -> Result<BodyEncoding, LocalProtocolError> {
    let lengths: Vec<&[u8]> = header_values(&event.headers, b"content-length").collect();
    let codings: Vec<String> = header_values(&event.headers, b"transfer-encoding").flat_map(split_list).collect();
    let has_te = header_values(&event.headers, b"transfer-encoding").next().is_some();
    if !lengths.is_empty() && has_te {
        return Err(LocalProtocolError::new("Content-Length and Transfer-Encoding cannot both be set"));
    }
    if !event.has_body {
        if has_te {
            return Err(LocalProtocolError::new("Transfer-Encoding needs has_body"));
        }
        if is_bodiless(event.status_code) {
            return Ok(BodyEncoding::Raw);
        }
        if lengths.iter().any(|v| *v != b"0") {
            return Err(LocalProtocolError::new("Content-Length must be 0 without a body"));
        }
        if lengths.is_empty() {
            write_header(out, b"Content-Length", b"0")?;
        }
        return Ok(BodyEncoding::Raw);
    }
    if has_te {
        let chunked = codings.last().is_some_and(|c| c.eq_ignore_ascii_case("chunked"));
        return Ok(if chunked { BodyEncoding::Chunked } else { BodyEncoding::Raw });
    }
    if let Some(first) = lengths.first() {
        // Every Content-Length must agree; the body is then counted.
        let parse = |v: &[u8]| {
            std::str::from_utf8(v)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok())
        };
        return match parse(first) {
            Some(n) if lengths.iter().all(|v| parse(v) == Some(n)) => Ok(BodyEncoding::Length(n)),
            _ => Err(LocalProtocolError::new("Invalid Content-Length")),
        };
    }
    write_header(out, b"Transfer-Encoding", b"chunked")?;
    Ok(BodyEncoding::Chunked)
}

/// The standard reason phrase, or "" for codes without a common one.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn request_with(lines: &[&str]) -> Vec<u8> {
        let mut head = b"GET /chat?x=1 HTTP/1.1\r\n".to_vec();
        for line in lines {
            head.extend_from_slice(line.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    fn good_lines() -> Vec<String> {
        vec![
            "Host: example.com".into(),
            "Upgrade: websocket".into(),
            "Connection: Upgrade".into(),
            format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13".into(),
        ]
    }

    fn parse_lines(lines: &[String]) -> Result<ParsedRequest, RemoteProtocolError> {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        parse_request(&request_with(&refs), 100)
    }

    fn without(prefix: &str) -> Vec<String> {
        good_lines().into_iter().filter(|l| !l.starts_with(prefix)).collect()
    }

    fn with(extra: &[&str]) -> Vec<String> {
        let mut lines = good_lines();
        lines.extend(extra.iter().copied().map(String::from));
        lines
    }

    fn hdr(name: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
        (name.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    fn fails(head: &[u8], message: &str, status: u16) {
        let e = parse_request(head, 100).unwrap_err();
        assert_eq!(e.message(), message);
        let hint = RejectConnection { status_code: status, ..RejectConnection::default() };
        assert_eq!(e.event_hint(), Some(&Event::RejectConnection(hint)));
    }

    fn fails_lines(lines: &[String], message: &str) {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        fails(&request_with(&refs), message, 400);
    }

    #[test]
    fn parses_wsproto_request() {
        // The exact request Python wsproto sends.
        let head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: aqUPn8bW9xAyNXl6AK2bsQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15; server_max_window_bits=15\r\n\r\n";
        let parsed = parse_request(head, 100).unwrap();
        assert_eq!(parsed.key, b"aqUPn8bW9xAyNXl6AK2bsQ==");
        assert_eq!(
            parsed.request,
            Request {
                host: "example.com".into(),
                target: "/chat".into(),
                subprotocols: vec!["a".into(), "b".into()],
                extensions: vec!["permessage-deflate; client_max_window_bits=15; server_max_window_bits=15".into()],
                handlers: vec![],
                extra_headers: vec![
                    hdr("upgrade", "websocket"),
                    hdr("connection", "Upgrade"),
                    hdr("sec-websocket-key", "aqUPn8bW9xAyNXl6AK2bsQ=="),
                    hdr("sec-websocket-version", "13"),
                ],
            }
        );
    }

    #[test]
    fn lists_concatenate_across_headers() {
        let lines = with(&[
            "Sec-WebSocket-Protocol: a, b",
            "X-Other: 1",
            "sec-websocket-protocol: c",
            "Sec-WebSocket-Extensions: x; p=\"1,2\"",
            "Sec-WebSocket-Extensions: y, z",
        ]);
        let r = parse_lines(&lines).unwrap().request;
        assert_eq!(r.subprotocols, ["a", "b", "c"]);
        assert_eq!(r.extensions, ["x; p=\"1,2\"", "y", "z"]);
        assert_eq!(r.extra_headers.last(), Some(&hdr("x-other", "1")));
        assert_eq!(r.extra_headers.len(), 5);
        assert_eq!(r.target, "/chat?x=1");
    }

    #[test]
    fn connection_token_among_others_and_case() {
        let mut lines = without("Connection");
        lines.push("connection: keep-alive".into());
        lines.push("CONNECTION: keep-alive, UPGRADE".into());
        lines.push("Upgrade-Insecure-Requests: 1".into());
        lines.retain(|l| l != "Upgrade: websocket");
        lines.push("upgrade: WebSocket".into());
        assert!(parse_lines(&lines).is_ok());
    }

    #[test]
    fn optional_whitespace_around_values() {
        let lines = vec![
            "Host:example.com".to_string(),
            "Upgrade: \twebsocket \t".into(),
            "Connection:Upgrade ".into(),
            format!("Sec-WebSocket-Key:  {KEY} "),
            "Sec-WebSocket-Version: 13\t".into(),
        ];
        let parsed = parse_lines(&lines).unwrap();
        assert_eq!(parsed.key, KEY.as_bytes());
        assert_eq!(parsed.request.host, "example.com");
    }

    #[test]
    fn obsolete_line_folding_is_refused() {
        let lines = with(&["X-Folded: a", " b"]);
        fails_lines(&lines, "Bad HTTP message");
    }

    #[test]
    fn rejects_non_get() {
        let head = b"POST / HTTP/1.1\r\nHost: a\r\n\r\n";
        fails(head, "Request method must be GET", 400);
    }

    #[test]
    fn rejects_http_1_0() {
        let mut head = request_with(&[]);
        head.splice(..24, b"GET /chat?x=1 HTTP/1.0\r\n".iter().copied());
        fails(&head, "HTTP/1.1 is required", 400);
    }

    #[test]
    fn rejects_malformed() {
        fails(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "Bad HTTP message", 400);
        fails(b"GET / HTTP/1.1\r\nHost: a\r\n", "Bad HTTP message", 400);
        fails(b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", "Bad HTTP message", 400);
        fails(b"", "Bad HTTP message", 400);
    }

    #[test]
    fn too_many_headers_is_431() {
        let head = request_with(&["A: 1", "B: 2", "C: 3"]);
        // Three slots suffice: the failure is a validation one.
        let e = parse_request(&head, 3).unwrap_err();
        assert_eq!(e.message(), "Missing header, 'Connection: Upgrade'");
        let e = parse_request(&head, 2).unwrap_err();
        assert_eq!(e.message(), "Too many headers");
        let hint = RejectConnection { status_code: 431, ..RejectConnection::default() };
        assert_eq!(e.event_hint(), Some(&Event::RejectConnection(hint)));
        // A huge limit does not allocate a huge table.
        let e = parse_request(&head, usize::MAX).unwrap_err();
        assert_eq!(e.message(), "Missing header, 'Connection: Upgrade'");
    }

    #[test]
    fn validation_order_and_messages() {
        // Missing everything: Connection is checked first.
        fails(&request_with(&[]), "Missing header, 'Connection: Upgrade'", 400);
        fails_lines(&without("Connection"), "Missing header, 'Connection: Upgrade'");
        fails_lines(
            &with(&["Connection: keep-alive"]).into_iter().filter(|l| l != "Connection: Upgrade").collect::<Vec<_>>(),
            "Missing header, 'Connection: Upgrade'",
        );
        fails_lines(&without("Sec-WebSocket-Key"), "Missing header, 'Sec-WebSocket-Key'");
        fails_lines(&without("Upgrade"), "Missing header, 'Upgrade: websocket'");
        fails_lines(&without("Host"), "Missing header, 'Host'");
        // Version comes before key, key before upgrade, upgrade before host.
        let only_connection = vec!["Connection: Upgrade".to_string()];
        let e = parse_lines(&only_connection).unwrap_err();
        assert_eq!(e.message(), "Missing header, 'Sec-WebSocket-Version'");
        let lines = vec!["Connection: Upgrade".to_string(), "Sec-WebSocket-Version: 13".into()];
        fails_lines(&lines, "Missing header, 'Sec-WebSocket-Key'");
        let mut lines = lines;
        lines.push(format!("Sec-WebSocket-Key: {KEY}"));
        fails_lines(&lines, "Missing header, 'Upgrade: websocket'");
        lines.push("Upgrade: websocket".into());
        fails_lines(&lines, "Missing header, 'Host'");
    }

    #[test]
    fn wrong_upgrade_value() {
        let mut lines = without("Upgrade");
        lines.push("Upgrade: websocket, h2c".into());
        fails_lines(&lines, "Missing header, 'Upgrade: websocket'");
    }

    fn version_hint(status_code: u16) -> Event {
        Event::RejectConnection(RejectConnection {
            status_code,
            headers: vec![(b"Sec-WebSocket-Version".to_vec(), b"13".to_vec())],
            has_body: false,
        })
    }

    #[test]
    fn version_errors() {
        let e = parse_lines(&without("Sec-WebSocket-Version")).unwrap_err();
        assert_eq!(e.message(), "Missing header, 'Sec-WebSocket-Version'");
        assert_eq!(e.event_hint(), Some(&version_hint(400)));
        let e = parse_lines(&[without("Sec-WebSocket-Version"), vec!["Sec-WebSocket-Version: 8".into()]].concat())
            .unwrap_err();
        assert_eq!(e.event_hint(), Some(&version_hint(426)));
        let e = parse_lines(&[without("Sec-WebSocket-Version"), vec!["Sec-WebSocket-Version:".into()]].concat())
            .unwrap_err();
        assert_eq!(e.event_hint(), Some(&version_hint(400)));
    }

    #[test]
    fn invalid_keys() {
        for key in ["abc", "dGhlIHNhbXBsZSBub25jZQ", "AAAAAAAAAAAAAAAAAAAAAAAA", "dGhlIHNhbXBsZSBub25jZR=="] {
            let lines = [without("Sec-WebSocket-Key"), vec![format!("Sec-WebSocket-Key: {key}")]].concat();
            fails_lines(&lines, "Invalid header, 'Sec-WebSocket-Key'");
        }
    }

    #[test]
    fn duplicates_are_refused() {
        for (line, name) in [
            ("Host: other", "Host"),
            ("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==", "Sec-WebSocket-Key"),
            ("sec-websocket-version: 13", "Sec-WebSocket-Version"),
            ("Upgrade: websocket", "Upgrade"),
        ] {
            fails_lines(&with(&[line]), &format!("Duplicate header, '{name}'"));
        }
    }

    #[test]
    fn non_utf8_host_is_refused() {
        let mut head = b"GET / HTTP/1.1\r\nHost: \xff\r\n".to_vec();
        let tail = format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n");
        head.extend_from_slice(tail.as_bytes());
        fails(&head, "Invalid header, 'Host'", 400);
    }

    #[test]
    fn accept_bytes_minimal() {
        let out = build_accept(KEY.as_bytes(), None, None, &vec![]).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn accept_bytes_match_wsproto() {
        let ext = "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15";
        let out = build_accept(b"aqUPn8bW9xAyNXl6AK2bsQ==", Some("a"), Some(ext), &vec![]).unwrap();
        assert_eq!(
            out,
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: Qo/h3a8CdotS5LeDe4DPwMZcItU=\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15; server_max_window_bits=15\r\n\r\n"[..]
        );
    }

    #[test]
    fn accept_with_extra_headers() {
        let out = build_accept(KEY.as_bytes(), None, None, &vec![hdr("X-A", "1"), hdr("set-cookie", "b=2")]).unwrap();
        assert!(out.ends_with(b"xOo=\r\nX-A: 1\r\nset-cookie: b=2\r\n\r\n"));
    }

    #[test]
    fn accept_refuses_injection() {
        assert!(build_accept(KEY.as_bytes(), Some("a\r\nX: y"), None, &vec![]).is_err());
        assert!(build_accept(KEY.as_bytes(), None, Some("x\n"), &vec![]).is_err());
        assert!(build_accept(KEY.as_bytes(), None, None, &vec![hdr("X", "a\0")]).is_err());
        assert!(build_accept(KEY.as_bytes(), None, None, &vec![hdr("", "a")]).is_err());
    }

    fn reject(
        status_code: u16,
        headers: Headers,
        has_body: bool,
    ) -> Result<(Vec<u8>, BodyEncoding), LocalProtocolError> {
        build_reject(&RejectConnection { status_code, headers, has_body })
    }

    fn reject_ok(status_code: u16, headers: Headers, has_body: bool) -> (String, BodyEncoding) {
        let (bytes, enc) = reject(status_code, headers, has_body).unwrap();
        (String::from_utf8(bytes).unwrap(), enc)
    }

    #[test]
    fn reject_without_body() {
        assert_eq!(
            reject_ok(400, vec![], false),
            ("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".into(), BodyEncoding::Raw)
        );
        assert_eq!(
            reject_ok(599, vec![], false),
            ("HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n".into(), BodyEncoding::Raw)
        );
        let hint = RejectConnection {
            status_code: 426,
            headers: vec![(b"Sec-WebSocket-Version".to_vec(), b"13".to_vec())],
            has_body: false,
        };
        let (bytes, _) = build_reject(&hint).unwrap();
        assert_eq!(bytes, b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn reject_keeps_user_content_length() {
        assert_eq!(
            reject_ok(404, vec![hdr("content-length", "0")], false),
            ("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".into(), BodyEncoding::Raw)
        );
        assert_eq!(
            reject_ok(404, vec![hdr("Content-Length", "3")], true),
            ("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n".into(), BodyEncoding::Length(3))
        );
    }

    #[test]
    fn reject_with_body_defaults_to_chunked() {
        assert_eq!(
            reject_ok(403, vec![hdr("X", "y")], true),
            ("HTTP/1.1 403 Forbidden\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n".into(), BodyEncoding::Chunked)
        );
    }

    #[test]
    fn reject_with_user_transfer_encoding() {
        assert_eq!(
            reject_ok(500, vec![hdr("transfer-encoding", "gzip, Chunked")], true),
            (
                "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: gzip, Chunked\r\n\r\n".into(),
                BodyEncoding::Chunked
            )
        );
        // Not chunked last: the body is delimited by closing the connection.
        assert_eq!(reject_ok(500, vec![hdr("Transfer-Encoding", "gzip")], true).1, BodyEncoding::Raw);
    }

    #[test]
    fn reject_bodiless_statuses() {
        assert_eq!(reject_ok(204, vec![], false), ("HTTP/1.1 204 No Content\r\n\r\n".into(), BodyEncoding::Raw));
        assert_eq!(reject_ok(304, vec![], false).0, "HTTP/1.1 304 Not Modified\r\n\r\n");
        assert_eq!(reject_ok(100, vec![], false).0, "HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(reject_ok(199, vec![], false).0, "HTTP/1.1 199 \r\n\r\n");
        assert!(reject(204, vec![], true).is_err());
        assert!(reject(150, vec![], true).is_err());
    }

    #[test]
    fn reject_refuses_bad_status() {
        for code in [0, 99, 101, 600, 1000, u16::MAX] {
            assert!(reject(code, vec![], false).is_err(), "{code}");
        }
    }

    #[test]
    fn reject_refuses_conflicting_framing() {
        assert!(reject(400, vec![hdr("Content-Length", "2"), hdr("Transfer-Encoding", "chunked")], true).is_err());
        assert!(reject(400, vec![hdr("Transfer-Encoding", "chunked")], false).is_err());
        assert!(reject(400, vec![hdr("Content-Length", "5")], false).is_err());
    }

    #[test]
    fn reject_refuses_injection() {
        assert!(reject(400, vec![hdr("X", "a\r\nb: c")], false).is_err());
        assert!(reject(400, vec![hdr("X Y", "a")], false).is_err());
    }
}
