//! The connection state machine, as one table.
//!
//! A connection starts in CONNECTING (a frame-only [`crate::Connection`]
//! starts in OPEN). Every event sent or received is an [`Action`]; the table
//! in [`next_state`] says which actions each state allows and where they
//! lead. An action missing from the table is refused: sending it is a
//! `LocalProtocolError` naming the event and the state.

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    /// We sent (or will send) the opening request.
    Client,
    /// We received the opening request.
    Server,
}

/// RFC 6455 connection states, as wsproto names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The opening handshake is in progress.
    Connecting,
    /// The opening handshake is complete.
    Open,
    /// The peer sent a close; we owe one in reply.
    RemoteClosing,
    /// We sent a close; the peer owes one in reply.
    LocalClosing,
    /// The closing handshake is complete (or the transport ended).
    Closed,
    /// The server refused the handshake and is sending the response body.
    Rejecting,
}

impl ConnectionState {
    /// The wsproto name of the state, e.g. `REMOTE_CLOSING`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "CONNECTING",
            ConnectionState::Open => "OPEN",
            ConnectionState::RemoteClosing => "REMOTE_CLOSING",
            ConnectionState::LocalClosing => "LOCAL_CLOSING",
            ConnectionState::Closed => "CLOSED",
            ConnectionState::Rejecting => "REJECTING",
        }
    }
}

/// Something that happens to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Client sends its Request.
    SendRequest,
    /// Server receives a Request.
    RecvRequest,
    /// Server sends AcceptConnection (101).
    SendAccept,
    /// Client receives a 101.
    RecvAccept,
    /// A refusal, sent by the server or received by the client; `body`
    /// tells whether RejectData follows.
    Reject { body: bool },
    /// A piece of the refusal body, sent or received; `last` ends it.
    RejectData { last: bool },
    /// Send a message, ping or pong.
    SendData,
    /// Send a close frame.
    SendClose,
    /// Receive a close frame.
    RecvClose,
    /// The transport ended (`receive_data(None)`).
    Eof,
}

/// The transition table: the next state, or `None` if `action` is not
/// allowed in `state` for this `role`.
pub(crate) fn next_state(role: ConnectionType, state: ConnectionState, action: Action) -> Option<ConnectionState> {
    use Action::*;
    use ConnectionState::*;
    use ConnectionType::*;
    Some(match (role, state, action) {
        // ---- opening handshake ----------------------------------------
        (Client, Connecting, SendRequest) => Connecting,
        (Server, Connecting, RecvRequest) => Connecting,
        (Server, Connecting, SendAccept) => Open,
        (Client, Connecting, RecvAccept) => Open,
        (_, Connecting, Reject { body: true }) => Rejecting,
        (_, Connecting, Reject { body: false }) => Closed,
        (_, Rejecting, RejectData { last: false }) => Rejecting,
        (_, Rejecting, RejectData { last: true }) => Closed,
        // ---- data transfer -------------------------------------------
        (_, Open, SendData) => Open,
        // ---- closing handshake -----------------------------------------
        (_, Open, SendClose) => LocalClosing,
        (_, RemoteClosing, SendClose) => Closed,
        (_, Open, RecvClose) => RemoteClosing,
        (_, LocalClosing, RecvClose) => Closed,
        // ---- the transport ends, whatever the state ---------------------
        (_, _, Eof) => Closed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{next_state, Action, Action::*, ConnectionState::*, ConnectionType::*};
    use super::{ConnectionState, ConnectionType};

    const STATES: [ConnectionState; 6] = [Connecting, Open, RemoteClosing, LocalClosing, Closed, Rejecting];
    const ACTIONS: [Action; 14] = [
        SendRequest,
        RecvRequest,
        SendAccept,
        RecvAccept,
        Reject { body: true },
        Reject { body: false },
        RejectData { last: false },
        RejectData { last: true },
        SendData,
        SendClose,
        RecvClose,
        Eof,
        Eof,
        Eof,
    ];

    /// Every allowed row, written out once more: anything else must be refused.
    const ROWS: &[(ConnectionType, ConnectionState, Action, ConnectionState)] = &[
        (Client, Connecting, SendRequest, Connecting),
        (Server, Connecting, RecvRequest, Connecting),
        (Server, Connecting, SendAccept, Open),
        (Client, Connecting, RecvAccept, Open),
        (Client, Connecting, Reject { body: true }, Rejecting),
        (Server, Connecting, Reject { body: true }, Rejecting),
        (Client, Connecting, Reject { body: false }, Closed),
        (Server, Connecting, Reject { body: false }, Closed),
        (Client, Rejecting, RejectData { last: false }, Rejecting),
        (Server, Rejecting, RejectData { last: false }, Rejecting),
        (Client, Rejecting, RejectData { last: true }, Closed),
        (Server, Rejecting, RejectData { last: true }, Closed),
        (Client, Open, SendData, Open),
        (Server, Open, SendData, Open),
        (Client, Open, SendClose, LocalClosing),
        (Server, Open, SendClose, LocalClosing),
        (Client, RemoteClosing, SendClose, Closed),
        (Server, RemoteClosing, SendClose, Closed),
        (Client, Open, RecvClose, RemoteClosing),
        (Server, Open, RecvClose, RemoteClosing),
        (Client, LocalClosing, RecvClose, Closed),
        (Server, LocalClosing, RecvClose, Closed),
    ];

    #[test]
    fn table_row_by_row() {
        for role in [Client, Server] {
            for state in STATES {
                for action in ACTIONS {
                    let expected = if action == Eof {
                        Some(Closed)
                    } else {
                        ROWS.iter().find(|(r, s, a, _)| *r == role && *s == state && *a == action).map(|row| row.3)
                    };
                    assert_eq!(next_state(role, state, action), expected, "{role:?} {state:?} {action:?}");
                }
            }
        }
    }
}
