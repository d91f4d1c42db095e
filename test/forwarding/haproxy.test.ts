/**
 * Long-polling without sticky sessions: three Switchyard nodes (Redis adapter + Redis forwarding route) behind
 * haproxy balancing every request round-robin with no affinity, official socket.io-client clients.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Redis } from "ioredis";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { type AdapterConstructor, Server, redisForwarding } from "../../src";
import { createAdapter } from "../../src/adapters/redis";
import { next, until } from "../support/io";
import { REDIS_URL, uniqueKey } from "../redis/cluster";
import { startBalancer } from "./balancer";

interface Node {
  name: string;
  io: Server;
  http: HttpServer;
  port: number;
  pub: Redis;
  sub: Redis;
}

/** Server-side events seen on any node, in order. */
type Seen = Array<[string, ...unknown[]]>;

async function startNode(
  name: string,
  key: string,
  forwarding: boolean,
  seen: Seen,
): Promise<Node> {
  const pub = new Redis(REDIS_URL);
  const sub = pub.duplicate();
  await Promise.all([pub, sub].map((c) => (c.status === "ready" ? undefined : once(c, "ready"))));
  const route = forwarding ? redisForwarding(pub, sub, { key: `${key}-fwd` }) : undefined;
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub, { key }) as AdapterConstructor,
    forwarding: route,
    pingInterval: 2000,
    pingTimeout: 3000,
  });
  await route?.ready;
  io.on("connection", (socket) => {
    socket.data = { node: name };
    const received: number[] = [];
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop() as (a: unknown[]) => void;
      ack(args);
    });
    socket.on("where", (ack: (node: string) => void) => ack(name));
    socket.on("join", (room: string, ack: () => void) => {
      void socket.join(room);
      ack();
    });
    socket.on("shout", (room: string, text: string) => io.to(room).emit("heard", text));
    socket.on("ask", async (value: number, ack: (answer: unknown) => void) => {
      ack(await socket.timeout(10000).emitWithAck("question", value));
    });
    socket.on("seq", (i: number) => {
      received.push(i);
      if (received.length === 50) socket.emit("seqs", received);
    });
    socket.on("count", () => {
      for (let i = 0; i < 50; i++) socket.emit("n", i);
    });
    socket.on("kickme", () => socket.disconnect());
    socket.on("disconnect", (reason) => seen.push(["disconnect", socket.id, reason]));
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { name, io, http, port: (http.address() as AddressInfo).port, pub, sub };
}

async function withCluster(
  forwarding: boolean,
  body: (url: string, seen: Seen, clients: ClientSocket[]) => Promise<void>,
): Promise<void> {
  const key = uniqueKey("fwd");
  const seen: Seen = [];
  const nodes = await Promise.all(["a", "b", "c"].map((n) => startNode(n, key, forwarding, seen)));
  const balancer = await startBalancer(nodes.map((n) => n.port));
  const clients: ClientSocket[] = [];
  try {
    await body(balancer.url, seen, clients);
  } finally {
    for (const c of clients) c.disconnect();
    await balancer.close();
    for (const n of nodes) {
      n.http.closeAllConnections();
      await n.io.close();
      n.pub.disconnect();
      n.sub.disconnect();
    }
  }
}

function polling(url: string, clients: ClientSocket[]): ClientSocket {
  const socket = ioc(url, { forceNew: true, reconnection: false, transports: ["polling"] });
  clients.push(socket);
  return socket;
}

test("three nodes behind round-robin haproxy: every feature works over polling with forwarding", async () => {
  await withCluster(true, async (url, seen, clients) => {
    const c1 = polling(url, clients);
    const c2 = polling(url, clients);
    await Promise.all([next(c1, "connect"), next(c2, "connect")]);

    // acks both ways
    assert.deepEqual(await c1.timeout(10000).emitWithAck("echo", 1, "a", { b: [2] }), [
      1,
      "a",
      { b: [2] },
    ]);
    c2.on("question", (v: number, ack: (a: number) => void) => ack(v * 2));
    assert.equal(await c2.timeout(10000).emitWithAck("ask", 21), 42);

    // rooms and broadcasts across nodes (whichever nodes own the two sessions)
    await c1.timeout(10000).emitWithAck("join", "r");
    await c2.timeout(10000).emitWithAck("join", "r");
    const heard = Promise.all([next<[string]>(c1, "heard"), next<[string]>(c2, "heard")]);
    c1.emit("shout", "r", "hello");
    assert.deepEqual(await heard, [["hello"], ["hello"]]);

    // binary and a 200 kB message
    const [bytes] = (await c1.timeout(10000).emitWithAck("echo", Buffer.from([1, 2, 3]))) as [
      Buffer,
    ];
    assert.deepEqual([...bytes], [1, 2, 3]);
    const big = "x".repeat(200_000);
    const [back] = (await c2.timeout(15000).emitWithAck("echo", big)) as [string];
    assert.equal(back, big);

    // 50 emits in order, both directions
    const seqs = next<[number[]]>(c1, "seqs");
    for (let i = 0; i < 50; i++) c1.emit("seq", i);
    assert.deepEqual((await seqs)[0], [...Array(50).keys()]);
    const numbers: number[] = [];
    c2.on("n", (i: number) => numbers.push(i));
    c2.emit("count");
    await until(() => numbers.length === 50);
    assert.deepEqual(numbers, [...Array(50).keys()]);

    // survives heartbeats (pingInterval 2 s): still connected after several pings went through the balancer
    const owner = await c1.timeout(10000).emitWithAck("where");
    for (let i = 0; i < 2; i++) await next(c1.io, "ping");
    assert.equal(c1.connected, true);
    assert.equal(await c1.timeout(10000).emitWithAck("where"), owner);

    // server-side and client-side disconnects
    const kicked = next<[string]>(c2, "disconnect");
    const c2id = c2.id;
    c2.emit("kickme");
    assert.equal((await kicked)[0], "io server disconnect");
    const c1id = c1.id;
    c1.disconnect();
    await until(() => seen.some(([e, id]) => e === "disconnect" && id === c1id));
    assert.ok(
      seen.some(([, id, reason]) => id === c1id && reason === "client namespace disconnect"),
    );
    assert.ok(
      seen.some(([, id, reason]) => id === c2id && reason === "server namespace disconnect"),
    );
  });
});

test("clients that may upgrade: the upgrade completes on the owner or is refused elsewhere; events flow", async () => {
  await withCluster(true, async (url, _seen, clients) => {
    const sockets = [0, 1, 2].map(() => {
      const s = ioc(url, { forceNew: true, reconnection: false });
      clients.push(s);
      return s;
    });
    await Promise.all(sockets.map((s) => next(s, "connect")));
    for (const s of sockets) {
      for (let i = 0; i < 5; i++)
        assert.deepEqual(await s.timeout(10000).emitWithAck("echo", i), [i]);
    }
  });
});

test("the same cluster without forwarding fails (the balancer rotates)", async () => {
  await withCluster(false, async (url, _seen, clients) => {
    const c1 = polling(url, clients);
    const failed = await Promise.race([
      next(c1, "connect_error", 20000).then(() => true),
      next(c1, "connect", 20000).then(async () => {
        try {
          for (let i = 0; i < 5; i++) await c1.timeout(3000).emitWithAck("echo", i);
          return false;
        } catch {
          return true;
        }
      }),
    ]);
    assert.equal(failed, true);
  });
});

test("a request for a session no node owns gets 400 Session ID unknown within the deadline", async () => {
  await withCluster(true, async (url) => {
    const started = Date.now();
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: "Session ID unknown" });
    assert.ok(Date.now() - started < 15000);
  });
});
