"""Python `websockets` as a permessage-deflate peer for js-tests/node/deflate.test.mjs.

    python3 deflate_peer.py server '[CONFIG, ...]'
        One echo server per CONFIG on 127.0.0.1 (random ports). Prints one
        JSON line, {"ports": [...]}, then serves until stdin closes (or 120 s).
    python3 deflate_peer.py client '[JOB, ...]'
        JOB = {"url": ..., "config": CONFIG, "sizes": [...]}. For each job,
        connects, sends a text and a binary message of each size, checks the
        echoes, then sends PROBE twice (text) and checks it. Prints one JSON
        line per job: {"extensions": <the response header>, "messages": n},
        or {"error": ...} if the job failed (the next job still runs).

CONFIG is null (websockets' default deflate settings) or an object with any
of server_no_context_takeover, client_no_context_takeover,
server_max_window_bits, client_max_window_bits (ServerPerMessageDeflateFactory /
ClientPerMessageDeflateFactory arguments).
"""

import asyncio
import json
import random
import sys
import threading

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

# 200 bytes that do not compress much alone: sent twice, the second copy
# shrinks to a few bytes only under context takeover.
_rng = random.Random(7)
PROBE = "".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(200))
MAX_SIZE = 16 << 20
LIFETIME_S = 120


def options(config, factory):
    if config is None:
        return {"compression": "deflate"}
    # memLevel 5 is websockets' own default.
    return {"compression": None, "extensions": [factory(compress_settings={"memLevel": 5}, **config)]}


def text(n, seed):
    rng = random.Random(seed)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "deflate", "window", "frame", "zlib", "{\"k\": 1}"]
    out = []
    size = 0
    while size < n:
        w = rng.choice(words) + " "
        out.append(w)
        size += len(w)
    return "".join(out)[:n]


def blob(n, seed):
    return random.Random(seed).randbytes(n)


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except Exception:  # the peer may end abruptly; the test judges from its side
        pass


async def run_servers(configs):
    servers = []
    for config in configs:
        server = await serve(
            echo, "127.0.0.1", 0, max_size=MAX_SIZE, ping_interval=None,
            **options(config, ServerPerMessageDeflateFactory),
        )
        servers.append(server)
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps({"ports": ports}), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait_stdin():
        sys.stdin.read()
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=wait_stdin, daemon=True).start()
    try:
        await asyncio.wait_for(done.wait(), LIFETIME_S)
    except asyncio.TimeoutError:
        pass
    for s in servers:
        s.close()


async def run_client(job):
    async with connect(
        job["url"], max_size=MAX_SIZE, ping_interval=None, proxy=None, open_timeout=10,
        **options(job["config"], ClientPerMessageDeflateFactory),
    ) as ws:
        count = 0
        messages = []
        for n in job["sizes"]:
            messages += [text(n, n), blob(n, n)]
        messages += [PROBE, PROBE]
        for message in messages:
            await ws.send(message)
            back = await asyncio.wait_for(ws.recv(), 10)
            if back != message:
                raise AssertionError(f"echo of a {type(message).__name__} of {len(message)} differs")
            count += 1
        return {"extensions": ws.response.headers.get("Sec-WebSocket-Extensions"), "messages": count}


async def run_clients(jobs):
    for job in jobs:
        try:
            result = await asyncio.wait_for(run_client(job), 60)
        except Exception as err:
            result = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(result), flush=True)


def main():
    mode, arg = sys.argv[1], json.loads(sys.argv[2])
    try:
        asyncio.run(run_servers(arg) if mode == "server" else run_clients(arg))
    except Exception as err:
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
