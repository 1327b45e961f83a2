//! Structure-aware round trip: an arbitrary sequence of events sent by one
//! side of a handshaken pair arrives, in arbitrary chunks, as exactly the
//! frames and control messages an exact model predicts, including the 1009
//! failures of the receiver's limits and the close handshake at the end.
//!
//! Events the sender must refuse (pings over 125 bytes, unsendable close
//! codes) are refused with a LocalProtocolError that leaves no bytes and
//! no state change behind.
use crate::common::{Checker, Norm};
use arbitrary::Arbitrary;
use wsproto::close::{is_valid_received_code, truncate_utf8};
use wsproto::events::{AcceptConnection, BytesMessage, CloseConnection, Event, Ping, Pong, Request, TextMessage};
use wsproto::{Config, ConnectionState, ConnectionType, SeededRandom, WSConnection};

#[derive(Arbitrary, Debug)]
enum Item {
    /// A text message in pieces (one frame each), with pings between them.
    Text {
        pieces: Vec<String>,
        pings_between: bool,
    },
    /// A binary message in pieces.
    Bytes {
        pieces: Vec<Vec<u8>>,
        pings_between: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which side sends.
    client_sends: bool,
    items: Vec<Item>,
    /// Receiver limits: (max_frame_size, max_message_size); default if None.
    limits: Option<(u16, u16)>,
    /// Chunk sizes for feeding the receiver (cycled; 0 reads as 1).
    sizes: Vec<u16>,
    /// The close sent at the end, if any.
    close: Option<(u16, String)>,
    seed: u64,
}

/// Runs one input (the bytes are decoded with `arbitrary`, as
/// `fuzz_target!` does for a typed input).
pub fn check(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        run(input);
    }
}

fn open(input: &Input, config: Config) -> (WSConnection, WSConnection) {
    let (client_config, server_config) =
        if input.client_sends { (Config::default(), config) } else { (config, Config::default()) };
    let mut client = WSConnection::with_config(ConnectionType::Client, client_config)
        .with_random(Box::new(SeededRandom::new(input.seed)));
    let mut server = WSConnection::with_config(ConnectionType::Server, server_config)
        .with_random(Box::new(SeededRandom::new(!input.seed)));
    let request = Request { host: "h".into(), target: "/".into(), ..Request::default() };
    let bytes = client.send(request.into()).expect("request");
    server.receive_data(Some(&bytes)).expect("server reads the request");
    assert!(matches!(server.next_event(), Some(Event::Request(_))));
    let bytes = server.send(AcceptConnection::default().into()).expect("accept");
    client.receive_data(Some(&bytes)).expect("client reads the 101");
    assert!(matches!(client.next_event(), Some(Event::AcceptConnection(_))));
    (client, server)
}

/// The model of the receiver: what it must report for what was sent.
struct Model {
    max_frame: u64,
    max_message: u64,
    message_len: u64,
    /// The receiver failed: nothing more arrives.
    stopped: bool,
    expected: Vec<Norm>,
}

impl Model {
    fn frame(&mut self, text: bool, data: &[u8], first: bool, last: bool) {
        if self.stopped {
            return;
        }
        if first {
            self.message_len = 0;
        }
        let len = data.len() as u64;
        if len > self.max_frame {
            self.fail(format!("frame of {len} bytes exceeds the limit"));
        } else if self.message_len + len > self.max_message {
            self.fail("message exceeds the size limit".to_owned());
        } else {
            self.message_len += len;
            self.expected.push(Norm::Frame { text, data: data.to_vec(), message_finished: last });
        }
    }
    fn control(&mut self, norm: Norm) {
        if !self.stopped {
            self.expected.push(norm);
        }
    }
    fn fail(&mut self, reason: String) {
        self.expected.push(Norm::Close(1009, reason));
        self.stopped = true;
    }
}

/// Sends `event`, which must be refused without a trace if `refused`.
fn send(sender: &mut WSConnection, event: Event, wire: &mut Vec<u8>, refused: bool) {
    let before = (wire.len(), sender.state());
    let result = sender.send_into(event, wire);
    if refused {
        assert!(result.is_err(), "an invalid event was sent");
        assert_eq!((wire.len(), sender.state()), before, "a refused event left a trace");
    } else {
        result.expect("a valid event");
    }
}

fn run(input: Input) {
    let config = match input.limits {
        Some((frame, message)) => {
            Config { max_frame_size: u64::from(frame), max_message_size: u64::from(message), ..Config::default() }
        }
        None => Config::default(),
    };
    let mut model = Model {
        max_frame: config.max_frame_size,
        max_message: config.max_message_size,
        message_len: 0,
        stopped: false,
        expected: Vec::new(),
    };
    let (mut client, mut server) = open(&input, config.clone());
    let (sender, receiver) = if input.client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };

    let mut wire = Vec::new();
    for item in &input.items {
        match item {
            Item::Text { pieces, pings_between } => {
                let pieces: Vec<&[u8]> =
                    if pieces.is_empty() { vec![&b""[..]] } else { pieces.iter().map(|p| p.as_bytes()).collect() };
                message(sender, &mut wire, &mut model, true, &pieces, *pings_between);
            }
            Item::Bytes { pieces, pings_between } => {
                let pieces: Vec<&[u8]> =
                    if pieces.is_empty() { vec![&b""[..]] } else { pieces.iter().map(Vec::as_slice).collect() };
                message(sender, &mut wire, &mut model, false, &pieces, *pings_between);
            }
            Item::Ping(payload) => {
                let refused = payload.len() > 125;
                send(sender, Ping::new(payload.clone()).into(), &mut wire, refused);
                if !refused {
                    model.control(Norm::Ping(payload.clone()));
                }
            }
            Item::Pong(payload) => {
                let refused = payload.len() > 125;
                send(sender, Pong::new(payload.clone()).into(), &mut wire, refused);
                if !refused {
                    model.control(Norm::Pong(payload.clone()));
                }
            }
        }
    }
    let mut closed = false;
    if let Some((code, reason)) = &input.close {
        let sendable = match *code {
            1005 => reason.is_empty(),
            1006 | 1015 => false,
            c => (1000..=4999).contains(&c),
        };
        send(sender, CloseConnection::with_reason(*code, reason.clone()).into(), &mut wire, !sendable);
        if sendable {
            assert_eq!(sender.state(), ConnectionState::LocalClosing);
            closed = true;
            let expected = if *code == 1005 {
                Norm::Close(1005, String::new())
            } else if is_valid_received_code(*code) {
                Norm::Close(*code, truncate_utf8(reason, 123).to_owned())
            } else {
                // Sendable (1000-4999) but reserved on the wire (1004,
                // 1014, 1016-2999): the receiver refuses it, with wsproto's message.
                assert!((1000..=2999).contains(code));
                Norm::Close(1002, "CLOSE with unknown reserved code".to_owned())
            };
            model.control(expected);
        }
    }

    // Feed the receiver in chunks.
    let mut checker = Checker::new(config.max_message_size, Some(config.max_frame_size));
    let mut rest = &wire[..];
    let mut i = 0;
    while !rest.is_empty() {
        let size = input.sizes.get(i % input.sizes.len().max(1)).map_or(rest.len(), |&s| usize::from(s).max(1));
        i += 1;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        receiver.receive_data(Some(piece)).expect("the receiver is never CLOSED here");
        receiver.events().for_each(|e| checker.see(e));
        rest = tail;
    }
    let received = checker.finish();
    assert_eq!(received, model.expected);

    // Finish the closing handshake: the receiver answers, the sender reads it.
    if closed {
        let Some(Norm::Close(code, reason)) = received.last().cloned() else { panic!("no close received") };
        let reply = receiver.send(CloseConnection::with_reason(code, reason).into()).expect("answer the close");
        let receiver_state = receiver.state();
        sender.receive_data(Some(&reply)).expect("sender reads the answer");
        let answer: Vec<Event> = sender.events().collect();
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert!(matches!(answer[0], Event::CloseConnection(_)));
        assert_eq!(sender.state(), ConnectionState::Closed);
        // The receiver closes on a close frame; after its own failure it
        // sent the first close.
        assert!(matches!(receiver_state, ConnectionState::Closed | ConnectionState::LocalClosing));
    }
}

fn message(
    sender: &mut WSConnection,
    wire: &mut Vec<u8>,
    model: &mut Model,
    text: bool,
    pieces: &[&[u8]],
    pings_between: bool,
) {
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let event: Event = if text {
            let data = String::from_utf8(piece.to_vec()).expect("text pieces are strings");
            TextMessage { data, frame_finished: true, message_finished: last }.into()
        } else {
            BytesMessage { data: piece.to_vec(), frame_finished: true, message_finished: last }.into()
        };
        send(sender, event, wire, false);
        model.frame(text, piece, i == 0, last);
        if pings_between && !last {
            send(sender, Ping::new(vec![i as u8]).into(), wire, false);
            model.control(Norm::Ping(vec![i as u8]));
        }
    }
}
