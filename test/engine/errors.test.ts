// Every connection_error code (0..5), provoked with raw HTTP requests and raw WebSocket upgrades: the event's
// code, message and context, and the response the peer gets (JSON 400/403 for polling, raw HTTP 400 for upgrades).
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, test } from "node:test";
import type { ConnectionError, Socket } from "../../src/engine";
import { type Harness, once, request, startEngine } from "./support";

const P = "/engine.io/";

interface Row {
  name: string;
  path: string | (() => string);
  method?: string;
  headers?: Record<string, string>;
  code: number;
  message: string;
  status: number;
  body?: string;
  context: Record<string, unknown>;
}

/** Sends a raw upgrade request and returns everything the server wrote before closing. */
function rawUpgrade(port: number, path: string, extra = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
      );
    });
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString()));
    socket.on("close", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("connection_error codes", () => {
  let h: Harness;
  let sid = "";
  before(async () => {
    h = await startEngine({
      allowRequest: (req, fn) => {
        if (req.headers["x-deny"]) fn(req.headers["x-deny"] === "plain" ? null : "go away", false);
        else fn(null, true);
      },
    });
    // a live session for the TRANSPORT_MISMATCH rows
    const open = await request(h.port, `${P}?EIO=4&transport=polling`);
    sid = (JSON.parse(open.body.toString().slice(1)) as { sid: string }).sid;
  });
  after(() => h.close());

  const rows: Row[] = [
    {
      name: "unknown transport",
      path: `${P}?EIO=4&transport=carrier-pigeon`,
      code: 0,
      message: "Transport unknown",
      status: 400,
      context: { transport: "carrier-pigeon" },
    },
    {
      name: "transport __proto__",
      path: `${P}?EIO=4&transport=__proto__`,
      code: 0,
      message: "Transport unknown",
      status: 400,
      context: { transport: "__proto__" },
    },
    {
      name: "unknown sid",
      path: `${P}?EIO=4&transport=polling&sid=nope`,
      code: 1,
      message: "Session ID unknown",
      status: 400,
      context: { sid: "nope" },
    },
    {
      name: "handshake with POST",
      path: `${P}?EIO=4&transport=polling`,
      method: "POST",
      code: 2,
      message: "Bad handshake method",
      status: 400,
      context: { method: "POST" },
    },
    {
      name: "websocket handshake without upgrade",
      path: `${P}?EIO=4&transport=websocket`,
      code: 3,
      message: "Bad request",
      status: 400,
      context: { name: "TRANSPORT_HANDSHAKE_ERROR" },
    },
    {
      name: "transport mismatch",
      path: () => `${P}?EIO=4&transport=websocket&sid=${sid}`,
      code: 3,
      message: "Bad request",
      status: 400,
      context: { name: "TRANSPORT_MISMATCH", transport: "websocket", previousTransport: "polling" },
    },
    {
      name: "allowRequest refusal with a message",
      path: `${P}?EIO=4&transport=polling`,
      headers: { "x-deny": "message" },
      code: 4,
      message: "Forbidden",
      status: 403,
      body: "go away",
      context: { message: "go away" },
    },
    {
      name: "allowRequest refusal without a message",
      path: `${P}?EIO=4&transport=polling`,
      headers: { "x-deny": "plain" },
      code: 4,
      message: "Forbidden",
      status: 403,
      context: { message: null },
    },
    {
      name: "protocol v3",
      path: `${P}?EIO=3&transport=polling`,
      code: 5,
      message: "Unsupported protocol version",
      status: 400,
      context: { protocol: 3 },
    },
  ];

  for (const row of rows) {
    test(`polling: ${row.name} → code ${row.code}`, async () => {
      const path = typeof row.path === "function" ? row.path() : row.path;
      const event = once<[ConnectionError]>(h.engine, "connection_error");
      const res = await request(h.port, path, { method: row.method, headers: row.headers });
      const [err] = await event;
      assert.equal(err.code, row.code);
      assert.equal(err.message, row.message);
      assert.deepEqual(err.context, row.context);
      assert.equal(err.req.url, path);
      assert.equal(res.status, row.status);
      assert.match(String(res.headers["content-type"]), /application\/json/);
      assert.deepEqual(JSON.parse(res.body.toString()), {
        code: row.code,
        message: row.body ?? row.message,
      });
    });
  }

  const wsRows = [
    { path: `${P}?EIO=4&transport=nope`, code: 0, message: "Transport unknown" },
    { path: `${P}?EIO=4&transport=websocket&sid=nope`, code: 1, message: "Session ID unknown" },
    { path: `${P}?EIO=3&transport=websocket`, code: 5, message: "Unsupported protocol version" },
    { path: `${P}?EIO=4&transport=websocket`, code: 4, message: "go away", header: "message" },
  ];
  for (const row of wsRows) {
    test(`websocket upgrade refused: code ${row.code} → raw HTTP 400 then close`, async () => {
      const event = once<[ConnectionError]>(h.engine, "connection_error");
      const raw = await rawUpgrade(h.port, row.path, row.header ? `x-deny: ${row.header}\r\n` : "");
      const [err] = await event;
      assert.equal(err.code, row.code);
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(raw, /Content-type: text\/html/);
      assert.ok(raw.endsWith(`\r\n\r\n${row.message}`), raw);
    });
  }

  test("invalid Origin characters → code 3 INVALID_ORIGIN", async (t) => {
    // Node's strict parser refuses such a header itself; the lenient one lets it reach the engine
    const lenient = await startEngine({}, undefined, { insecureHTTPParser: true });
    t.after(() => lenient.close());
    const event = once<[ConnectionError]>(lenient.engine, "connection_error");
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(lenient.port, "127.0.0.1", () => {
        socket.write(
          `GET ${P}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a\x7fb\r\nConnection: close\r\n\r\n`,
        );
      });
      let data = "";
      socket.on("data", (c) => (data += c.toString("latin1")));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
    });
    const [err] = await event;
    assert.equal(err.code, 3);
    assert.deepEqual(err.context, { name: "INVALID_ORIGIN", origin: "http://a\x7fb" });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.ok(raw.includes('{"code":3,"message":"Bad request"}'), JSON.stringify(raw));
  });

  test("the refused requests left no session behind", () => {
    assert.equal(h.engine.clientsCount, 1);
    assert.ok(h.engine.clients[sid] as Socket | undefined);
  });
});
