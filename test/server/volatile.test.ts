/**
 * Volatile packets are dropped for a connection that cannot take them at that moment: a polling session with no
 * GET pending. Non-volatile packets wait in its buffer for the next GET.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Socket } from "../../src";
import WebSocket from "ws";
import { request } from "../support/http";
import { next, start, until } from "../support/io";

/** A polling request on `url`'s path, answered as text. */
async function http(method: string, url: string, body?: string): Promise<string> {
  const { port, pathname, search } = new URL(url);
  const headers = { "content-type": "text/plain;charset=UTF-8" };
  const res = await request(Number(port), pathname + search, { method, headers, body });
  return res.body.toString();
}

test("volatile broadcasts and emits skip a polling session with no pending GET", async () => {
  const run = await start();
  try {
    const base = `${run.url}/socket.io/?EIO=4&transport=polling`;
    const open = await http("GET", base);
    const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
    const session = `${base}&sid=${sid}`;
    const connected = next<[Socket]>(run.io, "connection");
    assert.equal(await http("POST", session, "40"), "ok");
    const [socket] = await connected;
    const connectAnswer = await http("GET", session);
    assert.match(connectAnswer, /^40\{"sid":"[\w-]{20}"\}$/);

    // No GET is pending now: the transport is not writable.
    assert.equal(socket.conn.transport.writable, false);
    run.io.volatile.emit("news", "volatile broadcast");
    socket.volatile.emit("news", "volatile emit");
    run.io.emit("news", "kept broadcast");
    socket.emit("news", "kept emit");
    const payload = await http("GET", session);
    assert.deepEqual(payload.split("\x1e"), [
      '42["news","kept broadcast"]',
      '42["news","kept emit"]',
    ]);

    // With a GET pending, a volatile packet goes through.
    const pending = http("GET", session);
    await until(() => socket.conn.transport.writable);
    run.io.volatile.emit("news", "volatile while writable");
    assert.equal(await pending, '42["news","volatile while writable"]');
  } finally {
    await run.close();
  }
});

test("over WebSocket, volatile packets are dropped while the peer lags behind (backpressure), kept ones wait", async () => {
  const run = await start();
  try {
    const ws = new WebSocket(`ws://localhost:${run.port}/socket.io/?EIO=4&transport=websocket`);
    const frames: string[] = [];
    ws.on("message", (data) => {
      const text = String(data);
      if (text === "2") ws.send("3");
      frames.push(text.length > 100 ? `${text.slice(0, 12)}…` : text);
    });
    await next(ws, "open");
    const connected = next<[Socket]>(run.io, "connection");
    ws.send("40");
    const [socket] = await connected;
    await until(() => frames.some((f) => f.startsWith("40")));

    // The peer stops reading: the server's socket fills up until the transport reports that the peer lags (on
    // the pre-framed path it stays writable and keeps the bytes off-heap; otherwise it is not writable).
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const congested = (): boolean =>
      !socket.conn.transport.writable || socket.conn.transport.lagging;
    const big = "x".repeat(256 * 1024);
    let sent = 0;
    while (!congested() && sent < 100) {
      socket.emit("big", big);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(congested(), "backpressure reached");
    socket.volatile.emit("news", "volatile, dropped");
    run.io.volatile.emit("news", "volatile broadcast, dropped");
    socket.emit("news", "kept");

    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => frames.includes('42["news","kept"]'), 20000);
    assert.equal(frames.filter((f) => f.startsWith('42["big"')).length, sent);
    assert.deepEqual(
      frames.filter((f) => f.startsWith('42["news"')),
      ['42["news","kept"]'],
    );
    // Once drained, the transport is writable again and volatile packets flow.
    await until(() => !congested());
    socket.volatile.emit("news", "volatile again");
    await until(() => frames.includes('42["news","volatile again"]'));
    ws.close();
  } finally {
    await run.close();
  }
});
