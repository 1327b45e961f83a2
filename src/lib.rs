//! # wsproto
//!
//! A sans-I/O WebSocket protocol engine (RFC 6455) with the semantics of
//! Python's [wsproto](https://python-hyper.org/projects/wsproto/): your code
//! owns the socket, the engine turns bytes into events and events into bytes.
//!
//! ```
//! use wsproto::{ConnectionType, ConnectionState, WSConnection};
//! use wsproto::events::{Event, Request, AcceptConnection, TextMessage};
//!
//! let mut client = WSConnection::new(ConnectionType::Client);
//! let mut server = WSConnection::new(ConnectionType::Server);
//!
//! // The client sends its opening handshake; the server reads it.
//! let bytes = client.send(Request { host: "example.com".into(), target: "/chat".into(), ..Default::default() }.into())?;
//! server.receive_data(Some(&bytes))?;
//! let request = server.events().next();
//! assert!(matches!(request, Some(Event::Request(ref r)) if r.target == "/chat"));
//!
//! // The server accepts; the client sees AcceptConnection.
//! let bytes = server.send(AcceptConnection::default().into())?;
//! client.receive_data(Some(&bytes))?;
//! assert!(matches!(client.events().next(), Some(Event::AcceptConnection(_))));
//! assert_eq!(client.state(), ConnectionState::Open);
//!
//! // Messages flow both ways.
//! let bytes = client.send(TextMessage::new("hello").into())?;
//! server.receive_data(Some(&bytes))?;
//! assert_eq!(server.events().collect::<Vec<_>>(), vec![Event::TextMessage(TextMessage::new("hello"))]);
//! # Ok::<(), wsproto::Error>(())
//! ```
//!
//! Call order: feed every chunk read from the socket to
//! [`WSConnection::receive_data`] (`None` at end of stream), then drain
//! [`WSConnection::events`]; pass events to [`WSConnection::send`] and write
//! the bytes it returns. Nothing is sent automatically: answer `Ping` with
//! `Ping::response()` and `CloseConnection` with `CloseConnection::response()`.
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unreachable_pub)]

pub mod close;
mod config;
mod connection;
mod error;
pub mod events;
pub mod extensions;
mod frame;
mod handshake;
mod protocol;
mod random;
mod state;
mod utf8;
#[cfg(target_arch = "wasm32")]
mod wasm;
mod ws_connection;

pub use config::Config;
pub use connection::{Connection, Events};
pub use error::{Error, LocalProtocolError, ParseFailed, RemoteProtocolError};
pub use frame::{Opcode, Rsv};
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use state::{ConnectionState, ConnectionType};
pub use ws_connection::{WSConnection, WsEvents};
