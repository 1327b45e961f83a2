"""A foreign peer on Python's `websockets` (asyncio API), for the interop
tests (js-tests/interop/harness.mjs describes the protocol).

    python3 websockets_peer.py server [--no-deflate]   prints "listening PORT"
    python3 websockets_peer.py client URL N [--no-deflate]

The server accepts permessage-deflate, the client offers it, unless
--no-deflate. One JSON report per closed connection on stdout.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

PROTOCOLS = ["chat.v2", "chat.v1"]
OPTIONS = dict(max_size=None, ping_interval=None, close_timeout=5)


def report(rep):
    print(json.dumps(rep), flush=True)


def extensions(ws):
    return ", ".join(e.name for e in ws.protocol.extensions)


async def run(ws, path):
    rep = {"path": path, "protocol": ws.subprotocol, "extensions": extensions(ws), "close": None}
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("!"):
                cmd, _, arg = msg.partition(" ")
                if cmd == "!close":
                    code, _, reason = arg.partition(" ")
                    await ws.close(int(code) if code else None, reason)
                elif cmd == "!ping":
                    pong = await ws.ping(arg.encode())
                    await pong
                    await ws.send("!pong " + arg)
                elif cmd == "!frag":
                    kind, _, parts = arg.partition(" ")
                    parts = parts.split("|")
                    await ws.send([p if kind == "text" else p.encode() for p in parts])
                else:
                    await ws.send("!unsupported " + cmd)
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass
    except Exception as exc:  # reported, not raised: the test shows it
        rep["error"] = repr(exc)
    await ws.wait_closed()
    rep["close"] = {"code": ws.close_code, "reason": ws.close_reason}
    report(rep)


def select_subprotocol(connection, subprotocols):
    return subprotocols[0] if subprotocols else None


async def main():
    mode, *rest = sys.argv[1:]
    deflate = "--no-deflate" not in rest
    compression = "deflate" if deflate else None
    if mode == "server":
        async def handler(ws):
            await run(ws, ws.request.path)

        async with serve(handler, "127.0.0.1", 0, compression=compression,
                         select_subprotocol=select_subprotocol, **OPTIONS) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print(f"listening {port}", flush=True)
            await asyncio.Future()
    elif mode == "client":
        base, n = rest[0], int(rest[1])
        for i in range(n):
            path = f"/s/{i}"
            async with connect(base + path, subprotocols=PROTOCOLS, compression=compression, **OPTIONS) as ws:
                await run(ws, path)
    else:
        sys.exit("usage: websockets_peer.py server|client ...")


if __name__ == "__main__":
    asyncio.run(main())
