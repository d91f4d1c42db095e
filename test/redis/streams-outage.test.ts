/**
 * The streams adapter while Redis does not answer, beyond the bounded waits of redis-down.test.ts:
 * - session saves: while Redis is stopped (or paused), joins and leaves keep at most one save per session waiting in the
 *   adapter (and at most SESSION_WRITES_IN_FLIGHT in the Redis client), past `maxPendingSessionSaves` the oldest
 *   are dropped and reported once; once Redis is back the latest state of each session is written, without
 *   replaying the outage's history;
 * - the pub/sub connection's watchdog: a subscriber connection that went silent (TCP open, nothing carried) is
 *   replaced, and requests between the nodes work again within `subscriberPingInterval` + REDIS_ANSWER_DEADLINE_MS
 *   (plus the time to connect).
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import * as notepack from "notepack.io";
import type { Socket as ClientSocket } from "socket.io-client";
import type { AdapterConstructor, Namespace } from "../../src";
import {
  createAdapter,
  REDIS_ANSWER_DEADLINE_MS,
  type RedisClient,
  type RedisStreamsAdapter,
  type RedisStreamsAdapterOptions,
} from "../../src/adapters/redis-streams";
import { disconnect } from "../../src/adapters/redis-streams/commands";
import { SESSION_WRITES_IN_FLIGHT } from "../../src/adapters/redis-streams/session-writer";
import { pidOf } from "../recovery/support";
import { next, start, type Running } from "../support/io";
import { retryingRedisClient, startPrivateRedis, type PrivateRedis } from "../support/redis-server";
import { startTcpProxy } from "../support/tcp-proxy";
import { uniqueKey, until, within } from "./cluster";

function options(key: string, extra: RedisStreamsAdapterOptions = {}): RedisStreamsAdapterOptions {
  return {
    streamName: `${key}-stream`,
    channelPrefix: `${key}-ch`,
    sessionKeyPrefix: `${key}-sess:`,
    blockTimeInMs: 1000,
    requestsTimeout: 1000,
    ...extra,
  };
}

function adapterErrors(nsp: Namespace): string[] {
  const seen: string[] = [];
  (nsp.adapter as unknown as NodeJS.EventEmitter).on("error", (e: Error) => seen.push(e.message));
  return seen;
}

function trackUnhandled(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", listener);
  return { seen, stop: () => process.off("unhandledRejection", listener) };
}

/** `INFO commandstats`: calls of `command` (lower case) since the server started. */
async function calls(redis: PrivateRedis, command: string): Promise<number> {
  const info = await redis.cli("INFO", "commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** The rooms of the session stored under `key`, or undefined. */
async function storedRooms(redis: PrivateRedis, key: string): Promise<string[] | undefined> {
  const raw = await redis.cli("GET", key);
  if (!raw) return undefined;
  const session = notepack.decode(Buffer.from(raw, "base64")) as { rooms: string[] };
  return session.rooms;
}

const SOCKETS = 20;
const ROUNDS = 25;

/** A node whose clients join and leave rooms when asked. */
async function nodeWithRooms(client: RedisClient, opts: RedisStreamsAdapterOptions) {
  const run = await start({
    adapter: createAdapter(client, opts) as AdapterConstructor,
    connectionStateRecovery: {},
    closeTimeout: 1000,
  });
  run.io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      void Promise.resolve(socket.join(room)).then(() => ack());
    });
    socket.on("leave", (room: string, ack: () => void) => {
      void Promise.resolve(socket.leave(room)).then(() => ack());
    });
  });
  return run;
}

async function connectAll(run: Running, n: number): Promise<ClientSocket[]> {
  const sockets = Array.from({ length: n }, () => run.client("/", { transports: ["websocket"] }));
  await Promise.all(sockets.map((s) => next(s, "connect")));
  return sockets;
}

/** Every socket joins and leaves a room ROUNDS times, then joins `final-<i>`; the largest backlog seen. */
async function churn(run: Running, sockets: ClientSocket[]): Promise<number> {
  const adapter = run.io.of("/").adapter as unknown as RedisStreamsAdapter;
  let most = 0;
  await Promise.all(
    sockets.map(async (s, i) => {
      for (let r = 0; r < ROUNDS; r++) {
        await s.timeout(5000).emitWithAck("join", `room-${r}`);
        await s.timeout(5000).emitWithAck("leave", `room-${r}`);
        most = Math.max(most, adapter.pendingSessionSaves);
      }
      await s.timeout(5000).emitWithAck("join", `final-${i}`);
    }),
  );
  // the last joins are saved on the next turn of the event loop
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return Math.max(most, adapter.pendingSessionSaves);
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`streams adapter (${kind}): session saves while Redis is down stay one per session, and the latest is written when it is back`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`saves-${kind}`);
    const client = await retryingRedisClient(kind, redis.url);
    const run = await nodeWithRooms(client, options(key));
    const errors = adapterErrors(run.io.of("/"));
    try {
      const sockets = await connectAll(run, SOCKETS);
      const keys = sockets.map((s) => `${key}-sess:${pidOf(s) ?? "?"}`);
      await until(
        async () => (await redis.cli("EXISTS", ...keys)) === String(SOCKETS),
        "every session saved",
      );
      await redis.stop();
      const most = await churn(run, sockets);
      const saves = SOCKETS * (2 * ROUNDS + 1);
      t.diagnostic(`${saves} saves while Redis was down; at most ${most} waiting in the adapter`);
      assert.ok(most <= SOCKETS, `at most one waiting save per session (${most})`);

      // back, empty: the latest state of every session is written, and not the outage's history
      await redis.restart();
      await until(
        async () => {
          const rooms = await Promise.all(keys.map((k) => storedRooms(redis, k)));
          return rooms.every((r, i) => r?.includes(`final-${i}`) === true);
        },
        "every session's latest state in Redis",
        20000,
      );
      const sets = await calls(redis, "set");
      t.diagnostic(`SETs after the restart: ${sets} (${saves} without the bound)`);
      assert.ok(
        sets <= SESSION_WRITES_IN_FLIGHT + SOCKETS,
        `at most the writes in flight and one per session (${sets})`,
      );
      assert.equal(
        errors.filter((e) => e.startsWith("more than")).length,
        0,
        "nothing dropped under the cap",
      );
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await run.close();
      disconnect(client);
      await redis.stop();
    }
  });

  test(`streams adapter (${kind}): past maxPendingSessionSaves the oldest saves are dropped, reported once`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`saves-cap-${kind}`);
    const cap = 10;
    const client = await retryingRedisClient(kind, redis.url);
    const run = await nodeWithRooms(client, options(key, { maxPendingSessionSaves: cap }));
    const errors = adapterErrors(run.io.of("/"));
    try {
      const sockets = await connectAll(run, SOCKETS);
      const keys = sockets.map((s) => `${key}-sess:${pidOf(s) ?? "?"}`);
      await until(
        async () => (await redis.cli("EXISTS", ...keys)) === String(SOCKETS),
        "every session saved",
      );
      await redis.stop();
      const most = await churn(run, sockets);
      assert.ok(most <= cap, `at most ${cap} waiting (${most})`);
      const drops = errors.filter((e) => e.startsWith(`more than ${cap} sessions waiting`));
      assert.equal(drops.length, 1, `the drops reported once: ${JSON.stringify(errors)}`);

      await redis.restart();
      // the `cap` latest saves (and the ones the client held) are written; the others wait for the next save
      await until(
        async () => {
          const rooms = await Promise.all(keys.map((k) => storedRooms(redis, k)));
          return rooms.filter((r, i) => r?.includes(`final-${i}`) === true).length >= cap;
        },
        `the ${cap} latest sessions in Redis`,
        20000,
      );
      const sets = await calls(redis, "set");
      t.diagnostic(`SETs after the restart: ${sets}`);
      assert.ok(sets <= SESSION_WRITES_IN_FLIGHT + cap, `no more than the bound (${sets})`);
      // an explicit save (as the periodic one) brings every session back
      const adapter = run.io.of("/").adapter as unknown as RedisStreamsAdapter;
      await within(
        Promise.all([...run.io.of("/").sockets.keys()].map((id) => adapter.saveSession(id))),
        "saving every session",
        10000,
      );
      const rooms = await Promise.all(keys.map((k) => storedRooms(redis, k)));
      assert.ok(rooms.every((r, i) => r?.includes(`final-${i}`) === true));
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await run.close();
      disconnect(client);
      await redis.stop();
    }
  });
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`streams adapter (${kind}): session saves while Redis is paused (connections open, nothing answered) stay bounded and resume`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`saves-paused-${kind}`);
    const client = await retryingRedisClient(kind, redis.url);
    const run = await nodeWithRooms(client, options(key));
    try {
      const sockets = await connectAll(run, SOCKETS);
      const keys = sockets.map((s) => `${key}-sess:${pidOf(s) ?? "?"}`);
      await until(
        async () => (await redis.cli("EXISTS", ...keys)) === String(SOCKETS),
        "every session saved",
      );
      const setsBefore = await calls(redis, "set");
      // the commands already sent wait unanswered: what node-redis / ioredis hold then is the adapter's doing
      await redis.cli("CLIENT", "PAUSE", "3000", "ALL");
      const most = await churn(run, sockets);
      assert.ok(most <= SOCKETS, `at most one waiting save per session (${most})`);
      await until(
        async () => {
          const rooms = await Promise.all(keys.map((k) => storedRooms(redis, k)));
          return rooms.every((r, i) => r?.includes(`final-${i}`) === true);
        },
        "every session's latest state in Redis after the pause",
        20000,
      );
      const sets = (await calls(redis, "set")) - setsBefore;
      t.diagnostic(`SETs for ${SOCKETS * (2 * ROUNDS + 1)} saves during the pause: ${sets}`);
      assert.ok(sets <= SESSION_WRITES_IN_FLIGHT + SOCKETS, `bounded (${sets})`);
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await run.close();
      disconnect(client);
      await redis.stop();
    }
  });
}

/** Both nodes see both sockets in fetchSockets: requests and responses go both ways. */
async function requestsWork(A: Running, B: Running): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([A.io.fetchSockets(), B.io.fetchSockets()]);
    return a.length === 2 && b.length === 2;
  } catch {
    return false;
  }
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`streams adapter (${kind}): a pub/sub connection gone silent is replaced, and requests work again within the bound`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const proxy = await startTcpProxy(redis.port);
    const unhandled = trackUnhandled();
    const key = uniqueKey(`silent-sub-${kind}`);
    const interval = 1000;
    const direct = await retryingRedisClient(kind, redis.url);
    const proxied = await retryingRedisClient(kind, proxy.url);
    const A = await start({
      adapter: createAdapter(direct, options(key)) as AdapterConstructor,
      closeTimeout: 1000,
    });
    const B = await start({
      adapter: createAdapter(
        proxied,
        options(key, { subscriberPingInterval: interval }),
      ) as AdapterConstructor,
      closeTimeout: 1000,
    });
    const errors = adapterErrors(B.io.of("/"));
    try {
      const onA = A.client("/", { transports: ["websocket"] });
      const onB = B.client("/", { transports: ["websocket"] });
      await Promise.all([next(onA, "connect"), next(onB, "connect")]);
      await until(() => requestsWork(A, B), "requests both ways");

      // the idle cost: one PING per interval on B's pub/sub connection (A's default interval is 5000 ms)
      const pingsBefore = await calls(redis, "ping");
      const idleStart = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 3 * interval));
      const pings = (await calls(redis, "ping")) - pingsBefore;
      const elapsed = Date.now() - idleStart;
      t.diagnostic(`${pings} PINGs in ${elapsed} ms (B every ${interval} ms, A every 5000 ms)`);
      assert.ok(pings >= 1, "B pings its pub/sub connection");
      assert.ok(
        pings <= Math.ceil(elapsed / interval) + Math.ceil(elapsed / 5000) + 2,
        `one PING per interval and node (${pings})`,
      );

      // only B's pub/sub connection stops carrying bytes; its client and reader go on
      assert.equal(
        proxy.blackHole("subscribers"),
        1,
        "B's pub/sub connection goes through the proxy",
      );
      const silentAt = Date.now();
      assert.equal(await requestsWork(A, B), false, "requests fail while B's subscriber is silent");
      await until(() => requestsWork(A, B), "requests both ways again", 20000);
      const took = Date.now() - silentAt;
      const bound = interval + REDIS_ANSWER_DEADLINE_MS;
      t.diagnostic(
        `requests work again ${took} ms after the silence (bound ${bound} ms + connect)`,
      );
      assert.ok(
        errors.some((e) => e.startsWith("no answer from Redis to PING on the pub/sub connection")),
        `the watchdog on the adapter's error event: ${JSON.stringify(errors)}`,
      );
      // requests take up to requestsTimeout (1000 ms) each to fail while waiting; the load margin is generous
      assert.ok(took < bound + 1000 + 5000, `within the bound (${took} ms)`);
      // and broadcasts still flow (the reader was never silenced)
      const news = next(onB, "news");
      A.io.emit("news", "after");
      assert.equal((await within(news, "a broadcast A → B"))[0], "after");
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await Promise.all([A.close(), B.close()]);
      disconnect(direct);
      disconnect(proxied);
      await proxy.close();
      await redis.stop();
    }
  });
}
