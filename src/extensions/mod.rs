//! The extension hooks (wsproto's `Extension`): negotiation during the
//! handshake, then a say in every frame's RSV bits and payload.

use crate::error::ParseFailed;
use crate::frame::{Opcode, Rsv};
use std::fmt;

/// A WebSocket extension such as permessage-deflate.
///
/// The frame code calls these hooks and knows nothing else about
/// extensions. Defaults pass data through unchanged.
pub trait Extension: fmt::Debug + Send {
    /// The extension token, e.g. `permessage-deflate`.
    fn name(&self) -> &str;

    /// A copy of this extension in its current state (events are `Clone`).
    fn clone_box(&self) -> Box<dyn Extension>;

    /// Client: the offer's parameters (after the name; empty for none).
    fn offer(&self) -> String {
        String::new()
    }

    /// Server: one offer element (`"name; params"`) from the client. Return
    /// the response's parameters to accept it, or `None` to decline it.
    fn accept(&mut self, offer: &str) -> Option<String>;

    /// Client: the server's response element. An `Err` fails the handshake.
    fn finalize(&mut self, response: &str) -> Result<(), String>;

    /// A frame header arrived: return the RSV bits this extension claims.
    fn frame_inbound_header(&mut self, _opcode: Opcode, _rsv: Rsv, _payload_len: u64) -> Result<Rsv, ParseFailed> {
        Ok(Rsv::NONE)
    }

    /// Unmasked payload bytes arrived: append what the application sees to
    /// `out`. `limit` caps `out.len()`: what the message may still grow by
    /// under `max_message_size`. Fail with 1009 as soon as output would
    /// cross it (while inflating, never after). On any failure, leave in
    /// `out` the output that came before it (up to the limit): the
    /// protocol checks those bytes first (invalid UTF-8 before the failure
    /// is a 1007), so that the outcome does not depend on how the input
    /// was chunked.
    fn frame_inbound_payload_data(&mut self, data: &[u8], out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        out.extend_from_slice(data);
        Ok(())
    }

    /// The frame's payload is complete: append any final bytes to `out`,
    /// which already holds this piece's output from
    /// [`Extension::frame_inbound_payload_data`]; `limit` caps `out.len()`.
    fn frame_inbound_complete(&mut self, _fin: bool, _out: &mut Vec<u8>, _limit: u64) -> Result<(), ParseFailed> {
        Ok(())
    }

    /// A frame is being sent: return its RSV bits and payload.
    fn frame_outbound(&mut self, _opcode: Opcode, rsv: Rsv, data: Vec<u8>, _fin: bool) -> (Rsv, Vec<u8>) {
        (rsv, data)
    }
}

impl Clone for Box<dyn Extension> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Extensions compare by name and offer (their negotiated identity).
impl PartialEq for Box<dyn Extension> {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.offer() == other.offer()
    }
}
impl Eq for Box<dyn Extension> {}

pub mod deflate;
pub use deflate::PerMessageDeflate;
