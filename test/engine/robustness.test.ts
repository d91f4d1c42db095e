/**
 * The engine's side of "hard to crash" (docs/limits.md): repeated query parameters, a WebSocket for a session
 * already on WebSocket, one session's failure in the shared heartbeat, and the per-address connection cap.
 */
import assert from "node:assert/strict";
import { connect as connectTcp } from "node:net";
import { test } from "node:test";
import WebSocket from "ws";
import type { Socket } from "../../src/engine";
import { connect, once, request, startEngine, until } from "./support";

const P = "/engine.io/";

/** Opens a WebSocket; resolves "open", or the status of a refused upgrade. */
function tryWebSocket(port: number, query: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${P}?${query}`);
  return new Promise((resolve) => {
    ws.once("open", () => {
      ws.terminate();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    ws.once("error", () => resolve("error"));
  });
}

test("a repeated EIO, transport or sid is refused with that parameter's code", async () => {
  const h = await startEngine();
  try {
    const cases: Array<[string, number]> = [
      ["EIO=4&EIO=5&transport=polling", 5],
      ["EIO=4&transport=polling&transport=foo", 0],
      ["EIO=4&transport=polling&EIO=4", 5],
    ];
    for (const [query, code] of cases) {
      const res = await request(h.port, `${P}?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal((JSON.parse(res.body.toString()) as { code: number }).code, code, query);
    }
    const open = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = (JSON.parse(open.body.toString().slice(1)) as { sid: string }).sid;
    const repeatedSid = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}&sid=${sid}`);
    assert.equal(repeatedSid.status, 400);
    assert.equal((JSON.parse(repeatedSid.body.toString()) as { code: number }).code, 1);
    // over WebSocket: refused before the upgrade
    assert.equal(await tryWebSocket(h.port, "EIO=4&transport=websocket&EIO=4"), "400");
    assert.equal(
      await tryWebSocket(h.port, "EIO=4&transport=websocket&transport=websocket"),
      "400",
    );
    assert.equal(await tryWebSocket(h.port, "EIO=4&transport=websocket"), "open");
  } finally {
    await h.close();
  }
});

test("a WebSocket for a session already on WebSocket is refused; the session keeps its connection", async () => {
  const h = await startEngine();
  try {
    const opened = once<[Socket]>(h.engine, "connection");
    const client = await connect(h.url, { transports: ["websocket"] });
    const [session] = await opened;
    assert.equal(await tryWebSocket(h.port, `EIO=4&transport=websocket&sid=${session.id}`), "400");
    const received = once<[string]>(client, "message");
    session.send("still mine");
    assert.equal((await received)[0], "still mine");
    assert.equal(session.transport.name, "websocket");
    client.close();
  } finally {
    await h.close();
  }
});

test("a session whose heartbeat throws is closed; the others are still pinged", async () => {
  const h = await startEngine({ pingInterval: 50, pingTimeout: 2000 });
  const errors: unknown[] = [];
  const onUncaught = (err: unknown): void => void errors.push(err);
  process.on("uncaughtException", onUncaught);
  try {
    const sessions: Socket[] = [];
    h.engine.on("connection", (s: Socket) => sessions.push(s));
    const bad = await connect(h.url, { transports: ["websocket"] });
    const good = await connect(h.url, { transports: ["websocket"] });
    await until(() => sessions.length === 2);
    const [badSession, goodSession] = sessions as [Socket, Socket];
    badSession.on("packetCreate", (packet: { type: string }) => {
      if (packet.type === "ping") throw new Error("boom in a packetCreate listener");
    });
    const badClosed = once<[string]>(badSession, "close");
    let beats = 0;
    goodSession.on("heartbeat", () => beats++);
    assert.equal((await badClosed)[0], "transport error");
    await until(() => beats >= 5, "the good session's heartbeats");
    assert.equal(goodSession.readyState, "open");
    assert.deepEqual(errors, []);
    bad.close();
    good.close();
  } finally {
    process.off("uncaughtException", onUncaught);
    await h.close();
  }
});

test("maxConnectionsPerAddress refuses the handshake past the cap with its own message", async () => {
  const h = await startEngine({ maxConnectionsPerAddress: 2 });
  try {
    const a = await connect(h.url, { transports: ["websocket"] });
    const b = await connect(h.url, { transports: ["polling"] });
    const refused = await request(h.port, `${P}?EIO=4&transport=polling`);
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body.toString()), {
      code: 4,
      message: "too many connections from this address",
    });
    assert.equal(await tryWebSocket(h.port, "EIO=4&transport=websocket"), "400");
    assert.equal(h.engine.clientsCount, 2);
    a.close();
    await until(() => h.engine.clientsCount === 1);
    const c = await connect(h.url, { transports: ["websocket"] });
    assert.equal(h.engine.clientsCount, 2);
    b.close();
    c.close();
  } finally {
    await h.close();
  }
});

/** Opens a WebSocket session and keeps it open; resolves it, or null when the upgrade is refused. */
function holdWebSocket(port: number): Promise<WebSocket | null> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${P}?EIO=4&transport=websocket`);
  return new Promise((resolve) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", () => resolve(null));
    ws.once("error", () => resolve(null));
  });
}

/** A `wsEngine` that completes upgrades later, as ws does with an asynchronous `verifyClient` (a lookup). */
class DeferredWebSocketServer extends WebSocket.Server {
  override handleUpgrade(...args: Parameters<WebSocket.Server["handleUpgrade"]>): void {
    setTimeout(() => super.handleUpgrade(...args), 50);
  }
}

for (const wsEngine of [undefined, DeferredWebSocketServer]) {
  const which = wsEngine === undefined ? "ws" : "a wsEngine completing upgrades later";
  test(`maxConnectionsPerAddress holds for concurrent handshakes (raw WebSockets and polling at once; ${which})`, async () => {
    const cap = 3;
    const h = await startEngine({
      maxConnectionsPerAddress: cap,
      ...(wsEngine ? { wsEngine } : {}),
    });
    const held: WebSocket[] = [];
    try {
      let opened = 0;
      h.engine.on("connection", () => opened++);
      // 20 WebSocket handshakes and 10 polling ones in flight together: at most `cap` may open
      const [sockets, statuses] = await Promise.all([
        Promise.all(Array.from({ length: 20 }, () => holdWebSocket(h.port))),
        Promise.all(
          Array.from({ length: 10 }, () =>
            request(h.port, `${P}?EIO=4&transport=polling`).then((res) => res.status),
          ),
        ),
      ]);
      for (const ws of sockets) if (ws !== null) held.push(ws);
      const accepted = held.length + statuses.filter((s) => s === 200).length;
      assert.equal(accepted, cap, `${held.length} WebSockets, polling: ${statuses.join(" ")}`);
      assert.equal(opened, cap);
      assert.equal(h.engine.clientsCount, cap);
      // the places of the refused handshakes were not kept: once the sessions leave, the cap is free again
      for (const socket of Object.values(h.engine.clients)) (socket as Socket).close();
      await until(() => h.engine.clientsCount === 0);
      held.length = 0;
      const again = await Promise.all(Array.from({ length: 6 }, () => holdWebSocket(h.port)));
      for (const ws of again) if (ws !== null) held.push(ws);
      assert.equal(held.length, cap);
    } finally {
      for (const ws of held) ws.terminate();
      await h.close();
    }
  });
}

test("maxConnectionsPerAddress: a handshake whose upgrade ws aborts gives its place back", async () => {
  const h = await startEngine({ maxConnectionsPerAddress: 1 });
  const held: WebSocket[] = [];
  try {
    // passes the engine's checks and the cap, then ws refuses the upgrade (a malformed Sec-WebSocket-Key)
    const raw = connectTcp(h.port, "127.0.0.1");
    raw.write(
      `GET ${P}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n` +
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not-a-key\r\n\r\n",
    );
    let answer = "";
    raw.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    await once(raw, "close");
    assert.match(answer, /^HTTP\/1\.1 400/);
    // the address's one place is free: a new session opens, and the cap still holds after it
    const ws = await holdWebSocket(h.port);
    assert.ok(ws !== null, "the place of the aborted upgrade was given back");
    held.push(ws);
    assert.equal(await holdWebSocket(h.port), null);
    assert.equal(h.engine.clientsCount, 1);
  } finally {
    for (const ws of held) ws.terminate();
    await h.close();
  }
});
