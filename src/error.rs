//! Errors that say who is to blame: the local caller or the remote peer.

use crate::events::Event;
use std::fmt;

/// The local side asked for something the protocol or the state forbids
/// (wrong event for the state, bad close code, CR/LF in a header, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalProtocolError {
    message: String,
}

impl LocalProtocolError {
    /// Creates an error with a message for humans.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for LocalProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for LocalProtocolError {}

/// `text` in double quotes for an error message, as `{:?}` writes it for
/// ASCII (`\"`, `\\`, `\n`, `\u{1b}`, ...); other characters as they are.
/// `{:?}` itself would ship Rust's Unicode printability tables in the
/// `.wasm` (about 4 KB gzipped) for these few messages.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_ascii_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The remote peer sent something invalid during the opening handshake.
///
/// `event_hint` is the event to send back (usually a `RejectConnection`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteProtocolError {
    message: String,
    event_hint: Option<Box<Event>>,
}

impl RemoteProtocolError {
    /// Creates an error with a message and an optional event to send in reply.
    pub fn new(message: impl Into<String>, event_hint: Option<Event>) -> Self {
        Self { message: message.into(), event_hint: event_hint.map(Box::new) }
    }
    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The event wsproto suggests sending to the peer in reply.
    pub fn event_hint(&self) -> Option<&Event> {
        self.event_hint.as_deref()
    }
}

impl fmt::Display for RemoteProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for RemoteProtocolError {}

/// Either kind of protocol error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Local misuse.
    Local(LocalProtocolError),
    /// Remote misbehaviour during the handshake.
    Remote(RemoteProtocolError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Local(e) => write!(f, "local protocol error: {e}"),
            Error::Remote(e) => write!(f, "remote protocol error: {e}"),
        }
    }
}
impl std::error::Error for Error {}

impl From<LocalProtocolError> for Error {
    fn from(e: LocalProtocolError) -> Self {
        Error::Local(e)
    }
}
impl From<RemoteProtocolError> for Error {
    fn from(e: RemoteProtocolError) -> Self {
        Error::Remote(e)
    }
}

/// A failure while parsing frames: becomes a `CloseConnection` event with `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFailed {
    /// The close code to report (1002, 1007, 1009, ...).
    pub code: u16,
    /// Why, for humans; also used as the close reason.
    pub reason: String,
}

impl ParseFailed {
    pub(crate) fn new(code: u16, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }
    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        Self::new(crate::close::PROTOCOL_ERROR, reason)
    }
}

#[cfg(test)]
mod quoted_tests {
    use super::quoted;

    #[test]
    fn quoted_is_debug_for_every_ascii_character() {
        for b in 0u8..=0x7f {
            let s = format!("a{}b", b as char);
            assert_eq!(quoted(&s), format!("{s:?}"), "byte {b:#x}");
        }
        assert_eq!(quoted(""), "\"\"");
    }

    #[test]
    fn quoted_passes_other_characters_through() {
        assert_eq!(quoted("h\u{e9}llo \u{1F600}\n"), "\"h\u{e9}llo \u{1F600}\\n\"");
    }
}
