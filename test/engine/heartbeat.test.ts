// Heartbeat: the server pings every pingInterval and closes a session whose peer stays silent for pingTimeout
// ("ping timeout"), over both transports; a live official client keeps its session through many rounds.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { Socket } from "../../src/engine";
import { connect, type Harness, once, request, startEngine, until } from "./support";

const P = "/engine.io/";

describe("heartbeat", () => {
  let h: Harness;
  before(async () => {
    // pingTimeout is the time a live peer has to answer: long enough for a loaded machine (the silent peers'
    // tests wait for it once), while pings stay frequent
    h = await startEngine({ pingInterval: 150, pingTimeout: 2000 });
  });
  after(() => h.close());

  test("the handshake announces the intervals and maxPayload", async () => {
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const body = res.body.toString();
    assert.equal(body[0], "0");
    const open = JSON.parse(body.slice(1)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(open), [
      "sid",
      "upgrades",
      "pingInterval",
      "pingTimeout",
      "maxPayload",
    ]);
    assert.equal(typeof open.sid, "string");
    assert.equal((open.sid as string).length, 20);
    assert.deepEqual(open.upgrades, ["websocket"]);
    assert.equal(open.pingInterval, 150);
    assert.equal(open.pingTimeout, 2000);
    assert.equal(open.maxPayload, 1e6);
  });

  test("a polling peer that never answers pings is closed with 'ping timeout'", async () => {
    const conn = once<[Socket]>(h.engine, "connection");
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = (JSON.parse(res.body.toString().slice(1)) as { sid: string }).sid;
    const [socket] = await conn;
    assert.equal(socket.id, sid);
    // poll once: the ping arrives, and we never answer it
    const poll = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(poll.body.toString(), "2");
    const [reason] = await once<[string]>(socket, "close");
    assert.equal(reason, "ping timeout");
    assert.equal(h.engine.clients[sid], undefined);
  });

  test("a websocket peer that never answers pings is closed with 'ping timeout'", async () => {
    const conn = once<[Socket]>(h.engine, "connection");
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket`);
    const frames: string[] = [];
    ws.on("message", (data) => frames.push(String(data)));
    const [socket] = await conn;
    const [reason] = await once<[string]>(socket, "close");
    assert.equal(reason, "ping timeout");
    assert.ok(frames[0]?.startsWith('0{"sid":'));
    assert.ok(frames.includes("2"), "a ping was sent");
    ws.close();
  });

  test("a client ping (wrong direction in v4) closes the session as a transport error", async () => {
    const conn = once<[Socket]>(h.engine, "connection");
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket`);
    const [socket] = await conn;
    await once(ws, "open");
    const closed = once<[string, Error]>(socket, "close");
    ws.send("2");
    const [reason, err] = await closed;
    assert.equal(reason, "transport error");
    assert.equal(err.message, "invalid heartbeat direction");
    ws.close();
  });

  for (const transports of [["polling"], ["websocket"]]) {
    test(`the official client answers pings and stays connected (${transports[0]})`, async () => {
      const conn = once<[Socket]>(h.engine, "connection");
      const client = await connect(h.url, { transports });
      const [socket] = await conn;
      let beats = 0;
      socket.on("heartbeat", () => beats++);
      let closed = false;
      socket.on("close", () => (closed = true));
      await until(() => beats >= 3 || closed, "3 heartbeats");
      assert.equal(closed, false);
      assert.ok(beats >= 3, `only ${beats} heartbeats`);
      client.close();
      await once(socket, "close");
    });
  }

  test("one shared timer serves many sessions", async () => {
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => connect(h.url, { transports: ["websocket"] })),
    );
    const sockets = Object.values(h.engine.clients);
    assert.equal(sockets.length, 20);
    let beats = 0;
    for (const s of sockets) s.on("heartbeat", () => beats++);
    await until(() => beats >= 40, "40 heartbeats");
    assert.equal(h.engine.clientsCount, 20);
    for (const c of clients) c.close();
    await until(() => h.engine.clientsCount === 0, "every session closed");
  });
});
