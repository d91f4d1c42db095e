/**
 * A broadcast to a room of v2 (Engine.IO 3) and v4 clients, over polling and WebSocket, is encoded once and each
 * engine form is built at most once per protocol in use, never once per socket: the protocols' form builders
 * are counted while the broadcast goes out.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EIO3, EIO4, type EngineProtocol } from "../../src/engine/protocol";
import { next, start } from "../support/io";
import { type V2Socket, v2Client } from "../support/legacy-clients";

const BUILDERS = ["prepareForPolling", "prepareForWebSocket", "frame"] as const;

/** Counts calls of every form builder of `protocol` until the returned function restores them. */
function countForms(protocol: EngineProtocol, counts: Record<string, number>): () => void {
  const target = protocol as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = BUILDERS.map((name) => [name, target[name]] as const);
  for (const [name, original] of originals) {
    const key = `v${protocol.version}.${name}`;
    counts[key] = 0;
    target[name] = function (this: unknown, ...args: unknown[]) {
      counts[key] = (counts[key] ?? 0) + 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return () => {
    for (const [name, original] of originals) target[name] = original as never;
  };
}

test("a broadcast to v2 and v4 clients builds each form at most once per protocol", async () => {
  const run = await start({ allowEIO3: true });
  const v2: V2Socket[] = [];
  try {
    run.io.on("connection", (socket) => void socket.join("room"));
    const joined = new Promise<void>((resolve) => {
      let count = 0;
      run.io.on("connection", () => {
        if (++count === 12) resolve();
      });
    });
    const v4 = [];
    for (const transports of [["polling"], ["websocket"]] as const) {
      for (let i = 0; i < 3; i++) {
        v2.push(v2Client(run.url, { transports }));
        v4.push(run.client("/", { transports: [...transports] }));
      }
    }
    await joined;
    for (const client of v4) if (!client.connected) await next(client, "connect");
    for (const client of v2) {
      if (!client.connected) await next(client as unknown as Parameters<typeof next>[0], "connect");
    }

    const counts: Record<string, number> = {};
    const restore = [countForms(EIO3, counts), countForms(EIO4, counts)];
    let encodes = 0;
    const encode = run.io._encode.bind(run.io);
    run.io._encode = (packet) => {
      encodes++;
      return encode(packet);
    };
    try {
      const received = [
        ...v2.map((client) =>
          next<[string, Buffer]>(client as unknown as Parameters<typeof next>[0], "news"),
        ),
        ...v4.map((client) => next<[string, Buffer]>(client, "news")),
      ];
      run.io.to("room").emit("news", "é€😀", Buffer.from([1, 2, 3]));
      for (const [text, bytes] of await Promise.all(received)) {
        assert.equal(text, "é€😀");
        assert.deepEqual([...Buffer.from(bytes)], [1, 2, 3]);
      }
    } finally {
      for (const undo of restore) undo();
    }
    assert.equal(encodes, 1);
    // two parts (the packet and its attachment); every form at most once per part and protocol, and each
    // protocol's polling and WebSocket clients were served
    for (const [key, count] of Object.entries(counts)) {
      assert.ok(count <= 2, `${key} built ${count} times for 12 sockets`);
    }
    assert.equal(counts["v3.prepareForPolling"], 2);
    assert.equal(counts["v4.prepareForPolling"], 2);
    assert.equal(counts["v3.frame"], 2);
    assert.equal(counts["v4.frame"], 2);
  } finally {
    for (const client of v2) client.close();
    await run.close();
  }
});
