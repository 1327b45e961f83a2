//! Limits that bound every buffer the engine keeps.

/// Options for a connection. Every limit fails cleanly when crossed:
/// frame and message limits with a 1009 close, handshake limits with a
/// `RemoteProtocolError` whose hint is a 431 response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest message (after decompression) accepted, in bytes. Default 64 MiB.
    pub max_message_size: u64,
    /// Largest single frame payload accepted, in bytes. Default 64 MiB.
    pub max_frame_size: u64,
    /// Largest HTTP head (request or response line plus headers). Default 16 KiB.
    pub max_handshake_size: usize,
    /// Most header lines in an HTTP head. Default 100.
    pub max_headers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_message_size: 64 << 20, max_frame_size: 64 << 20, max_handshake_size: 16 << 10, max_headers: 100 }
    }
}
