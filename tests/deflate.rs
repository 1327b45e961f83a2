//! permessage-deflate (RFC 7692): negotiation tables, exact bytes, round
//! trips, every failure with its close code, and bounded memory under
//! decompression bombs (measured by a per-thread counting allocator).

mod common;

use common::cpu::cpu_time;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wsproto::events::{AcceptConnection, BytesMessage, CloseConnection, Event, Ping, Request, TextMessage};
use wsproto::extensions::deflate::Negotiated;
use wsproto::extensions::{Extension, PerMessageDeflate};
use wsproto::{Config, Connection, ConnectionType, Error, Opcode, Rsv, SeededRandom, WSConnection};

// ---- a per-thread counting allocator ----------------------------------------

/// Counts live heap bytes per thread, so tests running in parallel do not
/// disturb each other's numbers.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Bytes ever allocated (growth only, for a realloc) and the calls that did.
    static ALLOCATED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|a| a.set((a.get().0 + bytes, a.get().1 + 1)));
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            track(layout.size() as isize);
            count(layout.size());
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            track(layout.size() as isize);
            count(layout.size());
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            // Counted as a copy (old and new both live for a moment): an upper bound.
            track(new_size as isize);
            track(-(layout.size() as isize));
            count(new_size.saturating_sub(layout.size()));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

/// Runs `f`, returning its result and the peak of live bytes above the start.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let base = live_bytes();
    PEAK.with(|peak| peak.set(base));
    let value = f();
    (value, PEAK.with(Cell::get) - base)
}

/// How much larger the large input of a scaling check is than the small one.
const SCALE: usize = 8;

/// Checks that `work` costs about SCALE times more on `large` than on
/// `small` (SCALE times larger), where quadratic work would cost SCALE
/// times more again: allocated bytes and allocation calls (exact counts)
/// within 1.5x, CPU time within 3x plus 0.2 ms for clock granularity. The
/// time is the fastest of five runs on `small`, and of up to five on `large`
/// (run again while over the bound, unless far over it).
/// Returns the large input's result.
fn assert_linear<I: ?Sized, R>(what: &str, small: &I, large: &I, mut work: impl FnMut(&I) -> R) -> R {
    let mut run = |input: &I| {
        let (before, start) = (ALLOCATED.with(Cell::get), cpu_time());
        let result = work(input);
        let (after, time) = (ALLOCATED.with(Cell::get), cpu_time() - start);
        (result, (after.0 - before.0, after.1 - before.1), time)
    };
    let (_, small_alloc, mut small_time) = run(small);
    for _ in 1..5 {
        small_time = small_time.min(run(small).2);
    }
    let (mut result, large_alloc, mut large_time) = run(large);
    assert!(large_alloc.0 <= small_alloc.0 * SCALE * 3 / 2 + KIB, "{what}: bytes {small_alloc:?} then {large_alloc:?}");
    assert!(large_alloc.1 <= small_alloc.1 * SCALE * 3 / 2 + 16, "{what}: calls {small_alloc:?} then {large_alloc:?}");
    let bound = small_time * (3 * SCALE) as u32 + Duration::from_micros(200);
    for _ in 1..5 {
        if large_time < bound || large_time > 2 * bound {
            break;
        }
        let (again, _, time) = run(large);
        (result, large_time) = (again, large_time.min(time));
    }
    assert!(large_time < bound, "{what}: CPU time {small_time:?} then {large_time:?}");
    result
}

// ---- helpers ----------------------------------------------------------------

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn pmd() -> PerMessageDeflate {
    PerMessageDeflate::default()
}

/// The compressor kept between messages (every version before the 4 KiB
/// history default): what the RFC's examples show byte for byte.
fn keep() -> PerMessageDeflate {
    cfg(|p| p.keep_compressor = true)
}

/// Default settings changed by `set`.
fn cfg(set: impl FnOnce(&mut PerMessageDeflate)) -> PerMessageDeflate {
    let mut ext = pmd();
    set(&mut ext);
    ext
}

/// A server-side extension that accepted `offer` (a full element).
fn server_ext(config: &PerMessageDeflate, offer: &str) -> PerMessageDeflate {
    let mut ext = config.clone();
    ext.accept(offer).unwrap_or_else(|| panic!("offer {offer:?} declined"));
    ext
}

/// A client-side extension that finalized `response` (a full element).
fn client_ext(config: &PerMessageDeflate, response: &str) -> PerMessageDeflate {
    let mut ext = config.clone();
    ext.finalize(response).unwrap_or_else(|e| panic!("response {response:?} refused: {e}"));
    ext
}

/// Negotiates `client` against `server` through the hooks, as the handshake does.
fn negotiate(client: &PerMessageDeflate, server: &PerMessageDeflate) -> (PerMessageDeflate, PerMessageDeflate) {
    let offer = format!("permessage-deflate; {}", client.offer());
    let mut server = server.clone();
    let params = server.accept(&offer).expect("offer accepted");
    let response =
        if params.is_empty() { "permessage-deflate".to_owned() } else { format!("permessage-deflate; {params}") };
    (client_ext(client, &response), server)
}

fn conn(role: ConnectionType, ext: PerMessageDeflate) -> Connection {
    conn_with(role, ext, Config::default())
}

fn conn_with(role: ConnectionType, ext: PerMessageDeflate, config: Config) -> Connection {
    Connection::with_config(role, vec![Box::new(ext)], b"", config).with_random(Box::new(SeededRandom::new(3)))
}

fn limited(max_message_size: usize) -> Config {
    Config { max_message_size: max_message_size as u64, ..Config::default() }
}

/// A frame as a peer would send it; masked if `mask` is given.
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame from a client (masked).
fn cframe(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, rsv1, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// A frame from a server (unmasked).
fn sframe(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, rsv1, opcode, payload, None)
}

#[derive(Debug, PartialEq, Eq)]
enum Msg {
    Text(String),
    Bytes(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16),
}

/// Joins data events into whole messages; keeps pings and closes in order.
fn messages(events: impl IntoIterator<Item = Event>) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut bytes = Vec::new();
    for event in events {
        match event {
            Event::TextMessage(m) => {
                text.push_str(&m.data);
                if m.message_finished {
                    out.push(Msg::Text(std::mem::take(&mut text)));
                }
            }
            Event::BytesMessage(m) => {
                bytes.extend_from_slice(&m.data);
                if m.message_finished {
                    out.push(Msg::Bytes(std::mem::take(&mut bytes)));
                }
            }
            Event::Ping(p) => out.push(Msg::Ping(p.payload)),
            Event::CloseConnection(c) => out.push(Msg::Close(c.code)),
            other => panic!("unexpected event {other:?}"),
        }
    }
    out
}

fn receive(conn: &mut Connection, bytes: &[u8]) -> Vec<Msg> {
    conn.receive_data(Some(bytes)).expect("receive_data");
    messages(conn.events())
}

/// The close code `conn` reported, if any.
fn close_code(msgs: &[Msg]) -> Option<u16> {
    msgs.iter().find_map(|m| match m {
        Msg::Close(code) => Some(*code),
        _ => None,
    })
}

/// Deterministic pseudo-random bytes (incompressible).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Compressible text: JSON-ish records.
fn text(len: usize, seed: u64) -> String {
    let words = ["alpha", "beta", "gamma", "delta", "user", "status", "online", "price", "order", "channel"];
    let mut state = seed | 1;
    let mut out = String::new();
    while out.len() < len {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let word = words[(state >> 33) as usize % words.len()];
        out.push_str(&format!("{{\"{word}\":{}}} ", (state >> 40) % 1000));
    }
    out.truncate(len);
    out
}

/// The RSV1 bit and payload of one unmasked frame that a server sent.
fn split_server_frame(bytes: &[u8]) -> (bool, Vec<u8>) {
    let rsv1 = bytes[0] & 0x40 != 0;
    let (len, start) = match bytes[1] & 0x7f {
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
        n => (n as usize, 2),
    };
    assert_eq!(bytes.len(), start + len, "one frame expected");
    (rsv1, bytes[start..].to_vec())
}

// ---- negotiation: server -----------------------------------------------------

#[test]
fn offer_strings() {
    assert_eq!(pmd().offer(), "client_max_window_bits");
    let all = cfg(|p| {
        p.client_no_context_takeover = true;
        p.client_max_window_bits = Some(10);
        p.server_no_context_takeover = true;
        p.server_max_window_bits = Some(12);
    });
    assert_eq!(
        all.offer(),
        "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
    );
    // Out-of-range settings are clamped, never offered as such.
    let wild = cfg(|p| {
        p.client_max_window_bits = Some(3);
        p.server_max_window_bits = Some(200);
    });
    assert_eq!(wild.offer(), "server_max_window_bits=15; client_max_window_bits=8");
    assert_eq!(pmd().name(), "permessage-deflate");
}

#[test]
fn server_response_table() {
    let default = pmd();
    let server_nct = cfg(|p| {
        p.server_no_context_takeover = true;
    });
    let client_nct = cfg(|p| {
        p.client_no_context_takeover = true;
    });
    let server_12 = cfg(|p| {
        p.server_max_window_bits = Some(12);
    });
    let client_12 = cfg(|p| {
        p.client_max_window_bits = Some(12);
    });
    let cases: &[(&PerMessageDeflate, &str, &str)] = &[
        (&default, "", ""),
        (&default, "; client_max_window_bits", ""),
        (&default, "; client_max_window_bits=10", "client_max_window_bits=10"),
        (&default, "; server_max_window_bits=10", "server_max_window_bits=10"),
        (&default, "; server_max_window_bits=8", "server_max_window_bits=8"),
        (&default, "; client_max_window_bits=8", "client_max_window_bits=8"),
        (&default, "; server_no_context_takeover", "server_no_context_takeover"),
        (&default, "; client_no_context_takeover", "client_no_context_takeover"),
        (
            &default,
            "; client_max_window_bits=9; server_max_window_bits=11; client_no_context_takeover; server_no_context_takeover",
            "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9",
        ),
        (&server_nct, "", "server_no_context_takeover"),
        (&server_nct, "; server_no_context_takeover", "server_no_context_takeover"),
        (&client_nct, "", "client_no_context_takeover"),
        (&client_nct, "; client_no_context_takeover", "client_no_context_takeover"),
        (&server_12, "", "server_max_window_bits=12"),
        (&server_12, "; server_max_window_bits=10", "server_max_window_bits=10"),
        (&server_12, "; server_max_window_bits=14", "server_max_window_bits=12"),
        // The client did not say it can limit its window: nothing to impose.
        (&client_12, "", ""),
        (&client_12, "; client_max_window_bits", "client_max_window_bits=12"),
        (&client_12, "; client_max_window_bits=10", "client_max_window_bits=10"),
        (&client_12, "; client_max_window_bits=15", "client_max_window_bits=12"),
        // Quoted values (RFC 7692 7.1.2: after unescaping they must be valid).
        (&default, "; client_max_window_bits=\"10\"", "client_max_window_bits=10"),
        (&default, "; server_max_window_bits=\"1\\3\"", "server_max_window_bits=13"),
        // Optional whitespace around separators.
        (&default, " ;client_max_window_bits = 11 ;\tserver_no_context_takeover\t", "server_no_context_takeover; client_max_window_bits=11"),
    ];
    for (config, params, expected) in cases {
        let offer = format!("permessage-deflate{params}");
        let mut ext = (*config).clone();
        assert_eq!(ext.accept(&offer).as_deref(), Some(*expected), "config {config:?}, offer {offer:?}");
        assert!(ext.negotiated().is_some_and(|n| !n.is_client));
    }
}

#[test]
fn server_negotiated_parameters() {
    let config = cfg(|p| {
        p.server_max_window_bits = Some(12);
        p.client_no_context_takeover = true;
    });
    let ext = server_ext(&config, "permessage-deflate; client_max_window_bits=9; server_no_context_takeover");
    assert_eq!(
        ext.negotiated(),
        Some(Negotiated {
            is_client: false,
            client_no_context_takeover: true,
            server_no_context_takeover: true,
            client_max_window_bits: 9,
            server_max_window_bits: 12,
        })
    );
    // Nothing negotiated before accept/finalize.
    assert_eq!(pmd().negotiated(), None);
}

#[test]
fn server_declines_invalid_offers() {
    let bad = [
        "; foo",
        "; foo=1",
        "; Client_max_window_bits",
        "; server_no_context_takeover; server_no_context_takeover",
        "; client_no_context_takeover; client_no_context_takeover",
        "; server_max_window_bits=10; server_max_window_bits=10",
        "; client_max_window_bits; client_max_window_bits=10",
        "; server_no_context_takeover=1",
        "; client_no_context_takeover=\"\"",
        "; server_max_window_bits",
        "; server_max_window_bits=",
        "; server_max_window_bits=7",
        "; server_max_window_bits=16",
        "; server_max_window_bits=0",
        "; server_max_window_bits=08",
        "; server_max_window_bits=015",
        "; server_max_window_bits=+9",
        "; server_max_window_bits=-9",
        "; server_max_window_bits=9.0",
        "; server_max_window_bits=1a",
        "; server_max_window_bits=99999999999999999999",
        "; client_max_window_bits=\"15 \"",
        "; client_max_window_bits=\" 15\"",
        "; client_max_window_bits=\"\"",
        "; client_max_window_bits=\"15",
        "; client_max_window_bits=15 16",
        "; client_max_window_bits==15",
        ";",
        "; ",
        ";;",
        "; client_max_window_bits;",
        " x",
        "; client_max_window_bits\u{e9}",
        "; client_max_window_bits=\"1\u{1}\"",
    ];
    for params in bad {
        let offer = format!("permessage-deflate{params}");
        let mut ext = pmd();
        assert_eq!(ext.accept(&offer), None, "offer {offer:?} should be declined");
        assert_eq!(ext.negotiated(), None);
    }
    assert_eq!(pmd().accept("x-webkit-deflate-frame"), None);
    assert_eq!(pmd().accept(""), None);
}

#[test]
fn hostile_offers_parse_in_linear_time() {
    const BAD_BITS: &str = "permessage-deflate: invalid value for client_max_window_bits";
    // Each shape about `n` bytes long, with what a server and a client make of it.
    type Shape = (&'static str, String, Option<&'static str>, Result<(), &'static str>);
    let shapes = |n: usize| -> Vec<Shape> {
        let spaces = " ".repeat(n);
        let quote = |body: String| format!("permessage-deflate; client_max_window_bits=\"{body}");
        vec![
            (
                "spaces around a parameter without a value",
                format!("permessage-deflate;{spaces}client_max_window_bits{spaces}"),
                // Allowed in an offer; a response must give the value.
                Some(""),
                Err(BAD_BITS),
            ),
            ("spaces around the name", format!("{spaces}permessage-deflate{spaces}"), Some(""), Ok(())),
            ("a long quoted value", quote(format!("{}\"", "1".repeat(n))), None, Err(BAD_BITS)),
            ("escapes in a quoted value", quote(format!("{}\"", "\\1".repeat(n / 2))), None, Err(BAD_BITS)),
            (
                // Refused at the first one.
                "empty parameters",
                format!("permessage-deflate{}", "; ".repeat(n / 2)),
                None,
                Err("permessage-deflate: missing parameter name"),
            ),
            (
                "an unterminated quote of escaped quotes",
                quote("\\\"".repeat(n / 2)),
                None,
                Err("permessage-deflate: malformed parameter value"),
            ),
        ]
    };
    for ((what, small, ..), (_, offer, accepted, finalized)) in shapes(4 * KIB).into_iter().zip(shapes(32 * KIB)) {
        let (accept, finalize) = assert_linear(what, small.as_str(), offer.as_str(), |offer| {
            let (mut server, mut client) = (pmd(), pmd());
            let accept = server.accept(offer);
            (accept, client.finalize(offer))
        });
        assert_eq!(accept.as_deref(), accepted, "{what}: accept");
        assert_eq!(finalize, finalized.map_err(str::to_owned), "{what}: finalize");
    }
}

// ---- negotiation: client -----------------------------------------------------

#[test]
fn client_finalize_table() {
    let default = pmd();
    let server_nct = cfg(|p| {
        p.server_no_context_takeover = true;
    });
    let client_nct = cfg(|p| {
        p.client_no_context_takeover = true;
    });
    let server_10 = cfg(|p| {
        p.server_max_window_bits = Some(10);
    });
    let client_10 = cfg(|p| {
        p.client_max_window_bits = Some(10);
    });
    // (config, response params, (client nct, server nct, client bits, server bits))
    type Row<'a> = (&'a PerMessageDeflate, &'a str, (bool, bool, u8, u8));
    let ok: &[Row] = &[
        (&default, "", (false, false, 15, 15)),
        (&default, "; client_max_window_bits=9", (false, false, 9, 15)),
        (&default, "; client_max_window_bits=8", (false, false, 8, 15)),
        (&default, "; server_max_window_bits=10", (false, false, 15, 10)),
        (&default, "; server_no_context_takeover", (false, true, 15, 15)),
        (&default, "; client_no_context_takeover", (true, false, 15, 15)),
        (&default, "; server_max_window_bits=\"8\"", (false, false, 15, 8)),
        (&server_nct, "; server_no_context_takeover", (false, true, 15, 15)),
        (&client_nct, "", (true, false, 15, 15)),
        (&server_10, "; server_max_window_bits=10", (false, false, 15, 10)),
        (&server_10, "; server_max_window_bits=9", (false, false, 15, 9)),
        (&client_10, "", (false, false, 10, 15)),
        (&client_10, "; client_max_window_bits=10", (false, false, 10, 15)),
        (&client_10, "; client_max_window_bits=8", (false, false, 8, 15)),
    ];
    for (config, params, (cnct, snct, cbits, sbits)) in ok {
        let ext = client_ext(config, &format!("permessage-deflate{params}"));
        assert_eq!(
            ext.negotiated(),
            Some(Negotiated {
                is_client: true,
                client_no_context_takeover: *cnct,
                server_no_context_takeover: *snct,
                client_max_window_bits: *cbits,
                server_max_window_bits: *sbits,
            }),
            "config {config:?}, response {params:?}"
        );
    }
    let bad: &[(&PerMessageDeflate, &str)] = &[
        (&server_nct, ""),
        (&server_10, ""),
        (&server_10, "; server_max_window_bits=11"),
        (&client_10, "; client_max_window_bits=11"),
        (&default, "; client_max_window_bits"),
        (&default, "; foo"),
        (&default, "; server_max_window_bits=16"),
        (&default, "; server_max_window_bits=\"15 \""),
        (&default, "; server_max_window_bits=015"),
        (&default, "; server_no_context_takeover; server_no_context_takeover"),
        (&default, "; client_max_window_bits=10; client_max_window_bits=10"),
        (&default, "; client_no_context_takeover=yes"),
        (&default, ";"),
    ];
    for (config, params) in bad {
        let mut ext = (*config).clone();
        let response = format!("permessage-deflate{params}");
        assert!(ext.finalize(&response).is_err(), "config {config:?}, response {response:?} should fail");
        assert_eq!(ext.negotiated(), None);
    }
}

// ---- negotiation through the handshake ---------------------------------------

/// A full handshake with deflate handlers; returns the accepted elements.
fn handshake(
    client_config: PerMessageDeflate,
    server_config: PerMessageDeflate,
    config: Config,
    extra_offers: &[&str],
) -> Result<(WSConnection, WSConnection, Vec<String>), Error> {
    let mut client =
        WSConnection::with_config(ConnectionType::Client, config.clone()).with_random(Box::new(SeededRandom::new(9)));
    let mut server = WSConnection::with_config(ConnectionType::Server, config);
    let request = Request {
        host: "localhost".into(),
        target: "/".into(),
        extensions: extra_offers.iter().map(|s| s.to_string()).collect(),
        handlers: vec![Box::new(client_config)],
        ..Default::default()
    };
    server.receive_data(Some(&client.send(request.into())?))?;
    assert!(matches!(server.next_event(), Some(Event::Request(_))));
    let accept = AcceptConnection { handlers: vec![Box::new(server_config)], ..Default::default() };
    client.receive_data(Some(&server.send(accept.into())?))?;
    let Some(Event::AcceptConnection(accepted)) = client.next_event() else { panic!("no AcceptConnection") };
    Ok((client, server, accepted.extensions))
}

#[test]
fn handshake_negotiates_and_first_acceptable_offer_wins() {
    let (_, server, accepted) = handshake(pmd(), pmd(), Config::default(), &[]).unwrap();
    assert_eq!(accepted, ["permessage-deflate"]);
    assert_eq!(server.extensions().len(), 1);

    // A raw invalid offer comes first and is declined; the handler's offer is
    // taken, and nothing from the declined one (server_no_context_takeover) leaks.
    let mut client = WSConnection::new(ConnectionType::Client);
    let mut server = WSConnection::new(ConnectionType::Server);
    let request = Request {
        host: "h".into(),
        target: "/".into(),
        extensions: vec![
            "permessage-deflate; server_no_context_takeover; bogus".into(),
            "permessage-deflate; client_max_window_bits=9".into(),
        ],
        ..Default::default()
    };
    server.receive_data(Some(&client.send(request.into()).unwrap())).unwrap();
    let Some(Event::Request(request)) = server.next_event() else { panic!() };
    assert_eq!(request.extensions.len(), 2);
    let accept = AcceptConnection { handlers: vec![Box::new(pmd())], ..Default::default() };
    let response = server.send(accept.into()).unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n"),
        "{response}"
    );
}

#[test]
fn default_negotiation_headers() {
    // The defaults negotiate as wsproto does, and `keep_compressor` (our
    // compressor only) changes nothing on the wire.
    for (client_config, server_config) in [(pmd(), pmd()), (keep(), keep()), (pmd(), keep()), (keep(), pmd())] {
        let mut client = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(5)));
        let mut server = WSConnection::new(ConnectionType::Server);
        let request = Request {
            host: "h".into(),
            target: "/".into(),
            handlers: vec![Box::new(client_config.clone())],
            ..Default::default()
        };
        let bytes = client.send(request.into()).unwrap();
        let head = String::from_utf8_lossy(&bytes).into_owned();
        assert!(
            head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
            "{head}"
        );
        server.receive_data(Some(&bytes)).unwrap();
        assert!(matches!(server.next_event(), Some(Event::Request(_))));
        let accept = AcceptConnection { handlers: vec![Box::new(server_config.clone())], ..Default::default() };
        let bytes = server.send(accept.into()).unwrap();
        let head = String::from_utf8_lossy(&bytes).into_owned();
        assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"), "{head}");
        client.receive_data(Some(&bytes)).unwrap();
        assert!(matches!(client.next_event(), Some(Event::AcceptConnection(_))));
        let agreed = Negotiated {
            is_client: false,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            client_max_window_bits: 15,
            server_max_window_bits: 15,
        };
        let mut server_side = server_config.clone();
        server_side.accept("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(server_side.negotiated(), Some(agreed));
        let client_side = client_ext(&client_config, "permessage-deflate");
        assert_eq!(client_side.negotiated(), Some(Negotiated { is_client: true, ..agreed }));
    }
}

#[test]
fn client_fails_handshake_on_bad_response() {
    for params in [
        "; client_max_window_bits",
        "; server_max_window_bits=16",
        "; foo",
        "; client_max_window_bits=9; client_max_window_bits=9",
    ] {
        let mut client = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(1)));
        let request =
            Request { host: "h".into(), target: "/".into(), handlers: vec![Box::new(pmd())], ..Default::default() };
        client.send(request.into()).unwrap();
        // SeededRandom(1)'s key, accepted by computing the answer from the request.
        let key = {
            let mut probe = WSConnection::new(ConnectionType::Client).with_random(Box::new(SeededRandom::new(1)));
            let bytes =
                probe.send(Request { host: "h".into(), target: "/".into(), ..Default::default() }.into()).unwrap();
            let mut server = WSConnection::new(ConnectionType::Server);
            server.receive_data(Some(&bytes)).unwrap();
            server.next_event();
            let reply = server.send(AcceptConnection::default().into()).unwrap();
            let reply = String::from_utf8(reply).unwrap();
            reply.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Accept: ").map(str::to_owned)).unwrap()
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {key}\r\nSec-WebSocket-Extensions: permessage-deflate{params}\r\n\r\n"
        );
        let err = client.receive_data(Some(response.as_bytes())).unwrap_err();
        assert!(matches!(err, Error::Remote(_)), "{params}: {err:?}");
    }
}

// ---- exact bytes (RFC 7692 section 7.2.3) ---------------------------------------

fn server_conn(config: &PerMessageDeflate, offer_params: &str) -> Connection {
    conn(ConnectionType::Server, server_ext(config, &format!("permessage-deflate{offer_params}")))
}

fn client_conn(config: &PerMessageDeflate, response_params: &str) -> Connection {
    conn(ConnectionType::Client, client_ext(config, &format!("permessage-deflate{response_params}")))
}

#[test]
fn rfc_hello_and_shared_window() {
    let mut server = server_conn(&keep(), "");
    // 7.2.3.1: a compressed unfragmented "Hello".
    assert_eq!(
        server.send(TextMessage::new("Hello").into()).unwrap(),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // 7.2.3.2: the second "Hello" refers back to the first (context takeover).
    assert_eq!(server.send(TextMessage::new("Hello").into()).unwrap(), [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);

    // Binary messages are compressed the same way.
    let mut server = server_conn(&keep(), "");
    assert_eq!(
        server.send(BytesMessage::new(*b"Hello").into()).unwrap(),
        [0xc2, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );

    // Every message is compressed, even one that does not shrink (7 bytes
    // carry these 5): without context takeover each "Hello" is the first.
    for config in [pmd(), keep()] {
        let mut server = server_conn(&config, "; server_no_context_takeover");
        for _ in 0..3 {
            assert_eq!(
                server.send(TextMessage::new("Hello").into()).unwrap(),
                [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            );
        }
    }
    // By default a new compressor primed with the history: the second
    // "Hello" refers back to the first, as with a kept one.
    let mut server = server_conn(&pmd(), "");
    assert_eq!(
        server.send(TextMessage::new("Hello").into()).unwrap(),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    let second = server.send(TextMessage::new("Hello").into()).unwrap();
    assert!(second[0] == 0xc1 && second.len() < 9, "{second:02x?}");
    // Sent in fragments, a message is compressed whatever it becomes.
    let mut server = server_conn(&pmd(), "");
    let first =
        server.send(TextMessage { data: "Hel".into(), frame_finished: true, message_finished: false }.into()).unwrap();
    let rest =
        server.send(TextMessage { data: "lo".into(), frame_finished: true, message_finished: true }.into()).unwrap();
    assert_eq!((first[0], rest[0]), (0x41, 0x80));
    let mut client = client_conn(&pmd(), "");
    assert_eq!(receive(&mut client, &[first, rest].concat()), [Msg::Text("Hello".into())]);
}

/// A chat-like JSON message of about 200 bytes.
fn chat_message(n: u32) -> String {
    format!(
        "{{\"type\":\"chat.message\",\"id\":\"msg_{n:06}\",\"room\":\"general\",\"user\":{{\"id\":1042,\"name\":\"alice\"}},\"text\":\"see you at the meeting tomorrow\",\"ts\":{}}}",
        1_714_567_890_123u64 + u64::from(n) * 977
    )
}

#[test]
fn history_carries_context_takeover() {
    // The default frees the compressor after each message and primes the
    // next with what was sent: the second similar message refers back into
    // the first, as with a kept compressor, and costs about as little.
    let mut server = server_conn(&pmd(), "");
    let mut kept = server_conn(&keep(), "");
    let mut client = client_conn(&pmd(), "");
    let mut sizes = Vec::new();
    for n in 0..3 {
        let message = chat_message(n);
        let bytes = server.send(TextMessage::new(message.clone()).into()).unwrap();
        let kept_bytes = kept.send(TextMessage::new(message.clone()).into()).unwrap();
        assert_eq!(bytes[0], 0xc1);
        assert!(bytes.len() <= kept_bytes.len() + 2, "message {n}: {} vs {}", bytes.len(), kept_bytes.len());
        assert_eq!(receive(&mut client, &bytes), [Msg::Text(message)]);
        sizes.push(bytes.len());
    }
    assert!(sizes[1] * 3 < sizes[0] && sizes[2] * 3 < sizes[0], "{sizes:?}");
    // An exact repeat: a single back-reference.
    let bytes = server.send(TextMessage::new(chat_message(2)).into()).unwrap();
    assert!(bytes.len() < 12, "{bytes:02x?}");
    assert_eq!(receive(&mut client, &bytes), [Msg::Text(chat_message(2))]);

    // Messages sent uncompressed (under the threshold) stay out of the
    // history as they stay out of the peer's window; noise that does not
    // shrink is still compressed, and enters both.
    let config = cfg(|p| p.compression_threshold = 40);
    let mut server = server_conn(&config, "");
    let mut client = client_conn(&pmd(), "");
    let wire = [
        server.send(TextMessage::new(chat_message(0)).into()).unwrap(),
        server.send(BytesMessage::new(noise(3000, 1)).into()).unwrap(),
        server.send(TextMessage::new("short one").into()).unwrap(),
        server.send(TextMessage::new(chat_message(1)).into()).unwrap(),
    ];
    assert_eq!(wire.iter().map(|w| w[0]).collect::<Vec<_>>(), [0xc1, 0xc2, 0x81, 0xc1]);
    assert!(wire[3].len() * 3 < wire[0].len(), "{} vs {}", wire[3].len(), wire[0].len());
    assert_eq!(
        receive(&mut client, &wire.concat()),
        [
            Msg::Text(chat_message(0)),
            Msg::Bytes(noise(3000, 1)),
            Msg::Text("short one".into()),
            Msg::Text(chat_message(1))
        ]
    );
}

#[test]
fn history_respects_negotiated_window() {
    // zlib-rs inflates with a 32 KiB window whatever it is told, so a
    // reference too far back would go unnoticed by our own peer: check the
    // compressed sizes instead. The history is the last 4 KiB sent, at most
    // the window: bytes sent before it cannot be matched (noise then comes
    // out no smaller than it is), bytes at its end can (zlib matches up to
    // the window less 262 bytes back).
    for bits in 9u8..=15 {
        let history = 4096.min(1usize << bits);
        let offer = format!("; server_max_window_bits={bits}");
        let mut server = server_conn(&pmd(), &offer);
        let mut client = client_conn(&pmd(), &offer);
        let old = noise(300, u64::from(bits));
        let recent = noise(history, 100 + u64::from(bits));
        let first = server.send(BytesMessage::new([old.clone(), recent.clone()].concat()).into()).unwrap();
        assert_eq!(first[0], 0xc2, "bits {bits}: compressed even though noise does not shrink");
        let mut wire = first;
        let both = [old.clone(), recent.clone(), b"then some text that compresses ".repeat(40)].concat();
        let bytes = server.send(BytesMessage::new(both.clone()).into()).unwrap();
        assert_eq!(bytes[0], 0xc2, "bits {bits}");
        wire.extend(bytes);
        // Now the history ends with the repeated text: `old` and `recent`
        // are gone from it (at 4 KiB and more the text is 1240 bytes, so
        // most of `recent` is still there).
        let tail = b"then some text that compresses ".repeat(4);
        let bytes = server.send(BytesMessage::new(tail.clone()).into()).unwrap();
        assert!(bytes[0] == 0xc2 && bytes.len() < 20, "bits {bits}: history not used: {}", bytes.len());
        wire.extend(bytes);
        let again = server.send(BytesMessage::new(old.clone()).into()).unwrap();
        assert!(again[0] == 0xc2 && again.len() >= old.len() + 2, "bits {bits}: matched data before the history");
        wire.extend(again);
        assert_eq!(
            receive(&mut client, &wire),
            [Msg::Bytes([old.clone(), recent].concat()), Msg::Bytes(both), Msg::Bytes(tail), Msg::Bytes(old)]
        );
    }
}

#[test]
fn rfc_examples_received() {
    let hello = || vec![Msg::Text("Hello".into())];
    let mut client = client_conn(&pmd(), "");
    // 7.2.3.1, then 7.2.3.2 (the shared window).
    assert_eq!(receive(&mut client, &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), hello());
    assert_eq!(receive(&mut client, &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]), hello());
    // 7.2.3.1, fragmented.
    assert_eq!(receive(&mut client, &[0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]), hello());
    // 7.2.3.4: a stored (uncompressed) DEFLATE block.
    assert_eq!(
        receive(&mut client, &[0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]),
        hello()
    );
    // An uncompressed message in between (RSV1 clear).
    assert_eq!(receive(&mut client, &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']), hello());
    assert_eq!(receive(&mut client, &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]), hello());

    // 7.2.3.3: a block with BFINAL set; trailing bytes after it are ignored,
    // and the next message starts a fresh stream.
    let mut client = client_conn(&pmd(), "");
    assert_eq!(receive(&mut client, &[0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), hello());
    assert_eq!(receive(&mut client, &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]), hello());
    assert_eq!(receive(&mut client, &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), hello());

    // 7.2.3.5: a fragment may carry no compressed bytes.
    let mut client = client_conn(&pmd(), "");
    assert_eq!(
        receive(&mut client, &[0x41, 0x03, 0xf2, 0x48, 0xcd, 0x00, 0x00, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]),
        hello()
    );
}

#[test]
fn empty_messages() {
    // Sent with a kept compressor: the single byte 0x00 (RFC 7692
    // 7.2.3.6), with or without context.
    let mut server = server_conn(&keep(), "");
    assert_eq!(server.send(TextMessage::new("").into()).unwrap(), [0xc1, 0x01, 0x00]);
    server.send(TextMessage::new("Hello").into()).unwrap();
    assert_eq!(server.send(BytesMessage::new(Vec::new()).into()).unwrap(), [0xc2, 0x01, 0x00]);
    // By default: the same byte.
    let mut server = server_conn(&pmd(), "");
    assert_eq!(server.send(TextMessage::new("").into()).unwrap(), [0xc1, 0x01, 0x00]);
    server.send(TextMessage::new("Hello").into()).unwrap();
    assert_eq!(server.send(BytesMessage::new(Vec::new()).into()).unwrap(), [0xc2, 0x01, 0x00]);

    // Received: 0x00 (zlib), 02 00 (an empty fixed-Huffman block) and an
    // empty payload with RSV1 all mean an empty message, and the shared
    // window survives them.
    let mut client = client_conn(&pmd(), "");
    assert_eq!(
        receive(&mut client, &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        [Msg::Text("Hello".into())]
    );
    assert_eq!(receive(&mut client, &[0xc1, 0x01, 0x00]), [Msg::Text(String::new())]);
    assert_eq!(receive(&mut client, &[0xc2, 0x02, 0x02, 0x00]), [Msg::Bytes(Vec::new())]);
    assert_eq!(receive(&mut client, &[0xc2, 0x00]), [Msg::Bytes(Vec::new())]);
    assert_eq!(receive(&mut client, &[0x41, 0x00, 0x80, 0x00]), [Msg::Text(String::new())]);
    assert_eq!(receive(&mut client, &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]), [Msg::Text("Hello".into())]);
}

// ---- round trips ------------------------------------------------------------------

/// Sends `payloads` from `sender` to `receiver`, in random-ish chunking and
/// fragmentation, and checks they arrive intact.
fn exchange(sender: &mut Connection, receiver: &mut Connection, payloads: &[Vec<u8>], label: &str) {
    for (i, payload) in payloads.iter().enumerate() {
        let text = std::str::from_utf8(payload).ok().filter(|_| i % 2 == 0);
        let mut wire = Vec::new();
        if i % 3 == 2 && payload.len() > 3 {
            // Fragmented, with a ping between fragments.
            let (a, b) = payload.split_at(payload.len() / 3);
            let (b, c) = b.split_at(b.len() / 2);
            for (part, last) in [(a, false), (b, false), (c, true)] {
                let event = Event::BytesMessage(BytesMessage {
                    data: part.to_vec(),
                    frame_finished: true,
                    message_finished: last,
                });
                wire.extend(sender.send(event).unwrap());
                if !last {
                    wire.extend(sender.send(Ping::new(*b"between").into()).unwrap());
                }
            }
        } else {
            let event = match text {
                Some(t) => TextMessage::new(t).into(),
                None => BytesMessage::new(payload.clone()).into(),
            };
            wire.extend(sender.send(event).unwrap());
        }
        let mut got = Vec::new();
        for chunk in wire.chunks(1 + (i * 7919) % 4096) {
            receiver.receive_data(Some(chunk)).unwrap();
            got.extend(receiver.events());
        }
        let got: Vec<Msg> = messages(got).into_iter().filter(|m| !matches!(m, Msg::Ping(_))).collect();
        let data = match got.as_slice() {
            [Msg::Text(t)] => t.as_bytes().to_vec(),
            [Msg::Bytes(b)] => b.clone(),
            other => panic!("{label}: message {i}: got {other:?}"),
        };
        assert!(data == *payload, "{label}: message {i} of {} bytes corrupted", payload.len());
    }
}

fn sample_payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"x".to_vec(),
        text(100, 1).into_bytes(),
        text(10_000, 2).into_bytes(),
        noise(5_000, 3),
        text(40_000, 4).into_bytes(),
        "héllo wörld ✓ ".repeat(500).into_bytes(),
        text(100, 1).into_bytes(),
        noise(70_000, 5),
        vec![0; 100_000],
        text(3_000, 2).into_bytes(),
    ]
}

#[test]
fn round_trips_all_window_sizes_and_takeover_modes() {
    for (bits, keep_compressor) in [8u8, 9, 10, 12, 15].into_iter().flat_map(|bits| [(bits, false), (bits, true)]) {
        for (client_nct, server_nct) in [(false, false), (true, true), (true, false), (false, true)] {
            let client_config = cfg(|p| {
                p.client_max_window_bits = Some(bits);
                p.server_max_window_bits = Some(bits);
                p.client_no_context_takeover = client_nct;
                p.server_no_context_takeover = server_nct;
                p.keep_compressor = keep_compressor;
            });
            let server_config = cfg(|p| p.keep_compressor = keep_compressor);
            let (client_ext, server_ext) = negotiate(&client_config, &server_config);
            let negotiated = server_ext.negotiated().unwrap();
            assert_eq!(
                (negotiated.client_max_window_bits, negotiated.server_max_window_bits),
                (bits, bits),
                "bits {bits}"
            );
            assert_eq!(
                (negotiated.client_no_context_takeover, negotiated.server_no_context_takeover),
                (client_nct, server_nct)
            );
            let mut client = conn(ConnectionType::Client, client_ext);
            let mut server = conn(ConnectionType::Server, server_ext);
            let label = format!("bits {bits} nct {client_nct}/{server_nct} keep {keep_compressor}");
            exchange(&mut client, &mut server, &sample_payloads(), &format!("{label} c->s"));
            exchange(&mut server, &mut client, &sample_payloads(), &format!("{label} s->c"));
        }
    }
}

#[test]
fn round_trips_through_full_handshake() {
    let configs = [
        (pmd(), pmd()),
        (
            cfg(|p| {
                p.client_no_context_takeover = true;
            }),
            pmd(),
        ),
        (
            pmd(),
            cfg(|p| {
                p.server_max_window_bits = Some(9);
                p.client_max_window_bits = Some(11);
            }),
        ),
        (
            cfg(|p| {
                p.server_no_context_takeover = true;
                p.server_max_window_bits = Some(10);
            }),
            cfg(|p| {
                p.client_no_context_takeover = true;
            }),
        ),
    ];
    for (client_config, server_config) in configs {
        let label = format!("{client_config:?} / {server_config:?}");
        let (mut client, mut server, accepted) =
            handshake(client_config, server_config, Config::default(), &[]).unwrap();
        assert_eq!(accepted.len(), 1, "{label}");
        for (i, payload) in sample_payloads().into_iter().enumerate() {
            let bytes = client.send(BytesMessage::new(payload.clone()).into()).unwrap();
            // Every message is compressed, even those that do not shrink.
            assert_eq!(bytes[0] & 0x40, 0x40, "{label}: RSV1 on message {i}");
            server.receive_data(Some(&bytes)).unwrap();
            assert_eq!(messages(server.events()), [Msg::Bytes(payload.clone())], "{label}: c->s {i}");
            let reply = String::from_utf8_lossy(&payload).into_owned();
            let bytes = server.send(TextMessage::new(reply.clone()).into()).unwrap();
            client.receive_data(Some(&bytes)).unwrap();
            assert_eq!(messages(client.events()), [Msg::Text(reply)], "{label}: s->c {i}");
        }
    }
}

#[test]
fn compressor_respects_negotiated_window() {
    // zlib-rs inflates with a 32 KiB window whatever it is told, so a strict
    // peer cannot be imitated here; instead: a random block repeated at a
    // distance just past the window cannot be matched by a compressor that
    // keeps to the window (output about as large as the input), while one
    // repeated within the window can (output about a third).
    fn compressed_len(bits: u8, block: usize) -> (usize, usize) {
        let block = noise(block, block as u64);
        let payload = [block.clone(), block.clone(), block].concat();
        // A kept compressor: every message compressed, however large it comes out.
        let mut server = server_conn(&keep(), &format!("; server_max_window_bits={bits}"));
        let mut client = client_conn(&pmd(), &format!("; server_max_window_bits={bits}"));
        let bytes = server.send(BytesMessage::new(payload.clone()).into()).unwrap();
        let (rsv1, body) = split_server_frame(&bytes);
        assert!(rsv1);
        assert_eq!(receive(&mut client, &bytes), [Msg::Bytes(payload.clone())]);
        (body.len(), payload.len())
    }
    for bits in 9u8..=15 {
        let window = 1usize << bits;
        let (beyond, total) = compressed_len(bits, window + 64);
        assert!(beyond * 100 > total * 95, "bits {bits}: {beyond} of {total}: matched beyond the window");
        // zlib keeps 262 bytes of lookahead out of the window (MAX_DIST).
        // (Small windows compress less well: 63% at 9 bits, ~35% from 11 on.)
        let (within, total) = compressed_len(bits, window - 300);
        assert!(within * 100 < total * 70, "bits {bits}: {within} of {total}: window not used");
    }
}

#[test]
fn window_bits_8_sends_uncompressed_and_receives_compressed() {
    // Our direction limited to 8 bits: zlib cannot do it, so messages go
    // out uncompressed (RSV1 clear), which RFC 7692 allows.
    for config in [pmd(), keep()] {
        let mut server = server_conn(&config, "; server_max_window_bits=8");
        let bytes = server.send(TextMessage::new("Hello Hello Hello").into()).unwrap();
        assert_eq!(bytes, [&[0x81, 17][..], b"Hello Hello Hello"].concat());
        let mut client = client_conn(&config, "; client_max_window_bits=8");
        let bytes = client.send(TextMessage::new("Hello Hello Hello").into()).unwrap();
        assert_eq!(bytes[0], 0x81);
    }

    // The other direction still compresses, and we inflate 8-bit streams.
    let mut server = server_conn(&pmd(), "; client_max_window_bits=8");
    let mut client = client_conn(&pmd(), "; client_max_window_bits=8");
    let bytes = server.send(TextMessage::new("Hello Hello Hello").into()).unwrap();
    assert_eq!(bytes[0], 0xc1);
    assert_eq!(receive(&mut client, &bytes), [Msg::Text("Hello Hello Hello".into())]);
    // A stream made with a 256-byte window (stored here) inflates fine.
    let stored = [0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00];
    assert_eq!(receive(&mut server, &cframe(true, true, 1, &stored)), [Msg::Text("Hello".into())]);
}

#[test]
fn one_byte_at_a_time() {
    let (client_ext, server_ext) = negotiate(&pmd(), &pmd());
    let mut client = conn(ConnectionType::Client, client_ext);
    let mut server = conn(ConnectionType::Server, server_ext);
    let payload = text(20_000, 7);
    let mut wire = client.send(TextMessage::new(payload.clone()).into()).unwrap();
    wire.extend(client.send(TextMessage::new(payload.clone()).into()).unwrap());
    let mut events = Vec::new();
    for byte in &wire {
        server.receive_data(Some(std::slice::from_ref(byte))).unwrap();
        events.extend(server.events());
    }
    assert_eq!(messages(events), [Msg::Text(payload.clone()), Msg::Text(payload)]);
}

#[test]
fn incompressible_messages() {
    let mut server = server_conn(&pmd(), "");
    let mut client = client_conn(&pmd(), "");
    for len in [1, 100, 65_535, 65_536, 300_000] {
        let payload = noise(len, len as u64);
        let bytes = server.send(BytesMessage::new(payload.clone()).into()).unwrap();
        assert!(bytes.len() > len, "grows a little");
        assert_eq!(receive(&mut client, &bytes), [Msg::Bytes(payload)]);
    }
}

#[test]
fn compression_threshold() {
    let config = cfg(|p| {
        p.compression_threshold = 10;
    });
    let mut server = server_conn(&config, "");
    let mut client = client_conn(&pmd(), "");
    let small = server.send(TextMessage::new("Hello").into()).unwrap();
    assert_eq!(small, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    let large = server.send(TextMessage::new("Hello Hello Hello").into()).unwrap();
    assert_eq!(large[0], 0xc1);
    // An unfinished message is compressed whatever its first fragment's size.
    let first =
        server.send(TextMessage { data: "Hi".into(), frame_finished: true, message_finished: false }.into()).unwrap();
    let rest =
        server.send(TextMessage { data: "!".into(), frame_finished: true, message_finished: true }.into()).unwrap();
    assert_eq!((first[0], rest[0]), (0x41, 0x80));
    let mut wire = small;
    wire.extend(large);
    wire.extend(first);
    wire.extend(rest);
    assert_eq!(
        receive(&mut client, &wire),
        [Msg::Text("Hello".into()), Msg::Text("Hello Hello Hello".into()), Msg::Text("Hi!".into())]
    );
}

#[test]
fn fragmented_send_sets_rsv1_on_first_frame_only() {
    let mut client = client_conn(&pmd(), "");
    let mut server = server_conn(&pmd(), "");
    let mut wire = Vec::new();
    let parts = ["first part, ", "second part, ", "", "last part"];
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let bytes = client
            .send(TextMessage { data: (*part).into(), frame_finished: true, message_finished: last }.into())
            .unwrap();
        let expected_first = match (i, last) {
            (0, _) => 0x41,
            (_, false) => 0x00,
            (_, true) => 0x80,
        };
        assert_eq!(bytes[0], expected_first, "frame {i}");
        wire.extend(bytes);
        // Control frames go out uncompressed in between.
        let ping = client.send(Ping::new(*b"p").into()).unwrap();
        assert_eq!(ping[0], 0x89);
        wire.extend(ping);
    }
    let got = receive(&mut server, &wire);
    assert_eq!(got.iter().filter(|m| matches!(m, Msg::Ping(_))).count(), 4);
    assert!(got.contains(&Msg::Text(parts.concat())));
}

// ---- failures ---------------------------------------------------------------------

#[test]
fn rsv1_on_continuation_is_protocol_error() {
    let mut server = server_conn(&pmd(), "");
    let mut wire = cframe(false, true, 1, &[0xf2, 0x48, 0xcd]);
    wire.extend(cframe(true, true, 0, &[0xc9, 0xc9, 0x07, 0x00]));
    assert_eq!(close_code(&receive(&mut server, &wire)), Some(1002));
    // Also when the message itself is not compressed.
    let mut server = server_conn(&pmd(), "");
    let mut wire = cframe(false, false, 2, b"ab");
    wire.extend(cframe(true, true, 0, b"cd"));
    assert_eq!(close_code(&receive(&mut server, &wire)), Some(1002));
}

#[test]
fn rsv1_on_control_frames_is_protocol_error() {
    for opcode in [0x8, 0x9, 0xa] {
        let mut client = client_conn(&pmd(), "");
        let payload: &[u8] = if opcode == 0x8 { &[0x03, 0xe8] } else { b"x" };
        assert_eq!(
            close_code(&receive(&mut client, &sframe(true, true, opcode, payload))),
            Some(1002),
            "opcode {opcode}"
        );
        // Also between two fragments of a compressed message.
        let mut client = client_conn(&pmd(), "");
        let mut wire = sframe(false, true, 1, &[0xf2, 0x48, 0xcd]);
        wire.extend(sframe(true, true, opcode, payload));
        assert_eq!(close_code(&receive(&mut client, &wire)), Some(1002), "opcode {opcode}");
    }
}

#[test]
fn rsv1_without_negotiation_is_protocol_error() {
    // Present but never negotiated: the extension claims no bits.
    let mut server = conn(ConnectionType::Server, pmd());
    assert_eq!(
        close_code(&receive(&mut server, &cframe(true, true, 1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))),
        Some(1002)
    );
    // And sends uncompressed.
    let mut server = conn(ConnectionType::Server, pmd());
    assert_eq!(server.send(TextMessage::new("Hello").into()).unwrap()[0], 0x81);
}

#[test]
fn control_frames_between_compressed_fragments() {
    // Python wsproto loses track of the compressed message here; we must not.
    let mut client = client_conn(&pmd(), "");
    let mut wire = sframe(false, true, 1, &[0xf2, 0x48]);
    wire.extend(sframe(true, false, 0x9, b"ping"));
    wire.extend(sframe(false, false, 0, &[0xcd]));
    wire.extend(sframe(true, false, 0xa, b"pong"));
    wire.extend(sframe(true, false, 0, &[0xc9, 0xc9, 0x07, 0x00]));
    // Then a context-takeover message that depends on the first.
    wire.extend(sframe(true, true, 1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    let mut client_events = Vec::new();
    client.receive_data(Some(&wire)).unwrap();
    client_events.extend(client.events());
    let pongs = client_events.iter().filter(|e| matches!(e, Event::Pong(_))).count();
    let rest: Vec<Event> = client_events.into_iter().filter(|e| !matches!(e, Event::Pong(_))).collect();
    assert_eq!(pongs, 1);
    assert_eq!(messages(rest), [Msg::Ping(b"ping".to_vec()), Msg::Text("Hello".into()), Msg::Text("Hello".into())]);
}

#[test]
fn corrupt_data_is_invalid_payload() {
    let cases: &[&[u8]] = &[
        &[0xff, 0xff, 0xff, 0xff],             // BTYPE 11 is reserved
        &[0x00, 0x05, 0x00, 0x00, 0x00, b'H'], // stored block with LEN != ~NLEN
        &[0xf2, 0x00, 0x11, 0x00, 0x00],       // refers back before the stream began
    ];
    for payload in cases {
        let mut server = server_conn(&pmd(), "");
        assert_eq!(close_code(&receive(&mut server, &cframe(true, true, 2, payload))), Some(1007), "{payload:02x?}");
    }
    // Valid deflate of invalid UTF-8 in a text message.
    let mut client = client_conn(&pmd(), "");
    let mut server = server_conn(&pmd(), "");
    let bytes = client.send(BytesMessage::new(vec![0xff, 0xfe, 0xfd]).into()).unwrap();
    let mut as_text = bytes.clone();
    as_text[0] = (as_text[0] & 0xf0) | 0x1;
    assert_eq!(close_code(&receive(&mut server, &as_text)), Some(1007));
}

// ---- decompression bombs -------------------------------------------------------------

const BOMB: usize = 64 * MIB;
const LIMIT: usize = MIB;

/// 64 MiB of zeros deflated (~65 KB), as one message payload.
fn bomb_payload() -> &'static [u8] {
    static BOMB_PAYLOAD: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB_PAYLOAD.get_or_init(|| {
        let (mut client, _) = negotiate(&pmd(), &pmd());
        let (rsv, payload) = client.frame_outbound(Opcode::Binary, Rsv::NONE, vec![0; BOMB], true);
        assert!(rsv.rsv1);
        payload
    })
}

/// Feeds `wire` to a server in `chunk`-sized pieces (the first `before`
/// bytes, earlier messages, unmeasured) and checks that it closes with 1009, that the data delivered stays under the limit, and that
/// the peak of live memory stays near the limit.
fn assert_bomb_contained(server: &mut Connection, wire: &[u8], chunk: usize, before: usize) {
    // Whole messages before the bomb arrive first, outside the measurement.
    let (prefix, wire) = wire.split_at(before);
    let mut earlier = Vec::new();
    for piece in prefix.chunks(chunk) {
        earlier.extend(receive(server, piece));
    }
    assert!(earlier.iter().all(|m| matches!(m, Msg::Bytes(b) if b.len() <= LIMIT)), "{}", earlier.len());
    let ((code, delivered), peak) = peak_during(|| {
        let mut code = None;
        let mut delivered = 0;
        for piece in wire.chunks(chunk) {
            server.receive_data(Some(piece)).unwrap();
            for event in server.events() {
                match event {
                    Event::BytesMessage(m) => delivered += m.data.len(),
                    Event::CloseConnection(CloseConnection { code: c, .. }) => code = Some(c),
                    other => panic!("unexpected {other:?}"),
                }
            }
            if code.is_some() {
                break;
            }
        }
        (code, delivered)
    });
    assert_eq!(code, Some(1009));
    assert!(delivered <= LIMIT, "delivered {delivered}");
    // The output grows to at most the limit (+1 byte); while a reallocation
    // copies it, old and new buffers both count (1.5x at worst). Add the
    // input chunk and its unmasked copy and the inflater: far below the 64
    // MiB the bomb would inflate to.
    let bound = (LIMIT * 3 / 2 + 2 * chunk + 256 * KIB) as isize;
    assert!(peak < bound, "peak {peak} bytes, bound {bound}");
}

#[test]
fn bomb_in_one_frame() {
    let payload = bomb_payload();
    assert!(payload.len() < 100 * KIB, "{}", payload.len());
    let wire = cframe(true, true, 2, payload);
    let mut server = conn_with(ConnectionType::Server, server_ext(&pmd(), "permessage-deflate"), limited(LIMIT));
    assert_bomb_contained(&mut server, &wire, wire.len(), 0);
    // Fed in small pieces too.
    let mut server = conn_with(ConnectionType::Server, server_ext(&pmd(), "permessage-deflate"), limited(LIMIT));
    assert_bomb_contained(&mut server, &wire, 1000, 0);
}

#[test]
fn bomb_across_fragments() {
    let payload = bomb_payload();
    let mut wire = Vec::new();
    let pieces: Vec<&[u8]> = payload.chunks(512).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let (first, last) = (i == 0, i == pieces.len() - 1);
        wire.extend(cframe(last, first, if first { 2 } else { 0 }, piece));
    }
    let mut server = conn_with(ConnectionType::Server, server_ext(&pmd(), "permessage-deflate"), limited(LIMIT));
    assert_bomb_contained(&mut server, &wire, 4096, 0);

    // Fragments made by the sender itself (each sync-flushed): 8 MiB is
    // already 8 times the limit.
    let (mut client, server_side) = negotiate(&pmd(), &pmd());
    let mut wire = Vec::new();
    for i in 0..8 {
        let (rsv, body) = client.frame_outbound(
            if i == 0 { Opcode::Binary } else { Opcode::Continuation },
            Rsv::NONE,
            vec![0; MIB],
            i == 7,
        );
        assert_eq!(rsv.rsv1, i == 0);
        wire.extend(cframe(i == 7, rsv.rsv1, if i == 0 { 2 } else { 0 }, &body));
    }
    let mut server = conn_with(ConnectionType::Server, server_side, limited(LIMIT));
    assert_bomb_contained(&mut server, &wire, 64 * KIB, 0);
}

#[test]
fn bomb_over_context_takeover() {
    // Small messages first fill the shared window with zeros; the bomb then
    // refers back into it. Each earlier message is under the limit.
    let (mut client, server_side) = negotiate(&pmd(), &pmd());
    let mut wire = Vec::new();
    for _ in 0..4 {
        let (_, body) = client.frame_outbound(Opcode::Binary, Rsv::NONE, vec![0; 256 * KIB], true);
        wire.extend(cframe(true, true, 2, &body));
    }
    let before = wire.len();
    let (_, body) = client.frame_outbound(Opcode::Binary, Rsv::NONE, vec![0; BOMB], true);
    wire.extend(cframe(true, true, 2, &body));
    let mut server = conn_with(ConnectionType::Server, server_side, limited(LIMIT));
    assert_bomb_contained(&mut server, &wire, 8 * KIB, before);
}

#[test]
fn limit_is_exact() {
    // A message of exactly the limit passes; one byte more fails with 1009.
    for (len, ok) in [(LIMIT, true), (LIMIT + 1, false)] {
        let (mut client, server_side) = negotiate(&pmd(), &pmd());
        let (_, body) = client.frame_outbound(Opcode::Binary, Rsv::NONE, vec![7; len], true);
        let mut server = conn_with(ConnectionType::Server, server_side, limited(LIMIT));
        let got = receive(&mut server, &cframe(true, true, 2, &body));
        if ok {
            assert_eq!(got, [Msg::Bytes(vec![7; len])]);
        } else {
            assert_eq!(close_code(&got), Some(1009));
        }
    }
}

// ---- memory per connection --------------------------------------------------------------

/// Live bytes one connection holds: idle after negotiation, then added by
/// receiving a 64 KiB compressed message (the inflater) and by sending one
/// (the compressor). Events and sent bytes are dropped before measuring.
fn memory_held(client_config: &PerMessageDeflate, server_config: &PerMessageDeflate) -> (isize, isize, isize) {
    let (client_side, server_side) = negotiate(client_config, server_config);
    let message = text(64 * KIB, 11);
    let wire = conn(ConnectionType::Client, client_side).send(TextMessage::new(message.clone()).into()).unwrap();
    let outgoing = message.clone();
    let outgoing_bytes = outgoing.capacity() as isize;
    let event: Event = TextMessage::new(outgoing).into();

    let base = live_bytes();
    let mut server = conn(ConnectionType::Server, server_side);
    let idle = live_bytes() - base;
    server.receive_data(Some(&wire)).unwrap();
    let received: usize = server
        .events()
        .map(|e| match e {
            Event::TextMessage(m) => m.data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(received, message.len());
    let after_receive = live_bytes() - base;
    // `send` consumes and frees the event's string: add it back.
    drop(server.send(event).unwrap());
    let after_send = live_bytes() - base + outgoing_bytes;
    (idle, after_receive - idle, after_send - after_receive)
}

#[test]
fn memory_per_connection() {
    let total = |m: (isize, isize, isize)| m.0 + m.1 + m.2;
    let default = memory_held(&pmd(), &pmd());
    let kept = memory_held(&keep(), &keep());
    let bits9 = cfg(|p| {
        p.keep_compressor = true;
        p.client_max_window_bits = Some(9);
        p.server_max_window_bits = Some(9);
    });
    let small = memory_held(&bits9, &keep());
    let default9 = memory_held(
        &cfg(|p| {
            p.client_max_window_bits = Some(9);
            p.server_max_window_bits = Some(9);
        }),
        &pmd(),
    );
    let bits12 = cfg(|p| {
        p.keep_compressor = true;
        p.client_max_window_bits = Some(12);
        p.server_max_window_bits = Some(12);
    });
    let medium = memory_held(&bits12, &keep());
    let nct = cfg(|p| {
        p.client_no_context_takeover = true;
        p.server_no_context_takeover = true;
    });
    let none = memory_held(&nct, &pmd());
    eprintln!("per-connection memory in bytes: (idle connection, + inflater, + compressor) = total");
    for (label, m) in [
        ("default (4 KiB history)", default),
        ("default, 9-bit windows", default9),
        ("kept compressor, 15 bits", kept),
        ("kept, 12-bit windows", medium),
        ("kept, 9-bit windows", small),
        ("no context takeover", none),
    ] {
        eprintln!("  {label:<24} {m:?} = {}", total(m));
    }
    // The default: the inflater's window (the peer uses context takeover)
    // and 4 KiB of history, not the compressor.
    assert!(total(default) < 64 * KIB as isize, "{default:?}");
    assert!(default.2 <= 5 * KIB as isize, "{default:?}");
    // At 9 bits the history is the 512-byte window.
    assert!(default9.2 <= KIB as isize && total(default9) < total(default), "{default9:?}");
    assert!(total(kept) < 400 * KIB as isize, "{kept:?}");
    assert!(total(small) < 250 * KIB as isize, "{small:?}");
    assert!(total(small) < total(medium) && total(medium) < total(kept));
    // Without context takeover nothing is kept between messages.
    assert!(total(none) < 4 * KIB as isize, "{none:?}");
}

/// The bytes `value` holds on the heap: what dropping it frees.
fn held_by<T>(value: T) -> isize {
    let before = live_bytes();
    drop(value);
    before - live_bytes()
}

#[test]
fn default_memory_per_connection_is_bounded() {
    // Real connections after a full handshake and 200 chat messages each
    // way: with default settings each holds at most 64 KiB (Python
    // `websockets`' default budget), whether or not the peer keeps its own
    // compressor (which makes us keep the inflater's window).
    let stream = chat_stream(200, 7);
    for (label, client_config, server_config) in
        [("both default", pmd(), pmd()), ("client keeps", keep(), pmd()), ("server keeps", pmd(), keep())]
    {
        let (mut client, mut server, accepted) =
            handshake(client_config.clone(), server_config.clone(), Config::default(), &[]).unwrap();
        // The negotiation is wsproto's: context takeover both ways.
        assert_eq!(accepted, ["permessage-deflate"], "{label}");
        for message in &stream {
            let bytes = client.send(TextMessage::new(message.as_str()).into()).unwrap();
            server.receive_data(Some(&bytes)).unwrap();
            assert_eq!(messages(server.events()), [Msg::Text(message.clone())], "{label}");
            let bytes = server.send(TextMessage::new(message.as_str()).into()).unwrap();
            client.receive_data(Some(&bytes)).unwrap();
            assert_eq!(messages(client.events()), [Msg::Text(message.clone())], "{label}");
        }
        let (client_held, server_held) = (held_by(client), held_by(server));
        eprintln!("{label}: client holds {client_held} bytes, server {server_held}");
        for (held, config) in [(client_held, &client_config), (server_held, &server_config)] {
            if config.keep_compressor {
                assert!(held > 250 * KIB as isize, "{label}: {held}");
            } else {
                assert!(held <= 64 * KIB as isize, "{label}: {held}");
            }
        }
    }
}

// ---- properties ---------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes as a compressed message, fed in arbitrary pieces
        /// under an arbitrary limit: no panic, never more than the limit,
        /// and a failure is 1007 or 1009.
        #[test]
        fn arbitrary_compressed_payloads(
            payload in vec(any::<u8>(), 0..600),
            piece in 1usize..64,
            limit in 0usize..4096,
            fragments in 1usize..4,
        ) {
            let mut server = conn_with(ConnectionType::Server, server_ext(&pmd(), "permessage-deflate"), limited(limit));
            let mut wire = Vec::new();
            let size = payload.len().div_ceil(fragments).max(1);
            let parts: Vec<&[u8]> = if payload.is_empty() { vec![&[]] } else { payload.chunks(size).collect() };
            for (i, part) in parts.iter().enumerate() {
                wire.extend(cframe(i + 1 == parts.len(), i == 0, if i == 0 { 2 } else { 0 }, part));
            }
            let mut delivered = 0;
            for chunk in wire.chunks(piece) {
                server.receive_data(Some(chunk)).unwrap();
                for event in server.events() {
                    match event {
                        Event::BytesMessage(m) => delivered += m.data.len(),
                        Event::CloseConnection(c) => prop_assert!(c.code == 1007 || c.code == 1009, "{}", c.code),
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
            }
            prop_assert!(delivered <= limit);
        }

        /// Any settings, any messages: what one side sends the other reads.
        #[test]
        fn round_trip_any_settings(
            client_bits in proptest::option::of(8u8..=15),
            server_bits in proptest::option::of(8u8..=15),
            client_nct: bool,
            server_nct: bool,
            client_keeps: bool,
            server_keeps: bool,
            level in 0u8..=9,
            threshold in 0usize..64,
            payloads in vec(vec(0u8..4, 0..3000), 1..6),
        ) {
            let client_config = cfg(|p| {
                p.client_max_window_bits = client_bits;
                p.server_max_window_bits = server_bits;
                p.client_no_context_takeover = client_nct;
                p.server_no_context_takeover = server_nct;
                p.keep_compressor = client_keeps;
                p.compression_level = level;
                p.compression_threshold = threshold;
            });
            let server_config = cfg(|p| {
                p.keep_compressor = server_keeps;
                p.compression_level = level;
                p.compression_threshold = threshold;
            });
            let (client_side, server_side) = negotiate(&client_config, &server_config);
            let mut client = conn(ConnectionType::Client, client_side);
            let mut server = conn(ConnectionType::Server, server_side);
            for payload in &payloads {
                let bytes = client.send(BytesMessage::new(payload.clone()).into()).unwrap();
                prop_assert_eq!(receive(&mut server, &bytes), vec![Msg::Bytes(payload.clone())]);
                let bytes = server.send(BytesMessage::new(payload.clone()).into()).unwrap();
                prop_assert_eq!(receive(&mut client, &bytes), vec![Msg::Bytes(payload.clone())]);
            }
        }

        /// Header parsing never panics, whatever the element.
        #[test]
        fn arbitrary_elements(params in "[ ;=\"\\\\a-z_0-9\t\u{e9}]{0,80}") {
            let element = format!("permessage-deflate{params}");
            let _ = pmd().accept(&element);
            let _ = pmd().finalize(&element);
        }
    }
}

/// Native throughput through whole connections (run with
/// `cargo test --release --test deflate throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    for level in [1u8, 6] {
        for (label, size, count) in [("300 B", 300, 20_000), ("16 KiB", 16 * KIB, 1_000), ("1 MiB", MIB, 16)] {
            let config = cfg(|p| p.compression_level = level);
            let (client_side, server_side) = negotiate(&config, &config);
            let mut client = conn(ConnectionType::Client, client_side);
            let mut server = conn(ConnectionType::Server, server_side);
            let corpus = text(size * count, 5);
            let messages: Vec<String> =
                corpus.as_bytes().chunks(size).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            let start = Instant::now();
            let wire: Vec<Vec<u8>> =
                messages.iter().map(|m| client.send(TextMessage::new(m.clone()).into()).unwrap()).collect();
            let send = start.elapsed().as_secs_f64();
            let compressed: usize = wire.iter().map(Vec::len).sum();
            let start = Instant::now();
            for bytes in &wire {
                server.receive_data(Some(bytes)).unwrap();
                server.events().for_each(drop);
            }
            let recv = start.elapsed().as_secs_f64();
            let mib = corpus.len() as f64 / MIB as f64;
            eprintln!(
                "level {level}, {label} messages: ratio {:.3}, send {:.0} MiB/s ({:.1} us/msg), receive {:.0} MiB/s",
                compressed as f64 / corpus.len() as f64,
                mib / send,
                send * 1e6 / count as f64,
                mib / recv
            );
        }
    }
}

// ---- the memory, ratio and speed report (issue 4) ---------------------------------------

/// A small deterministic generator for the workloads below.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const VOCABULARY: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "this",
    "we",
    "be",
    "are",
    "have",
    "not",
    "but",
    "at",
    "can",
    "so",
    "just",
    "if",
    "do",
    "all",
    "will",
    "what",
    "there",
    "about",
    "think",
    "should",
    "meeting",
    "tomorrow",
    "deploy",
    "release",
    "branch",
    "review",
    "merged",
    "build",
    "failed",
    "passing",
    "server",
    "client",
    "latency",
    "memory",
    "websocket",
    "compression",
    "ticket",
    "customer",
    "bug",
    "fixed",
    "lunch",
    "coffee",
    "yes",
    "no",
    "maybe",
    "thanks",
    "great",
    "sounds",
    "good",
    "later",
    "today",
    "week",
    "sprint",
    "design",
    "doc",
    "draft",
    "update",
    "status",
    "blocked",
    "waiting",
    "ping",
    "call",
    "morning",
    "afternoon",
    "quick",
    "question",
    "answer",
    "issue",
    "comment",
    "link",
    "config",
    "default",
    "window",
    "bits",
    "context",
    "takeover",
    "benchmark",
    "numbers",
    "looks",
    "better",
    "worse",
    "faster",
];

fn sentence(rng: &mut Lcg, words: usize) -> String {
    (0..words).map(|_| rng.pick(VOCABULARY)).collect::<Vec<_>>().join(" ")
}

/// A chat-like stream: JSON messages of 100 B to 2 KiB (most of them
/// short), with the same field names and a few recurring users and rooms.
fn chat_stream(count: usize, seed: u64) -> Vec<String> {
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    let rooms = ["general", "random", "engineering", "support", "release-2024"];
    let mut rng = Lcg(seed);
    let mut ts = 1_714_567_890_123u64;
    (0..count)
        .map(|i| {
            ts += 1 + rng.next() % 20_000;
            let user = rng.below(users.len());
            if rng.below(5) == 0 {
                // Presence and typing notices: about 100 bytes.
                let kind = rng.pick(&["typing", "online", "away"]);
                return format!(
                    "{{\"type\":\"presence\",\"user\":{{\"id\":{},\"name\":\"{}\"}},\"status\":\"{kind}\",\"ts\":{ts}}}",
                    1000 + user,
                    users[user]
                );
            }
            // Word counts: mostly a few words, sometimes a paragraph.
            let words = match rng.below(10) {
                0..=5 => 2 + rng.below(12),
                6..=8 => 15 + rng.below(50),
                _ => 80 + rng.below(250),
            };
            let mut msg = format!(
                "{{\"type\":\"chat.message\",\"id\":\"msg_{:08}\",\"room\":\"{}\",\"user\":{{\"id\":{},\"name\":\"{}\",\"avatar\":\"https://cdn.example.com/avatars/{}.png\"}},\"text\":\"{}\",\"ts\":{}",
                100_000 + i,
                rng.pick(&rooms),
                1000 + user,
                users[user],
                users[user],
                sentence(&mut rng, words),
                ts
            );
            if rng.below(4) == 0 {
                msg.push_str(&format!(",\"reactions\":[{{\"emoji\":\"thumbsup\",\"count\":{}}}]", 1 + rng.below(9)));
            }
            msg.push('}');
            msg.truncate(2048);
            msg
        })
        .collect()
}

/// A 16 KiB JSON document: a page of product records.
fn json_document(seed: u64) -> String {
    let categories = ["books", "garden", "kitchen", "toys", "electronics", "sports"];
    let mut rng = Lcg(seed);
    let mut items = Vec::new();
    let mut len = 0;
    while len < 16 * KIB - 400 {
        let words = 8 + rng.below(20);
        let item = format!(
            "{{\"id\":{},\"sku\":\"SKU-{:06}\",\"name\":\"{}\",\"category\":\"{}\",\"price\":{}.{:02},\"stock\":{},\"rating\":{}.{},\"tags\":[\"{}\",\"{}\"],\"description\":\"{}\"}}",
            rng.next() % 1_000_000,
            rng.next() % 1_000_000,
            sentence(&mut rng, 3),
            rng.pick(&categories),
            rng.below(500),
            rng.below(100),
            rng.below(10_000),
            1 + rng.below(4),
            rng.below(10),
            rng.pick(VOCABULARY),
            rng.pick(VOCABULARY),
            sentence(&mut rng, words),
        );
        len += item.len() + 1;
        items.push(item);
    }
    let mut doc = format!("{{\"page\":1,\"total\":{},\"items\":[{}]}}", items.len(), items.join(","));
    doc.truncate(16 * KIB);
    doc
}

/// Per connection: live bytes after one message each way, and the peak
/// while sending one (the message's frame included), for the server if
/// `server`, else the client.
fn held_and_peak(
    client_config: &PerMessageDeflate,
    server_config: &PerMessageDeflate,
    server: bool,
    message: &str,
) -> (isize, isize) {
    let (client_side, server_side) = negotiate(client_config, server_config);
    let (ours, theirs) = if server { (server_side, client_side) } else { (client_side, server_side) };
    let (role, peer_role) = if server {
        (ConnectionType::Server, ConnectionType::Client)
    } else {
        (ConnectionType::Client, ConnectionType::Server)
    };
    let mut peer = conn(peer_role, theirs);
    let incoming = peer.send(TextMessage::new(message).into()).unwrap();
    let base = live_bytes();
    let mut us = conn(role, ours);
    assert_eq!(receive(&mut us, &incoming), [Msg::Text(message.into())]);
    let event: Event = TextMessage::new(message).into();
    let (bytes, peak) = peak_during(|| us.send(event).unwrap());
    drop(bytes);
    (live_bytes() - base, peak)
}

/// Sends `messages` from a server to a client: compressed bytes (whole
/// frames) over original bytes, having checked the client reads them all.
fn ratio(client_config: &PerMessageDeflate, server_config: &PerMessageDeflate, messages: &[String]) -> f64 {
    let (client_side, server_side) = negotiate(client_config, server_config);
    let mut server = conn(ConnectionType::Server, server_side);
    let mut client = conn(ConnectionType::Client, client_side);
    let mut framed = 0;
    for message in messages {
        let bytes = server.send(TextMessage::new(message.as_str()).into()).unwrap();
        framed += bytes.len();
        assert_eq!(receive(&mut client, &bytes), [Msg::Text(message.clone())]);
    }
    framed as f64 / messages.iter().map(String::len).sum::<usize>() as f64
}

/// Microseconds per message for a new server connection to send `messages`.
fn send_time(client_config: &PerMessageDeflate, server_config: &PerMessageDeflate, messages: &[String]) -> f64 {
    let (_, server_side) = negotiate(client_config, server_config);
    let mut server = conn(ConnectionType::Server, server_side);
    let start = Instant::now();
    for message in messages {
        drop(server.send(TextMessage::new(message.as_str()).into()).unwrap());
    }
    start.elapsed().as_secs_f64() * 1e6 / messages.len() as f64
}

/// Run with `cargo test --release --test deflate deflate_report -- --ignored --nocapture`.
#[test]
#[ignore]
fn deflate_report() {
    // (a)-(d) keep the compressor between messages under context takeover,
    // as every version before this default did; (e) is the default.
    let takeover = cfg(|p| p.keep_compressor = true);
    let server_resets = cfg(|p| p.server_no_context_takeover = true);
    let bits12 = cfg(|p| {
        p.keep_compressor = true;
        p.client_max_window_bits = Some(12);
        p.server_max_window_bits = Some(12);
    });
    let both_reset = cfg(|p| {
        p.client_no_context_takeover = true;
        p.server_no_context_takeover = true;
    });
    let default = pmd();
    let setups: [(&str, &PerMessageDeflate, &PerMessageDeflate); 5] = [
        ("(a) kept compressor, 15 bits", &takeover, &takeover),
        ("(b) server resets, client keeps", &takeover, &server_resets),
        ("(c) kept compressor, 12 bits", &bits12, &takeover),
        ("(d) no context takeover", &both_reset, &both_reset),
        ("(e) default: 4 KiB history", &default, &default),
    ];
    let chat = chat_stream(1000, 42);
    let docs: Vec<String> = (0..200).map(json_document).collect();
    let sizes: Vec<usize> = chat.iter().map(String::len).collect();
    eprintln!(
        "chat: {} messages, {}-{} B, mean {} B; docs: {} x {} B",
        chat.len(),
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap(),
        sizes.iter().sum::<usize>() / sizes.len(),
        docs.len(),
        docs[0].len()
    );
    // Without deflate, for reference.
    let plain = {
        let mut peer = Connection::new(ConnectionType::Client, vec![], b"");
        let incoming = peer.send(TextMessage::new(docs[0].as_str()).into()).unwrap();
        let base = live_bytes();
        let mut c = Connection::new(ConnectionType::Server, vec![], b"");
        receive(&mut c, &incoming);
        drop(c.send(TextMessage::new(docs[0].as_str()).into()).unwrap());
        live_bytes() - base
    };
    eprintln!("no deflate: {plain} B per connection");
    eprintln!(
        "setup | server held / peak | client held / peak | chat s->c ratio, us/msg | 16 KiB docs s->c ratio, us/msg"
    );
    // Speed: the fastest of several rounds, the setups interleaved, so
    // that a busy machine disturbs them alike.
    let rounds: usize = std::env::var("DEFLATE_REPORT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let mut times = vec![(f64::MAX, f64::MAX); setups.len()];
    for _ in 0..rounds {
        for ((_, client, server), time) in setups.iter().zip(&mut times) {
            time.0 = time.0.min(send_time(client, server, &chat));
            time.1 = time.1.min(send_time(client, server, &docs));
        }
    }
    for ((label, client, server), (chat_us, doc_us)) in setups.iter().zip(times) {
        let (sh, sp) = held_and_peak(client, server, true, &docs[0]);
        let (ch, cp) = held_and_peak(client, server, false, &docs[0]);
        let (chat_ratio, doc_ratio) = (ratio(client, server, &chat), ratio(client, server, &docs));
        eprintln!(
            "{label} | {:.1} / {:.1} KiB | {:.1} / {:.1} KiB | {chat_ratio:.3}, {chat_us:.1} | {doc_ratio:.3}, {doc_us:.1}",
            sh as f64 / 1024.0,
            sp as f64 / 1024.0,
            ch as f64 / 1024.0,
            cp as f64 / 1024.0
        );
    }
}
