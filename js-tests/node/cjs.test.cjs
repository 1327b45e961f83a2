// CommonJS: require() of the package (its "main", wsproto.cjs) works
// without any init call and behaves like the ESM build.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const W = require(path.join(__dirname, "..", "..", "pkg"));

test("require(): every export, and a client/server exchange in memory", () => {
  for (const name of ["WSConnection", "Connection", "ConnectionType", "ConnectionState", "Request", "AcceptConnection",
    "RejectConnection", "RejectData", "CloseConnection", "Message", "TextMessage", "BytesMessage", "Ping", "Pong",
    "CloseReason", "PerMessageDeflate", "LocalProtocolError", "RemoteProtocolError"]) {
    assert.ok(W[name] !== undefined, name);
  }
  const client = new W.WSConnection(W.ConnectionType.CLIENT);
  const server = new W.WSConnection(W.ConnectionType.SERVER);
  server.receiveData(client.send(new W.Request({ host: "localhost", target: "/cjs" })));
  const [request] = server.events();
  assert.ok(request instanceof W.Request);
  assert.equal(request.target, "/cjs");
  client.receiveData(server.send(new W.AcceptConnection()));
  assert.ok([...client.events()][0] instanceof W.AcceptConnection);
  server.receiveData(client.send(new W.TextMessage({ data: "from CommonJS" })));
  const [message] = server.events();
  assert.ok(message instanceof W.TextMessage);
  assert.equal(message.data, "from CommonJS");
  assert.throws(() => client.send(new W.CloseConnection({ code: 1006 })), W.LocalProtocolError);
  assert.equal(client.state, W.ConnectionState.OPEN);
  client.free();
  server.free();
});
