//! The HTTP/1.1 opening handshake (RFC 6455 section 4) as pure functions:
//! reading heads and bodies incrementally, validating and building requests
//! and responses, and negotiating extensions. The stateful glue lives in
//! `crate::ws_connection`.
//!
//! CONTRACT (shared between modules; keep these signatures):
//!
//! http.rs
//!   pub(crate) struct HeadReader;                 // accumulates an HTTP head
//!   HeadReader::new() -> Self
//!   HeadReader::push(&mut self, data: &[u8], max_bytes: usize)
//!       -> Result<Option<usize>, RemoteProtocolError>
//!     Appends bytes up to the end of the head (CRLFCRLF). Returns Some(n) once
//!     complete, n = bytes of `data` that belonged to the head (the rest of
//!     `data` is not consumed); None if more is needed. Scans each byte once
//!     (linear time when fed 1 byte at a time). Err (hint: RejectConnection
//!     431) when the head would exceed max_bytes.
//!   HeadReader::head(&self) -> &[u8]              // the complete head
//!   pub(crate) enum BodyFraming { Length(u64), Chunked, UntilEof }
//!   pub(crate) struct BodyReader;
//!   BodyReader::new(BodyFraming) -> Self
//!   BodyReader::push(&mut self, data: &[u8]) -> Result<BodyChunk, RemoteProtocolError>
//!     pub(crate) struct BodyChunk { data: Vec<u8>, consumed: usize, finished: bool }
//!   BodyReader::eof(&mut self) -> bool            // true if EOF legitimately ends the body
//!   pub(crate) enum BodyEncoding { Raw, Chunked }
//!   pub(crate) fn encode_body(enc: BodyEncoding, data: &[u8], finished: bool) -> Vec<u8>
//!
//! headers.rs
//!   pub(crate) fn split_list(value: &[u8]) -> Vec<String>   // quote-aware, linear
//!   pub(crate) fn has_token(value: &[u8], token: &str) -> bool
//!   pub(crate) fn accept_key(nonce: &[u8]) -> String
//!   pub(crate) fn is_valid_nonce(nonce: &[u8]) -> bool
//!   pub(crate) fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8])
//!       -> Result<(), LocalProtocolError>     // refuses CR, LF, NUL; bad names
//!
//! server.rs
//!   pub(crate) struct ParsedRequest { pub request: Request, pub key: Vec<u8> }
//!   pub(crate) fn parse_request(head: &[u8], max_headers: usize)
//!       -> Result<ParsedRequest, RemoteProtocolError>
//!   pub(crate) fn build_accept(key: &[u8], subprotocol: Option<&str>,
//!       extensions: Option<&str>, extra_headers: &Headers)
//!       -> Result<Vec<u8>, LocalProtocolError>
//!   pub(crate) fn build_reject(event: &RejectConnection)
//!       -> Result<(Vec<u8>, BodyEncoding), LocalProtocolError>
//!
//! client.rs
//!   pub(crate) fn build_request(request: &Request, key: &str, offers: &[String])
//!       -> Result<Vec<u8>, LocalProtocolError>
//!   pub(crate) enum Response {
//!       Accept { subprotocol: Option<String>, extensions: Vec<String>, extra_headers: Headers },
//!       Reject { status_code: u16, headers: Headers, body: Option<BodyFraming> },
//!   }
//!   pub(crate) fn parse_response(head: &[u8], key: &str, offered_subprotocols: &[String],
//!       max_headers: usize) -> Result<Response, RemoteProtocolError>
//!
//! negotiate.rs
//!   pub(crate) fn server_negotiate(offers: &[String], supported: &[Box<dyn Extension>])
//!       -> (Option<String>, Vec<Box<dyn Extension>>)
//!   pub(crate) fn client_finalize(accepted: &[String], offered: &[Box<dyn Extension>])
//!       -> Result<Vec<Box<dyn Extension>>, RemoteProtocolError>

pub(crate) mod client;
pub(crate) mod headers;
pub(crate) mod http;
pub(crate) mod negotiate;
pub(crate) mod server;
