// Upgrade response headers are kept per request: they reach the 101 even when the WebSocket engine answers the
// upgrade later (not synchronously inside handleUpgrade), and two upgrades in flight keep their own headers.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { once, startEngine } from "./support";

/** A ws server that completes each upgrade on a later turn of the event loop. */
class DeferredWebSocketServer extends WebSocketServer {
  override handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    setImmediate(() => super.handleUpgrade(req, socket, head, cb));
  }
}

test("headers set by `headers` listeners reach each deferred 101", async () => {
  const h = await startEngine({ transports: ["websocket"], wsEngine: DeferredWebSocketServer });
  try {
    h.engine.on("headers", (headers: Record<string, string>, req: IncomingMessage) => {
      headers["X-Request"] = new URL(req.url ?? "/", "http://x").searchParams.get("n") ?? "";
    });
    const open = (n: number): Promise<string | undefined> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(
          `ws://127.0.0.1:${h.port}/engine.io/?EIO=4&transport=websocket&n=${n}`,
        );
        ws.on("upgrade", (res) => {
          const value = res.headers["x-request"];
          ws.close();
          resolve(Array.isArray(value) ? value[0] : value);
        });
        ws.on("error", reject);
      });
    const connections = once(h.engine, "connection");
    assert.deepEqual(await Promise.all([open(1), open(2)]), ["1", "2"]);
    await connections;
  } finally {
    await h.close();
  }
});
