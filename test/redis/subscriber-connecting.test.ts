/**
 * Subscriptions made while the sub client is still connecting (ioredis #2037): ioredis writes a (S|P)SUBSCRIBE at
 * once while its connection is in its handshake (status "connect"), ahead of its ready check (INFO); the
 * connection is then in subscriber mode, the ready check fails, ioredis drops everything it held and reconnects
 * with none of the channels. A TCP proxy in front of the shared Redis holds the sub connection's replies so that
 * room joins and a new namespace certainly happen in that window; once the replies flow, every channel the
 * adapters want must be subscribed (PUBSUB SHARDNUMSUB / NUMSUB on Redis) and the other node must reach this one.
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
function connectingClient(kind: Kind, url: string): RedisClient {
  if (kind === "redis") {
    const client = createClient({ url, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => {});
    client.connect().catch(() => {});
    return client;
  }
  const client = new Redis(url, { retryStrategy: () => 100 });
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

for (const mode of ["sharded", "classic"] as const) {
  for (const kind of ["ioredis", "redis"] as const) {
    test(`${mode} adapter (${kind}): subscriptions made while the sub client connects all reach Redis`, async (t: TestContext) => {
      const key = uniqueKey(`sub-connecting-${mode}-${kind}`);
      const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379));
      const checker = new Redis(REDIS_URL);
      const clients: RedisClient[] = [checker];
      const runs: Running[] = [];
      try {
        // node B: an ordinary node, connected before anything happens
        const pubB = await readyClient(kind, REDIS_URL);
        const subB = await readyClient(kind, REDIS_URL);
        clients.push(pubB, subB);
        const B = await start({ adapter: adapterFor(mode, pubB, subB, key) as AdapterConstructor });
        runs.push(B);
        B.io.of("/late");

        // node A: its sub connection goes through the proxy, whose replies are held
        proxy.stallDownstream();
        const pubA = await readyClient(kind, REDIS_URL);
        const subA = connectingClient(kind, proxy.url);
        clients.push(pubA, subA);
        // the adapter of "/" subscribes before the connection is open (the client queues that)
        const A = await start({ adapter: adapterFor(mode, pubA, subA, key) as AdapterConstructor });
        runs.push(A);
        A.io.on("connection", (socket) => void socket.join("room-x"));
        await within(once(subA as unknown as NodeJS.EventEmitter, "connect"), "A's sub connection");

        // while the connection does its handshake: a socket joins two rooms, a namespace is created
        A.io.of("/late");
        const onA = A.client("/", { transports: ["websocket"] });
        await next(onA, "connect");
        const socketId = onA.id as string;
        const news: unknown[] = [];
        onA.on("news", (n: unknown) => news.push(n));

        proxy.resumeDownstream();

        const expected = expectedChannels(mode, A, socketId, "room-x");
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

        // and the other node reaches A: it counts it, finds its socket, and a room broadcast arrives
        assert.equal(await B.io.of("/").adapter.serverCount(), 2);
        assert.equal(await B.io.of("/late").adapter.serverCount(), 2);
        const found = await B.io.fetchSockets();
        assert.deepEqual(
          found.map((s) => s.id),
          [socketId],
        );
        B.io.to("room-x").emit("news", 1);
        await until(() => news.length === 1, "B's broadcast to room-x on A's client");
      } finally {
        for (const run of runs.reverse()) await run.close();
        for (const client of clients) disconnect(client);
        await proxy.close();
      }
    });
  }
}
