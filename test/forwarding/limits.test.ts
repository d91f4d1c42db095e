/**
 * Forwarded requests keep the owner's rules: one pending GET, maxHttpBufferSize, the close of a session seen
 * from another node. Two Switchyard nodes on one Redis, raw HTTP requests sent to the node of our choosing.
 */
import assert from "node:assert/strict";
import { type EventEmitter, once } from "node:events";
import { test } from "node:test";
import { Redis } from "ioredis";
import { redisForwarding, type ServerOptions } from "../../src";
import { start, type Running } from "../support/io";
import { REDIS_URL, uniqueKey } from "../redis/cluster";

async function twoNodes(
  key: string,
  opts: Partial<ServerOptions> = {},
): Promise<{ nodes: Running[]; close(): Promise<void> }> {
  const clients: Redis[] = [];
  const nodes: Running[] = [];
  for (let i = 0; i < 2; i++) {
    const pub = new Redis(REDIS_URL);
    const sub = pub.duplicate();
    await Promise.all([pub, sub].map((c) => (c.status === "ready" ? undefined : once(c, "ready"))));
    clients.push(pub, sub);
    const route = redisForwarding(pub, sub, { key });
    nodes.push(await start({ forwarding: route, maxHttpBufferSize: 1000, ...opts }));
    await route.ready;
  }
  return {
    nodes,
    async close() {
      for (const n of nodes) await n.close();
      for (const c of clients) c.disconnect();
    },
  };
}

/** The close reason of the next session `node` opens (bounded by the test's timeout). */
function closeOfNextSession(node: Running): Promise<[string]> {
  return new Promise((resolve) => {
    node.io.engine.once("connection", (session: EventEmitter) =>
      session.once("close", (reason: string) => resolve([reason])),
    );
  });
}

async function handshake(node: Running): Promise<string> {
  const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
  const text = await res.text();
  return (JSON.parse(text.slice(1)) as { sid: string }).sid;
}

const poll = (node: Running, sid: string, init?: RequestInit) =>
  fetch(`${node.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, init);

test("one pending GET per session across nodes; the close is then seen by the other node", async () => {
  const { nodes, close } = await twoNodes(uniqueKey("fwd-limits"));
  const [a, b] = nodes as [Running, Running];
  try {
    const closed = closeOfNextSession(a);
    const sid = await handshake(a);
    // a GET held by the owner through node b, then a second GET straight to the owner: overlap
    const held = poll(b, sid);
    // a noop POST published after the GET on b's Redis connection: once answered, the GET is held on a
    assert.equal((await poll(b, sid, { method: "POST", body: "6" })).status, 200);
    const overlap = await poll(a, sid);
    assert.equal(overlap.status, 400);
    assert.equal((await held).status, 200);
    assert.equal((await closed)[0], "transport error");
    const after = await poll(b, sid);
    assert.equal(after.status, 400);
    assert.deepEqual(await after.json(), { code: 1, message: "Session ID unknown" });
  } finally {
    await close();
  }
});

test("maxHttpBufferSize holds for a POST forwarded to the owner (413, session closed)", async () => {
  const { nodes, close } = await twoNodes(uniqueKey("fwd-limits"));
  const [a, b] = nodes as [Running, Running];
  try {
    const closed = closeOfNextSession(a);
    const sid = await handshake(a);
    const res = await poll(b, sid, { method: "POST", body: "4" + "x".repeat(5000) });
    assert.equal(res.status, 413);
    assert.equal((await closed)[0], "transport error");
  } finally {
    await close();
  }
});

test("a lagging session's queue, kept as bytes, reaches a GET forwarded from another node whole", async () => {
  const { nodes, close } = await twoNodes(uniqueKey("fwd-limits"), {
    sendBufferHighWaterMark: 4096,
  });
  const [a, b] = nodes as [Running, Running];
  try {
    const sid = await handshake(a);
    const session = a.io.engine.clients[sid];
    assert.ok(session);
    const sent = Array.from({ length: 300 }, (_, i) => `${i}:` + "é".repeat(i * 10));
    for (const message of sent) session.send(message);
    assert.ok(session.writeBuffer.length < 50, "the packets past the mark are bytes");
    for (const coding of ["identity", "gzip"]) {
      if (coding === "gzip") for (const message of sent) session.send(message);
      const res = await poll(b, sid, { headers: { "accept-encoding": coding } });
      assert.equal(res.status, 200);
      // fetch decompresses a gzip body
      assert.ok((await res.text()) === sent.map((m) => "4" + m).join("\x1e"), coding);
    }
  } finally {
    await close();
  }
});
