//! RFC 6455 section 5: the base framing protocol.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod mask;

/// A frame opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: text.
    Text = 0x1,
    /// 0x2: binary.
    Binary = 0x2,
    /// 0x8: close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub fn from_u8(value: u8) -> Option<Opcode> {
        Some(match value {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }
    /// Whether this is a control frame (close, ping, pong).
    pub fn is_control(self) -> bool {
        (self as u8) & 0x08 != 0
    }
}

/// The three reserved bits of a frame header, for extensions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rsv {
    /// RSV1 (permessage-deflate's "compressed" bit).
    pub rsv1: bool,
    /// RSV2.
    pub rsv2: bool,
    /// RSV3.
    pub rsv3: bool,
}

impl Rsv {
    /// No bits set.
    pub const NONE: Rsv = Rsv { rsv1: false, rsv2: false, rsv3: false };

    pub(crate) fn from_byte(b: u8) -> Rsv {
        Rsv { rsv1: b & 0x40 != 0, rsv2: b & 0x20 != 0, rsv3: b & 0x10 != 0 }
    }
    pub(crate) fn to_byte(self) -> u8 {
        (u8::from(self.rsv1) << 6) | (u8::from(self.rsv2) << 5) | (u8::from(self.rsv3) << 4)
    }
    pub(crate) fn union(self, other: Rsv) -> Rsv {
        Rsv { rsv1: self.rsv1 | other.rsv1, rsv2: self.rsv2 | other.rsv2, rsv3: self.rsv3 | other.rsv3 }
    }
    /// Whether any bit set here is missing from `allowed`.
    pub(crate) fn exceeds(self, allowed: Rsv) -> bool {
        self.to_byte() & !allowed.to_byte() != 0
    }
}
