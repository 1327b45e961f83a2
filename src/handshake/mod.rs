//! The HTTP/1.1 opening handshake (RFC 6455 section 4) as pure functions;
//! the stateful glue lives in `crate::ws_connection`.
//!
//! - `http`: reading a head incrementally (each byte scanned once, bounded),
//!   reading and writing refusal bodies (Content-Length, chunked, until EOF).
//! - `headers`: quote-aware list splitting in linear time, tokens, the
//!   accept key, nonce checks, and header writing that refuses CR/LF/NUL.
//! - `server`: validating a request in wsproto's order; 101 and refusals.
//! - `client`: the request; validating the response.
//! - `negotiate`: matching extension offers to handlers, on fresh clones so
//!   that nothing from a declined offer leaks into the accepted one.

pub(crate) mod client;
pub(crate) mod headers;
pub(crate) mod http;
pub(crate) mod negotiate;
pub(crate) mod server;
