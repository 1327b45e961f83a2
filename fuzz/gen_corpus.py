#!/usr/bin/env python3
"""Writes the hand-made seed corpora in fuzz/corpus/<target>/.

The seeds follow the input layout of fuzz_targets/common.rs:
    byte 0: flags, byte 1: n | more << 4, n u16-LE chunk sizes, payload.
Rerun after changing the layout: python3 fuzz/gen_corpus.py
"""
import base64
import hashlib
import os
import random
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])
# The client's key in the handshake target (SeededRandom::new(0)).
CLIENT_KEY = b"r80dezmoIOL0Zbmhap54bg=="
RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def accept(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def seed(flags, payload, sizes=(), more=0):
    assert len(sizes) <= 15
    out = bytes([flags, len(sizes) | (more << 4)])
    for s in sizes:
        out += struct.pack("<H", s)
    return out + payload


def length(mask_bit, n):
    if n <= 125:
        return bytes([mask_bit | n])
    if n <= 0xFFFF:
        return bytes([mask_bit | 126]) + struct.pack(">H", n)
    return bytes([mask_bit | 127]) + struct.pack(">Q", n)


def masked(first, payload, declared=None):
    n = len(payload) if declared is None else declared
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([first]) + length(0x80, n) + MASK + body


def plain(first, payload, declared=None):
    n = len(payload) if declared is None else declared
    return bytes([first]) + length(0, n) + payload


def request(*lines, target=b"/chat", key=RFC_KEY, sep=b"\r\n"):
    base = [b"Host: example.com", b"Upgrade: websocket", b"Connection: Upgrade",
            b"Sec-WebSocket-Key: " + key, b"Sec-WebSocket-Version: 13"]
    head = b"GET " + target + b" HTTP/1.1" + sep
    for line in base + list(lines):
        head += line + sep
    return head + sep


def without(prefix, *lines):
    base = [b"Host: example.com", b"Upgrade: websocket", b"Connection: Upgrade",
            b"Sec-WebSocket-Key: " + RFC_KEY, b"Sec-WebSocket-Version: 13"]
    head = b"GET / HTTP/1.1\r\n"
    for line in [line for line in base if not line.startswith(prefix)] + list(lines):
        head += line + b"\r\n"
    return head + b"\r\n"


def response(status=b"101 Switching Protocols", *lines, upgrade=True):
    head = b"HTTP/1.1 " + status + b"\r\n"
    if upgrade:
        head += b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept(CLIENT_KEY) + b"\r\n"
    for line in lines:
        head += line + b"\r\n"
    return head + b"\r\n"


def handshake_seeds():
    # Server role (flag bit 0 = 0).
    ACCEPT, SUB, EXT, BODY, EOF, SMALL, HINT = 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
    frames = masked(0x81, b"hello") + masked(0x89, b"p") + masked(0x88, b"\x03\xe8bye")
    yield "server-accept-frames", seed(ACCEPT | SUB | EXT | EOF, request(
        b"Sec-WebSocket-Protocol: chat, superchat",
        b"Sec-WebSocket-Extensions: x-double; level=2, permessage-deflate; client_max_window_bits") + frames)
    yield "server-accept-bytewise", seed(ACCEPT | EOF, request() + masked(0x82, b"\x00\xff"), sizes=(1,))
    yield "server-accept-delayed", seed(ACCEPT | EOF, request(), more=1) + masked(0x81, b"held")
    yield "server-accept-delayed-split", seed(ACCEPT | EOF, request() + masked(0x01, b"he") + masked(0x80, b"ld"),
                                              sizes=(40, 200), more=1)
    yield "server-reject-body", seed(BODY | EOF, request(b"Origin: http://a"))
    yield "server-reject-nobody", seed(EOF, request(), sizes=(7, 0, 13))
    yield "server-bare-lf", seed(ACCEPT | EOF, request(sep=b"\n"))
    yield "server-quoted-ext", seed(ACCEPT | EXT, request(
        b'Sec-WebSocket-Extensions: x-double; p="a,b\\"c", x-double; decline, __proto__'))
    yield "server-no-upgrade", seed(HINT | EOF, without(b"Upgrade"))
    yield "server-version-8", seed(HINT, without(b"Sec-WebSocket-Version", b"Sec-WebSocket-Version: 8"))
    yield "server-bad-key", seed(HINT, without(b"Sec-WebSocket-Key", b"Sec-WebSocket-Key: abc"))
    yield "server-dup-host", seed(HINT, request(b"Host: other"))
    yield "server-post", seed(HINT, b"POST / HTTP/1.1\r\nHost: a\r\n\r\n")
    yield "server-many-headers", seed(SMALL | HINT, request(*[b"X-%d: %d" % (i, i) for i in range(12)]))
    yield "server-too-long", seed(SMALL | HINT, request(b"X-Pad: " + b"a" * 600), sizes=(100,))
    yield "server-too-much-trailing", seed(ACCEPT | SMALL, request() + b"\x81" * 600)
    # Client role (flag bit 0 = 1).
    C = 0x01
    C_SUB, C_EXT, C_RAW = 0x02, 0x04, 0x08
    server_frames = plain(0x81, b"hi") + plain(0x02, b"a") + plain(0x89, b"") + plain(0x80, b"b") + plain(0x88, b"\x03\xe8")
    yield "client-accept-frames", seed(C | EOF, response() + server_frames)
    yield "client-accept-sub-ext", seed(C | C_SUB | C_EXT | EOF, response(
        b"101 Switching Protocols", b"Sec-WebSocket-Protocol: chat", b"Sec-WebSocket-Extensions: x-double; level=2")
        + plain(0xC1, b"dd") + plain(0x81, b"x"), sizes=(5, 17))
    yield "client-accept-raw-ext", seed(C | C_RAW, response(b"101 Switching Protocols", b"Sec-WebSocket-Extensions: x-raw"))
    yield "client-bad-accept", seed(C | EOF, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n")
    yield "client-unoffered-sub", seed(C | C_SUB, response(b"101 Switching Protocols", b"Sec-WebSocket-Protocol: other"))
    yield "client-403-length", seed(C | EOF, response(b"403 Forbidden", b"Content-Length: 5", upgrade=False) + b"nope!tail")
    yield "client-403-chunked", seed(C | EOF, response(b"400 Bad Request", b"Transfer-Encoding: chunked", upgrade=False)
                                     + b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n", sizes=(3, 1, 9))
    yield "client-403-until-eof", seed(C | EOF, response(b"500 Internal Server Error", upgrade=False) + b"body until eof")
    yield "client-204", seed(C | EOF, response(b"204 No Content", b"Content-Length: 10", upgrade=False))
    yield "client-100", seed(C | EOF, response(b"100 Continue", upgrade=False))
    yield "client-huge-length", seed(C | EOF, response(b"403 Forbidden", b"Content-Length: 18446744073709551615",
                                                      upgrade=False) + b"x" * 20)
    yield "client-bad-chunk", seed(C | EOF, response(b"403 Forbidden", b"Transfer-Encoding: chunked", upgrade=False)
                                   + b"zz\r\n", sizes=(1,))


def frames_seeds():
    CLIENT, EXT, EOF, REPLY, CLOSE_FIRST, TRAILING = 0x01, 0x08, 0x10, 0x20, 0x40, 0x80
    P0, P1, P2, P3 = 0 << 1, 1 << 1, 2 << 1, 3 << 1  # limit presets
    yield "text", seed(P0 | EOF, masked(0x81, b"Hello"))
    yield "fragments-ping", seed(P0 | REPLY, masked(0x01, b"Hel") + masked(0x89, b"ping") + masked(0x80, b"lo")
                                 + masked(0x88, b"\x03\xe8bye"), sizes=(1, 2, 3))
    yield "utf8-split", seed(P0, masked(0x01, "aé€".encode()[:3]) + masked(0x80, "aé€".encode()[3:] + "😀".encode()),
                             sizes=(7, 1))
    yield "utf8-invalid", seed(P0 | REPLY, masked(0x81, b"ok\xed\xa0\x80"), sizes=(8,))
    yield "len16", seed(P0, masked(0x82, bytes(range(200))))
    yield "len64-too-big", seed(P0 | REPLY, masked(0x82, b"", declared=70000))
    yield "len64-max", seed(P2 | EOF, masked(0x82, b"abc", declared=(1 << 63) - 1))
    yield "len64-msb", seed(P2, masked(0x82, b"", declared=1 << 63))
    yield "frame-limit", seed(P1 | REPLY, masked(0x82, b"x" * 65))
    yield "message-limit", seed(P3, masked(0x02, b"a" * 250) + masked(0x80, b"b" * 51), sizes=(100,))
    yield "reserved-opcode", seed(P0 | REPLY, masked(0x83, b""))
    yield "rsv-no-ext", seed(P0, masked(0xC1, b"x"))
    yield "ext-double", seed(P0 | EXT | EOF, masked(0xC1, b"ab") + masked(0xC2, b"\x00" * 40), sizes=(3,))
    yield "ext-double-limit", seed(P0 | EXT, masked(0xC2, b"z" * 3000), sizes=(1000,))
    yield "control-fragmented", seed(P0, masked(0x09, b""))
    yield "close-then-garbage", seed(P0 | REPLY | EOF, masked(0x88, b"\x03\xe8") + b"\xff" * 64)
    yield "close-bad-code", seed(P0 | REPLY, masked(0x88, b"\x03\xed"))
    yield "close-first", seed(P0 | CLOSE_FIRST | REPLY, masked(0x81, b"late") + masked(0x88, b""))
    yield "trailing", seed(P0 | TRAILING | EOF, masked(0x81, b"first") + masked(0x82, b"second"), sizes=(9,))
    yield "empty-continuations", seed(P0, masked(0x01, b"") + masked(0x00, b"") * 20 + masked(0x80, b"end"),
                                      sizes=(6,))
    yield "client-frames", seed(CLIENT | P0 | REPLY | EOF, plain(0x81, b"hi") + plain(0x89, b"") + plain(0x88, b"\x0f\xa0"))
    yield "client-masked", seed(CLIENT | P0, masked(0x81, b"hi"))
    yield "client-utf8", seed(CLIENT | P0, plain(0x01, "€".encode()[:1]) + plain(0x80, "€".encode()[1:]), sizes=(2, 1))
    yield "client-len64", seed(CLIENT | P2, plain(0x02, b"", declared=1 << 40) + b"\x00" * 100, sizes=(4, 50))


def roundtrip_seeds():
    rng = random.Random(6455)
    for n in (8, 32, 64, 128, 256, 512, 1024, 2048):
        yield "random-%d" % n, bytes(rng.randrange(256) for _ in range(n))


def deflated(data, wbits=15, fresh=None):
    """Raw deflate of one message with its sync-flush tail stripped (RFC 7692 7.2.1)."""
    c = fresh or zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def deflate_seeds():
    # Flags of fuzz/checks/deflate.rs: bit 0 round trip, bit 1 client,
    # bits 2-3 the limit (64, 4096, 1 MiB, 16 MiB), bit 4 EOF, bits 5-7
    # server_no_context_takeover, client_no_context_takeover, keep_compressor.
    RT, CLIENT, EOF, SNCT, CNCT, KEEP = 1, 2, 16, 32, 64, 128
    L64, L4K, L1M, L16M = 0, 4, 8, 12
    offer = b"permessage-deflate; client_max_window_bits\n"
    yield "rfc-hello", seed(L4K | EOF, offer + masked(0xC1, deflated(b"Hello")), sizes=(3,))
    # Context takeover: the second message refers back to the first.
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    yield "takeover", seed(L4K, offer + masked(0xC1, deflated(b"Hello", fresh=c)) + masked(0xC1, deflated(b"Hello", fresh=c)))
    yield "takeover-refused", seed(L4K | CNCT, offer + masked(0xC1, deflated(b"Hello", fresh=c)))
    body = deflated(b"fragmented and compressed " * 20)
    yield "fragments-ping", seed(L4K, offer + masked(0x41, body[:10]) + masked(0x89, b"p") + masked(0x80, body[10:]),
                                 sizes=(7, 1))
    yield "uncompressed", seed(L4K, offer + masked(0x81, b"plain") + masked(0x82, b"\x00\x01"))
    yield "empty-compressed", seed(L4K, offer + masked(0xC1, b"\x00") + masked(0xC1, b""))
    yield "bomb", seed(L4K | EOF, offer + masked(0xC2, deflated(b"\x00" * (1 << 20))), sizes=(100,))
    yield "bomb-big-limit", seed(L1M, offer + masked(0xC2, deflated(b"\x00" * (4 << 20))), sizes=(1000,))
    text = "é".encode() * 40
    yield "invalid-before-limit", seed(L64, offer + masked(0xC1, deflated(b"a" * 10 + b"\xff" + text)), sizes=(1,))
    yield "invalid-after-limit", seed(L64, offer + masked(0xC1, deflated(text + b"\xff")), sizes=(2, 5))
    yield "cut-code-point-at-limit", seed(L64, offer + masked(0xC1, deflated(b"a" * 63 + "€".encode())))
    yield "garbage", seed(L4K, offer + masked(0xC1, b"\xff\xff\xff\xff"))
    final = zlib.compressobj(6, zlib.DEFLATED, -15)
    yield "bfinal", seed(L4K, offer + masked(0xC1, final.compress(b"end") + final.flush()) + masked(0xC1, deflated(b"next")))
    yield "rsv1-continuation", seed(L4K, offer + masked(0x41, deflated(b"ab")) + masked(0xC0, b"x"))
    yield "small-window", seed(L4K, b"permessage-deflate; client_max_window_bits=9\n"
                               + masked(0xC1, deflated(b"window " * 100, wbits=9)), more=2)
    client = b"permessage-deflate; server_max_window_bits=10; server_no_context_takeover\n"
    yield "client", seed(CLIENT | L4K | EOF, client + plain(0xC1, deflated(b"to the client", wbits=10)), more=3)
    yield "client-bad-response", seed(CLIENT, b"permessage-deflate; server_max_window_bits=16\n")
    yield "client-unasked", seed(CLIENT | SNCT, b"permessage-deflate; client_max_window_bits=8\n")
    for name, line in [("offer-dup", b"permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
                       ("offer-quoted", b'permessage-deflate; client_max_window_bits="10"'),
                       ("offer-unknown", b"permessage-deflate; x=1"),
                       ("offer-all", b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                                     b"server_max_window_bits=8; client_max_window_bits=8")]:
        yield name, seed(L4K | SNCT, line + b"\n" + masked(0xC1, deflated(b"x", wbits=9)))
    rng = random.Random(7692)
    for i, n in enumerate((0, 1, 100, 5000, 70000)):
        data = bytes(rng.randrange(256) for _ in range(n)) if i % 2 else ("json é " * n).encode()[:n]
        yield "roundtrip-%d" % n, seed(RT | (CLIENT if i % 2 else 0) | [0, SNCT, CNCT | KEEP, KEEP, SNCT | CNCT][i],
                                       data, sizes=(n // 3 + 1, 7), more=i * 2)


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("handshake", handshake_seeds())
    write("frames", frames_seeds())
    write("roundtrip", roundtrip_seeds())
    write("deflate", deflate_seeds())
