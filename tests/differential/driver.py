"""Runs scripted exchanges through Python wsproto and prints what happened.

Input (stdin): a JSON list of scripts: {"role": "client"|"server", "seed": int,
"ops": [op, ...]} where op is one of
  ["recv", "<hex>"]     feed bytes
  ["eof"]               feed None
  ["send", {event}]     send an event (see to_event)
Output (stdout): a JSON list (one per script) of lists (one per op) of
results: {"bytes": hex} | {"events": [...]} | {"error": "Local"|"Remote",
"hint": {...}|null}, plus {"state": NAME} after every op.

wsproto's randomness (os.urandom) is replaced by the same splitmix64 that
our SeededRandom uses, so masked bytes and keys can be compared exactly.
"""
import json
import sys

import wsproto.frame_protocol
import wsproto.utilities
from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Pong,
                            RejectConnection, RejectData, Request, TextMessage)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def urandom(self, n):
        out = b""
        while len(out) < n:
            out += self.next_u64().to_bytes(8, "little")[: n - len(out)]
        return out


class FakeOs:
    def __init__(self, rng):
        self.urandom = rng.urandom


def headers_in(pairs):
    return [(bytes.fromhex(n), bytes.fromhex(v)) for n, v in pairs]


def headers_out(pairs):
    return [[bytes(n).hex(), bytes(v).hex()] for n, v in pairs]


def to_event(e):
    kind = e["type"]
    if kind == "Request":
        return Request(host=e["host"], target=e["target"], subprotocols=e.get("subprotocols", []),
                       extra_headers=headers_in(e.get("extra_headers", [])))
    if kind == "AcceptConnection":
        return AcceptConnection(subprotocol=e.get("subprotocol"),
                                extra_headers=headers_in(e.get("extra_headers", [])))
    if kind == "RejectConnection":
        return RejectConnection(status_code=e["status_code"], headers=headers_in(e.get("headers", [])),
                                has_body=e["has_body"])
    if kind == "RejectData":
        return RejectData(data=bytes.fromhex(e["data"]), body_finished=e["body_finished"])
    if kind == "CloseConnection":
        # wsproto compares codes by identity (`code is CloseReason.X`), so pass
        # the enum member where there is one, as a received event would hold.
        try:
            code = CloseReason(e["code"])
        except ValueError:
            code = e["code"]
        return CloseConnection(code=code, reason=e.get("reason") or None)
    if kind == "TextMessage":
        return TextMessage(data=e["data"], message_finished=e["message_finished"])
    if kind == "BytesMessage":
        return BytesMessage(data=bytes.fromhex(e["data"]), message_finished=e["message_finished"])
    if kind == "Ping":
        return Ping(payload=bytes.fromhex(e["payload"]))
    if kind == "Pong":
        return Pong(payload=bytes.fromhex(e["payload"]))
    raise ValueError(kind)


def from_event(ev):
    name = type(ev).__name__
    if name == "Request":
        return {"type": name, "host": ev.host, "target": ev.target, "subprotocols": list(ev.subprotocols),
                "extensions": list(ev.extensions), "extra_headers": headers_out(ev.extra_headers)}
    if name == "AcceptConnection":
        return {"type": name, "subprotocol": ev.subprotocol, "extra_headers": headers_out(ev.extra_headers)}
    if name == "RejectConnection":
        return {"type": name, "status_code": ev.status_code, "headers": headers_out(ev.headers),
                "has_body": ev.has_body}
    if name == "RejectData":
        return {"type": name, "data": bytes(ev.data).hex(), "body_finished": ev.body_finished}
    if name == "CloseConnection":
        return {"type": name, "code": int(ev.code), "reason": ev.reason or ""}
    if name == "TextMessage":
        return {"type": name, "data": ev.data, "frame_finished": ev.frame_finished,
                "message_finished": ev.message_finished}
    if name == "BytesMessage":
        return {"type": name, "data": bytes(ev.data).hex(), "frame_finished": ev.frame_finished,
                "message_finished": ev.message_finished}
    if name in ("Ping", "Pong"):
        return {"type": name, "payload": bytes(ev.payload).hex()}
    raise ValueError(name)


def recv_echo(ws, data):
    """Takes the events one by one, answering each message and ping as it
    comes (as an echo server does), with the state after each step."""
    ws.receive_data(data)
    steps = [{"state": ws.state.name}]
    for ev in ws.events():
        step = {"event": from_event(ev), "state": ws.state.name}
        reply = None
        if isinstance(ev, TextMessage):
            reply = TextMessage(data=ev.data, message_finished=ev.message_finished)
        elif isinstance(ev, BytesMessage):
            reply = BytesMessage(data=ev.data, message_finished=ev.message_finished)
        elif isinstance(ev, Ping):
            reply = ev.response()
        if reply is not None:
            try:
                step["reply"] = ws.send(reply).hex()
            except LocalProtocolError:
                step["reply"] = "Local"
        steps.append(step)
    return steps


def run(script):
    rng = SplitMix(script["seed"])
    wsproto.frame_protocol.os = FakeOs(rng)
    wsproto.utilities.os = FakeOs(rng)
    role = ConnectionType.CLIENT if script["role"] == "client" else ConnectionType.SERVER
    ws = WSConnection(role)
    results = []
    for op in script["ops"]:
        try:
            if op[0] == "send":
                result = {"bytes": ws.send(to_event(op[1])).hex()}
            elif op[0] == "recv-echo":
                result = {"steps": recv_echo(ws, bytes.fromhex(op[1]))}
            else:
                ws.receive_data(None if op[0] == "eof" else bytes.fromhex(op[1]))
                result = {"events": [from_event(ev) for ev in ws.events()]}
        except LocalProtocolError:
            result = {"error": "Local"}
        except RemoteProtocolError as err:
            hint = from_event(err.event_hint) if err.event_hint is not None else None
            result = {"error": "Remote", "hint": hint}
        except TypeError:
            # wsproto raises TypeError for some local misuse (e.g. a reason without a code).
            result = {"error": "Local"}
        except Exception as err:  # a crash in wsproto (e.g. an AssertionError)
            result = {"error": "Crash", "exception": type(err).__name__}
        result["state"] = ws.state.name
        results.append(result)
    return results


if __name__ == "__main__":
    scripts = json.load(sys.stdin)
    json.dump([run(s) for s in scripts], sys.stdout)
