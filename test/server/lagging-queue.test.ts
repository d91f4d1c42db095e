/**
 * A lagging reader whose packets wait in the session's queue (polling, WebSocket with perMessageDeflate), with the
 * official client behind a proxy that stops reading from the server (as a client that stopped reading does): past
 * sendBufferHighWaterMark the queue is kept as bytes off the heap (packet-spill.ts), the client gets every packet in
 * order once it reads again, and the hard bound still closes the connection with "send buffer overflow".
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import type { Socket } from "../../src";
import { next, start, until } from "../support/io";
import { startTcpProxy } from "../support/tcp-proxy";

const HIGH_WATER = 64 * 1024;

interface Case {
  name: string;
  transport: "polling" | "websocket";
  perMessageDeflate: boolean;
}

const CASES: Case[] = [
  { name: "polling", transport: "polling", perMessageDeflate: false },
  { name: "WebSocket with perMessageDeflate", transport: "websocket", perMessageDeflate: true },
];

/** Random text (compresses little, so the stalled socket fills), from 64 strings as in bench/stalled-reader.mjs. */
const TEXTS = Array.from({ length: 64 }, () => randomBytes(1200).toString("base64"));

async function setUp(c: Case, maxSendBufferBytes: number) {
  const run = await start({
    sendBufferHighWaterMark: HIGH_WATER,
    maxSendBufferBytes,
    perMessageDeflate: c.perMessageDeflate,
    pingInterval: 60000,
  });
  const proxy = await startTcpProxy(run.port);
  const connected = next<[Socket]>(run.io, "connection");
  const client: ClientSocket = ioc(`http://127.0.0.1:${proxy.port}`, {
    transports: [c.transport],
    forceNew: true,
    reconnection: false,
  });
  const [socket] = await connected;
  await until(() => client.connected);
  return {
    run,
    proxy,
    client,
    socket,
    async close() {
      client.disconnect();
      await proxy.close();
      await run.close();
    },
  };
}

/**
 * Emits until the session lags and keeps its queue as bytes: past the mark, and the packets as objects no longer
 * growing while more are emitted.
 */
async function emitUntilSpilled(socket: Socket, emit: (i: number) => void): Promise<number> {
  let sent = 0;
  let objects = -1;
  const deadline = Date.now() + 60000;
  for (;;) {
    for (let i = 0; i < 100; i++) emit(sent++);
    const queued = socket.conn.writeBuffer.length;
    if (socket.conn.needsDrain && queued === objects) return sent;
    objects = socket.conn.needsDrain ? queued : -1;
    assert.ok(Date.now() < deadline, "the session lagged");
    await new Promise((r) => setImmediate(r));
  }
}

for (const c of CASES) {
  test(`${c.name}: a stalled-then-resumed client gets every queued packet in order`, async () => {
    const t = await setUp(c, 64 * 1024 * 1024);
    try {
      const received: unknown[][] = [];
      t.client.on("n", (...args: unknown[]) => received.push(args));
      t.proxy.stallDownstream();
      // text, multi-byte text and binary attachments (each a packet of its own)
      const argsOf = (i: number): unknown[] =>
        i % 7 === 3
          ? [i, Buffer.alloc(i % 2000, i)]
          : i % 7 === 5
            ? [i, "é€😀" + (TEXTS[i % 64] as string)]
            : [i, TEXTS[i % 64]];
      let sawFalse = false;
      const emit = (i: number): void => {
        if (!t.socket.emit("n", ...argsOf(i))) sawFalse = true;
      };
      let sent = await emitUntilSpilled(t.socket, emit);
      const objects = t.socket.conn.writeBuffer.length;
      for (let i = 0; i < 500; i++) emit(sent++);
      assert.equal(t.socket.conn.writeBuffer.length, objects, "further packets are kept as bytes");
      assert.ok(sawFalse, "emit() returned false");
      const before = t.socket.conn.bufferedAmount;
      t.socket.volatile.emit("n", -1, "volatile");
      assert.equal(t.socket.conn.bufferedAmount, before, "the volatile packet was dropped");
      const drained = next(t.socket, "drain", 60000);
      t.proxy.resumeDownstream();
      await until(() => received.length === sent, 60000);
      for (let i = 0; i < sent; i++) {
        const expected = argsOf(i);
        const got = received[i] as unknown[];
        assert.equal(got[0], i, `packet ${i} in order`);
        if (Buffer.isBuffer(expected[1])) {
          assert.ok(Buffer.from(got[1] as ArrayBuffer).equals(expected[1]), `binary ${i}`);
        } else assert.equal(got[1], expected[1], `text ${i}`);
      }
      await drained;
      assert.ok(t.socket.connected);
      assert.ok(t.socket.emit("n", sent, "after"));
      await until(() => received.length === sent + 1);
    } finally {
      await t.close();
    }
  });

  test(`${c.name}: a stalled client is closed with "send buffer overflow" at the bound`, async () => {
    const max = 2 * 1024 * 1024;
    const t = await setUp(c, max);
    try {
      t.proxy.stallDownstream();
      let reason: string | undefined;
      let maxBuffered = 0;
      t.socket.on("disconnect", (r) => (reason = r));
      const deadline = Date.now() + 60000;
      for (let i = 0; reason === undefined && Date.now() < deadline; i++) {
        if (t.socket.connected) t.socket.emit("n", i, TEXTS[i % 64]);
        maxBuffered = Math.max(maxBuffered, t.socket.conn.bufferedAmount);
        if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      }
      assert.equal(reason, "send buffer overflow");
      assert.ok(maxBuffered <= max + 4096, `never above the bound (${maxBuffered})`);
      await until(() => t.run.io.engine.clientsCount === 0);
    } finally {
      await t.close();
    }
  });
}
