// The ws fast path (ws-internals.ts): the pinned ws must offer it, and a WebSocket implementation without it must
// still deliver messages, honour backpressure and say once that it falls back.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import { describe, test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import type { Socket as EngineSocket, ServerOptions } from "../../src/engine";
import type { WebSocketTransport } from "../../src/engine/transports/websocket";
import {
  probeWebSocket,
  resetWsFallbackWarning,
  WS_FALLBACK_WARNING_CODE,
} from "../../src/engine/ws-internals";
import { until } from "../support/io";
import { connect, once, startEngine } from "./support";

/** A ws server whose WebSockets hide ws's privates, as a custom wsEngine or a refactored ws would. */
class OpaqueWebSocketServer extends WebSocketServer {
  override handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    super.handleUpgrade(req, socket, head, (ws, request) => {
      const opaque = new Proxy(ws, {
        get(target, key) {
          if (key === "_socket" || key === "_sender") return undefined;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === "function" ? (value as () => unknown).bind(target) : value;
        },
      });
      cb(opaque, request);
    });
  }
}

/** A raw WebSocket handshake on a TCP socket that the test reads only when it wants to. */
async function rawUpgrade(port: number): Promise<{ socket: net.Socket; text: () => string }> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(
    "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
      "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const text = (): string => Buffer.concat(chunks).toString("latin1");
  await until(() => text().includes("HTTP/1.1 101"));
  return { socket, text };
}

async function backpressure(wsEngine?: ServerOptions["wsEngine"]): Promise<void> {
  const h = await startEngine({
    transports: ["websocket"],
    perMessageDeflate: false,
    ...(wsEngine ? { wsEngine } : {}),
  });
  try {
    const serverSide = once<[EngineSocket]>(h.engine, "connection");
    const raw = await rawUpgrade(h.port);
    const [session] = await serverSide;
    raw.socket.pause();
    const big = "x".repeat(256 * 1024);
    const congested = (): boolean => !session.transport.writable || session.transport.lagging;
    for (let i = 0; i < 100 && !congested(); i++) session.send(big);
    assert.ok(congested(), "the transport reports backpressure");
    session.send("END-MARKER");
    if (wsEngine === undefined) {
      // fast path: the transport keeps the frame's bytes off-heap (spill.ts), the session queues nothing
      assert.equal(session.transport.writable, true);
      assert.equal(session.writeBuffer.length, 0, "the session keeps no packet while lagging");
    } else {
      assert.equal(session.writeBuffer.length, 1, "the session keeps the packet while unwritable");
    }
    assert.ok(session.bufferedAmount > big.length, "what is held is counted");
    raw.socket.resume();
    await until(() => raw.text().includes("4END-MARKER"), 20_000);
    await until(() => !congested());
    raw.socket.destroy();
  } finally {
    await h.close();
  }
}

describe("ws internals", () => {
  test("the pinned ws (8.23.0) offers the fast path", async () => {
    const h = await startEngine({ transports: ["websocket"], perMessageDeflate: false });
    try {
      const serverSide = once<[EngineSocket]>(h.engine, "connection");
      const client = await connect(h.url, { transports: ["websocket"] });
      const [session] = await serverSide;
      const ws = (session.transport as WebSocketTransport).socket;
      assert.deepEqual(probeWebSocket(ws), { fastPath: true, missing: [] });
      client.close();
    } finally {
      await h.close();
    }
  });

  test("the fast path honours backpressure", () => backpressure());

  test("without ws's privates: one warning, messages delivered both ways", async () => {
    resetWsFallbackWarning();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if ((w as Error & { code?: string }).code === WS_FALLBACK_WARNING_CODE) warnings.push(w);
    };
    process.on("warning", onWarning);
    const h = await startEngine({
      transports: ["websocket"],
      perMessageDeflate: false,
      wsEngine: OpaqueWebSocketServer,
    });
    try {
      for (let round = 0; round < 2; round++) {
        const serverSide = once<[EngineSocket]>(h.engine, "connection");
        const client = await connect(h.url, { transports: ["websocket"] });
        const [session] = await serverSide;
        assert.equal(
          probeWebSocket((session.transport as WebSocketTransport).socket).fastPath,
          false,
        );
        const echoed = once<[string]>(session, "message");
        client.send("from client");
        assert.deepEqual(await echoed, ["from client"]);
        const received: unknown[] = [];
        const all = new Promise<void>((resolve) =>
          client.on("message", (data: unknown) => {
            received.push(data);
            if (received.length === 3) resolve();
          }),
        );
        session.send("a");
        session.send(Buffer.from([1, 2, 3]));
        session.send("x".repeat(70_000));
        await all;
        assert.equal(received[0], "a");
        assert.deepEqual(Buffer.from(received[1] as ArrayBuffer), Buffer.from([1, 2, 3]));
        assert.equal((received[2] as string).length, 70_000);
        client.close();
      }
      await until(() => warnings.length > 0);
      assert.equal(warnings.length, 1, "the fallback is announced once");
    } finally {
      process.off("warning", onWarning);
      await h.close();
    }
  });

  test("without ws's privates: backpressure still holds", () =>
    backpressure(OpaqueWebSocketServer));
});
