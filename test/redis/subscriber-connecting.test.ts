/**
 * Subscriptions made while the sub client is still connecting (ioredis #2037): ioredis writes a (S|P)SUBSCRIBE at
 * once while its connection is in its handshake (status "connect"), ahead of its ready check (INFO); the
 * connection is then in subscriber mode, the ready check fails, ioredis drops everything it held and reconnects
 * with none of the channels. A TCP proxy in front of the shared Redis holds the sub connection's replies so that
 * room joins and a new namespace certainly happen in that window; once the replies flow, every channel the
 * adapters want must be subscribed (PUBSUB SHARDNUMSUB / NUMSUB on Redis) and the other node must reach this one.
 * Then what ioredis does not resubscribe by itself after a reconnection (every channel with `autoResubscribe:
 * false`; the subscriptions it failed under `maxRetriesPerRequest` while Redis was unreachable) must be back too.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test, type TestContext } from "node:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { AdapterConstructor } from "../../src";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import { disconnect } from "../../src/adapters/redis-streams/commands";
import type { RedisClient } from "../../src/adapters/redis-streams";
import { next, start, type Running } from "../support/io";
import { startTcpProxy } from "../support/tcp-proxy";
import { REDIS_URL, uniqueKey, until, within } from "./cluster";

type Kind = "redis" | "ioredis";
type Mode = "classic" | "sharded";

/** A client that retries every 100 ms, connected (ready) before it is returned. */
async function readyClient(kind: Kind, url: string): Promise<RedisClient> {
  if (kind === "redis") {
    const client = createClient({ url, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => {});
    await client.connect();
    return client;
  }
  const client = new Redis(url, { retryStrategy: () => 100 });
  client.on("error", () => {});
  await once(client, "ready");
  return client;
}

/** A client that has just started connecting (its TCP connection is not open yet). */
function connectingClient(
  kind: Kind,
  url: string,
  options: { autoResubscribe?: boolean; maxRetriesPerRequest?: number } = {},
): RedisClient {
  if (kind === "redis") {
    const client = createClient({ url, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => {});
    client.connect().catch(() => {});
    return client;
  }
  const client = new Redis(url, { retryStrategy: () => 100, ...options });
  client.on("error", () => {});
  return client;
}

function adapterFor(mode: Mode, pub: RedisClient, sub: RedisClient, key: string) {
  return mode === "classic"
    ? createAdapter(pub, sub, { key, requestsTimeout: 3000 })
    : createShardedAdapter(pub, sub, {
        channelPrefix: key,
        subscriptionMode: "dynamic-private",
        requestsTimeout: 3000,
      });
}

/** `PUBSUB NUMSUB|SHARDNUMSUB channel` on Redis. */
async function subscribers(
  redis: Redis,
  kind: "NUMSUB" | "SHARDNUMSUB",
  channel: string,
): Promise<number> {
  const reply = (await redis.call("PUBSUB", kind, channel)) as [string, number];
  return Number(reply[1]);
}

type Expected = [channel: string, kind: "NUMSUB" | "SHARDNUMSUB", subscribers: number];

/**
 * The channels node A's adapters must be subscribed to, with the PUBSUB subcommand that counts them and the
 * count expected: 2 for the channels node B has too, 1 for A's own.
 */
function expectedChannels(mode: Mode, run: Running, socketId: string, room: string): Expected[] {
  const out: Expected[] = [];
  for (const name of ["/", "/late"]) {
    const adapter = run.io.of(name).adapter as unknown as Record<string, string>;
    if (mode === "classic") {
      out.push([adapter.requestChannel as string, "NUMSUB", 2]);
      out.push([adapter.responseChannel as string, "NUMSUB", 2]);
      out.push([adapter.specificResponseChannel as string, "NUMSUB", 1]);
    } else {
      out.push([adapter.channel as string, "SHARDNUMSUB", 2]);
      out.push([adapter.responseChannel as string, "SHARDNUMSUB", 1]);
    }
  }
  if (mode === "sharded") {
    const main = (run.io.of("/").adapter as unknown as { channel: string }).channel;
    out.push([`${main}${socketId}#`, "SHARDNUMSUB", 1]);
    out.push([`${main}${room}#`, "SHARDNUMSUB", 1]);
  }
  return out;
}

interface NodeA {
  run: Running;
  socketId: string;
  /** The "news" events A's client received. */
  news: unknown[];
}

/** A client of node A in room "room-x" (and its own), listening to "news". */
async function clientOfA(A: Running): Promise<NodeA> {
  const onA = A.client("/", { transports: ["websocket"] });
  await next(onA, "connect");
  const news: unknown[] = [];
  onA.on("news", (n: unknown) => news.push(n));
  return { run: A, socketId: onA.id as string, news };
}

/**
 * Node A's adapters have every channel subscribed (counted on Redis), and node B reaches A: it counts it, finds
 * its socket, and a broadcast to room-x arrives.
 */
async function assertReachable(
  t: TestContext,
  mode: Mode,
  a: NodeA,
  B: Running,
  checker: Redis,
  key: string,
): Promise<void> {
  const expected = expectedChannels(mode, a.run, a.socketId, "room-x");
  let counts: number[] = [];
  try {
    await until(
      async () => {
        counts = await Promise.all(expected.map(([c, k]) => subscribers(checker, k, c)));
        return counts.every((n, i) => n === expected[i]?.[2]);
      },
      "every channel of node A subscribed",
      10000,
    );
  } finally {
    t.diagnostic(
      `subscribers: ${expected.map(([c], i) => `${c.slice(key.length)}=${counts[i]}`).join(" ")}`,
    );
  }
  assert.equal(await B.io.of("/").adapter.serverCount(), 2);
  assert.equal(await B.io.of("/late").adapter.serverCount(), 2);
  const found = await B.io.fetchSockets();
  assert.deepEqual(
    found.map((s) => s.id),
    [a.socketId],
  );
  const before = a.news.length;
  B.io.to("room-x").emit("news", before);
  await until(() => a.news.length === before + 1, "B's broadcast to room-x on A's client");
}

/** Node B: an ordinary node, with the namespaces "/" and "/late". */
async function nodeB(mode: Mode, kind: Kind, key: string, clients: RedisClient[]) {
  const pubB = await readyClient(kind, REDIS_URL);
  const subB = await readyClient(kind, REDIS_URL);
  clients.push(pubB, subB);
  const B = await start({ adapter: adapterFor(mode, pubB, subB, key) as AdapterConstructor });
  B.io.of("/late");
  return B;
}

for (const mode of ["sharded", "classic"] as const) {
  for (const kind of ["ioredis", "redis"] as const) {
    test(`${mode} adapter (${kind}): subscriptions made while the sub client connects all reach Redis`, async (t: TestContext) => {
      const key = uniqueKey(`sub-connecting-${mode}-${kind}`);
      const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
      const checker = new Redis(REDIS_URL);
      const clients: RedisClient[] = [checker];
      const runs: Running[] = [];
      try {
        const B = await nodeB(mode, kind, key, clients);
        runs.push(B);

        // node A: its sub connection goes through the proxy, whose replies are held
        proxy.stallDownstream();
        const pubA = await readyClient(kind, REDIS_URL);
        const subA = connectingClient(kind, proxy.url);
        clients.push(pubA, subA);
        let readyCount = 0;
        const subErrors: string[] = [];
        (subA as unknown as NodeJS.EventEmitter)
          .on("ready", () => readyCount++)
          .on("error", (e: Error) => subErrors.push(e.message));
        // the adapter of "/" subscribes before the connection is open (the client queues that)
        const A = await start({ adapter: adapterFor(mode, pubA, subA, key) as AdapterConstructor });
        runs.push(A);
        const adapterErrors: string[] = [];
        (A.io.of("/").adapter as unknown as NodeJS.EventEmitter).on("error", (e: Error) =>
          adapterErrors.push(e.message),
        );
        A.io.on("connection", (socket) => void socket.join("room-x"));
        await within(once(subA as unknown as NodeJS.EventEmitter, "connect"), "A's sub connection");

        // while the connection does its handshake: a socket joins two rooms, a namespace is created
        A.io.of("/late");
        const a = await clientOfA(A);
        proxy.resumeDownstream();

        await assertReachable(t, mode, a, B, checker, key);
        // at once: no failed handshake, no reconnection, nothing reported
        assert.deepEqual(subErrors, []);
        assert.deepEqual(adapterErrors, []);
        assert.equal(readyCount, 1, "A's sub client got ready once");
      } finally {
        for (const run of runs.reverse()) await run.close();
        for (const client of clients) disconnect(client);
        await proxy.close();
      }
    });
  }

  // what ioredis itself does not resubscribe after a reconnection: every channel, with `autoResubscribe: false`;
  // the subscriptions it failed while Redis was away (`maxRetriesPerRequest`)
  for (const lost of ["autoResubscribe: false", "maxRetriesPerRequest: 0"] as const) {
    test(`${mode} adapter (ioredis, ${lost}): every channel is subscribed again after the sub client reconnects`, async (t: TestContext) => {
      const key = uniqueKey(`sub-again-${mode}`);
      const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
      const checker = new Redis(REDIS_URL);
      const clients: RedisClient[] = [checker];
      const runs: Running[] = [];
      try {
        const B = await nodeB(mode, "ioredis", key, clients);
        runs.push(B);
        const pubA = await readyClient("ioredis", REDIS_URL);
        clients.push(pubA);
        let A: Running;
        if (lost === "autoResubscribe: false") {
          const subA = connectingClient("ioredis", proxy.url, { autoResubscribe: false });
          clients.push(subA);
          A = await start({
            adapter: adapterFor(mode, pubA, subA, key) as AdapterConstructor,
          });
          runs.push(A);
          A.io.on("connection", (socket) => void socket.join("room-x"));
          A.io.of("/late");
          const a = await clientOfA(A);
          await assertReachable(t, mode, a, B, checker, key);
          // the connection drops (as in a restart of Redis) and the client reconnects
          assert.ok(proxy.cut() >= 1);
          await within(
            once(subA as unknown as NodeJS.EventEmitter, "ready"),
            "A's sub reconnecting",
          );
          await assertReachable(t, mode, a, B, checker, key);
        } else {
          // Redis unreachable when node A starts: every (S|P)SUBSCRIBE fails at the first retry
          proxy.refuse(true);
          const subA = connectingClient("ioredis", proxy.url, { maxRetriesPerRequest: 0 });
          clients.push(subA);
          const errors: string[] = [];
          A = await start({
            adapter: adapterFor(mode, pubA, subA, key) as AdapterConstructor,
          });
          runs.push(A);
          (A.io.of("/").adapter as unknown as NodeJS.EventEmitter).on("error", (e: Error) =>
            errors.push(e.message),
          );
          A.io.on("connection", (socket) => void socket.join("room-x"));
          A.io.of("/late");
          const a = await clientOfA(A);
          await until(() => errors.length > 0, "a failed subscription reported");
          t.diagnostic(`A's errors: ${JSON.stringify(errors.slice(0, 3))}`);
          proxy.refuse(false);
          await assertReachable(t, mode, a, B, checker, key);
        }
      } finally {
        for (const run of runs.reverse()) await run.close();
        for (const client of clients) disconnect(client);
        await proxy.close();
      }
    });
  }
}
