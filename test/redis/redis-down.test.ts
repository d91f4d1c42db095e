/**
 * What clients and the application wait on while Redis does not answer (a private Redis stopped, or a connection
 * that went silent): every wait has a deadline. A reconnecting client connects afresh within
 * REDIS_ANSWER_DEADLINE_MS when its session cannot be read; new clients, joins, requests and `io.close()` end
 * within their bounds; the streams adapter's reader takes a new connection when an XREAD goes unanswered.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import type { Socket as ClientSocket } from "socket.io-client";
import type { AdapterConstructor, Namespace } from "../../src";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import {
  createAdapter as createStreamsAdapter,
  REDIS_ANSWER_DEADLINE_MS,
  type RedisStreamsAdapterOptions,
} from "../../src/adapters/redis-streams";
import { disconnect } from "../../src/adapters/redis-streams/commands";
import { drop, pidOf, reconnect } from "../recovery/support";
import { next, start, type Running } from "../support/io";
import { retryingRedisClient, startPrivateRedis, type PrivateRedis } from "../support/redis-server";
import { startTcpProxy } from "../support/tcp-proxy";
import { uniqueKey, until, within } from "./cluster";

function streamsOptions(key: string): RedisStreamsAdapterOptions {
  return {
    streamName: `${key}-stream`,
    channelPrefix: `${key}-ch`,
    sessionKeyPrefix: `${key}-sess:`,
    blockTimeInMs: 1000,
    requestsTimeout: 1000,
  };
}

/** The messages of the errors the namespace's adapter reports on its `error` event. */
function adapterErrors(nsp: Namespace): string[] {
  const seen: string[] = [];
  (nsp.adapter as unknown as NodeJS.EventEmitter).on("error", (e: Error) => seen.push(e.message));
  return seen;
}

/** Unhandled rejections of this process from now until `stop()`. */
function trackUnhandled(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", listener);
  return { seen, stop: () => process.off("unhandledRejection", listener) };
}

/** ms taken by `promise`, which must settle within `ms` (named `what` otherwise). */
async function timed(promise: Promise<unknown>, what: string, ms: number): Promise<number> {
  const started = Date.now();
  await within(promise, what, ms);
  return Date.now() - started;
}

/**
 * A client that connected and received one broadcast (so it holds an offset), then lost its connection; with
 * `redis`, once its session is in Redis (the streams adapter's; the pub/sub adapters keep theirs on the node).
 */
async function clientWithSession(run: Running, redis?: PrivateRedis, key?: string) {
  const client = run.client("/", { transports: ["websocket"] });
  await next(client, "connect");
  const news = next(client, "news");
  run.io.emit("news", "first");
  await news;
  const pid = pidOf(client);
  assert.ok(pid, "the client got a session id");
  await drop(client, run.io.of("/"));
  if (redis)
    await until(
      async () => (await redis.cli("EXISTS", `${key}-sess:${pid}`)) === "1",
      "the session in Redis",
    );
  return client;
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`streams adapter (${kind}): a client reconnecting while Redis is down connects afresh within the deadline`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`down-restore-${kind}`);
    const client = await retryingRedisClient(kind, redis.url);
    const run = await start({
      adapter: createStreamsAdapter(client, streamsOptions(key)) as AdapterConstructor,
      connectionStateRecovery: {},
      closeTimeout: 1000,
    });
    const errors = adapterErrors(run.io.of("/"));
    try {
      const socket = await clientWithSession(run, redis, key);
      await redis.stop();
      const took = await timed(
        reconnect(socket),
        "the client to connect while Redis is down",
        REDIS_ANSWER_DEADLINE_MS + 5000,
      );
      t.diagnostic(`connected afresh in ${took} ms (deadline ${REDIS_ANSWER_DEADLINE_MS} ms)`);
      assert.equal(socket.recovered, false);
      assert.ok(
        errors.some((e) => e.startsWith("restoring session") && e.includes("timed out")),
        `the timeout on the adapter's error event: ${JSON.stringify(errors)}`,
      );
      // the fresh socket works (local delivery without Redis)
      const news = next(socket, "news");
      run.io.emit("news", "during");
      assert.equal((await news)[0], "during");
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await run.close();
      disconnect(client);
      await redis.stop();
    }
  });
}

type Mode = "classic" | "sharded" | "streams";

async function nodeWithAdapter(mode: Mode, redis: PrivateRedis, key: string) {
  const pub = await retryingRedisClient("redis", redis.url);
  const clients = [pub];
  let adapter: unknown;
  if (mode === "streams") adapter = createStreamsAdapter(pub, streamsOptions(key));
  else {
    const sub = await retryingRedisClient("redis", redis.url);
    clients.push(sub);
    adapter =
      mode === "classic"
        ? createAdapter(pub, sub, { key, requestsTimeout: 1000 })
        : createShardedAdapter(pub, sub, { channelPrefix: key, requestsTimeout: 1000 });
  }
  const run = await start({
    adapter: adapter as AdapterConstructor,
    connectionStateRecovery: {},
    closeTimeout: 1000,
  });
  run.io.on("connection", (socket) => {
    socket.on("join", (room: string, ack: () => void) => {
      void Promise.resolve(socket.join(room)).then(() => ack());
    });
  });
  return { run, clients };
}

for (const mode of ["classic", "sharded", "streams"] as const) {
  test(`${mode} adapter: while Redis is down, connections, joins, requests and io.close() end within their bounds`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`down-${mode}`);
    const { run, clients } = await nodeWithAdapter(mode, redis, key);
    let closed = false;
    try {
      const away = await (mode === "streams"
        ? clientWithSession(run, redis, key)
        : clientWithSession(run));
      await redis.stop();

      const fresh = run.client("/", { transports: ["websocket"] });
      const connectMs = await timed(next(fresh, "connect"), "a new client to connect", 5000);
      const joinMs = await timed(fresh.timeout(5000).emitWithAck("join", "room"), "a join", 5000);
      const news = next(fresh, "news");
      run.io.to("room").emit("news", "to the room");
      assert.equal((await news)[0], "to the room");

      // requests to other nodes: an error within requestsTimeout (1000) + margin, with what is known locally
      const fetchMs = await timed(
        run.io.fetchSockets().then(
          () => assert.fail("fetchSockets cannot succeed without Redis"),
          (err: Error & { responses?: unknown[] }) => assert.equal(err.responses?.length, 1),
        ),
        "fetchSockets",
        5000,
      );
      const emitMs = await timed(
        run.io.serverSideEmitWithAck("hello").then(
          () => assert.fail("serverSideEmitWithAck cannot succeed without Redis"),
          (err: Error) => assert.ok(err instanceof Error),
        ),
        "serverSideEmitWithAck",
        5000,
      );

      // the session of `away`: the pub/sub adapters keep it on this node, the streams adapter in Redis
      const restoreMs = await timed(reconnect(away), "a reconnecting client", 8000);
      assert.equal(away.recovered, mode !== "streams");

      const closeMs = await timed(run.close(), "io.close()", 1000 + 4000);
      closed = true;
      t.diagnostic(
        `connect ${connectMs} ms, join ${joinMs} ms, fetchSockets ${fetchMs} ms, ` +
          `serverSideEmitWithAck ${emitMs} ms, reconnect ${restoreMs} ms, io.close() ${closeMs} ms`,
      );
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      if (!closed) await run.close();
      for (const client of clients) disconnect(client);
      await redis.stop();
    }
  });
}

/** Emits `event` from `from` until `client` got one (a node reads the stream only from its start). */
async function probe(from: Running, client: ClientSocket): Promise<void> {
  let got = false;
  client.once("probe", () => (got = true));
  await until(() => {
    if (!got) from.io.emit("probe");
    return got;
  }, "the stream to be read");
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`streams adapter (${kind}): a reader whose connection went silent reads on from a new one`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const proxy = await startTcpProxy(redis.port);
    const unhandled = trackUnhandled();
    const key = uniqueKey(`silent-${kind}`);
    const direct = await retryingRedisClient(kind, redis.url);
    const proxied = await retryingRedisClient(kind, proxy.url);
    const A = await start({
      adapter: createStreamsAdapter(direct, streamsOptions(key)) as AdapterConstructor,
      connectionStateRecovery: {},
      closeTimeout: 1000,
    });
    const B = await start({
      adapter: createStreamsAdapter(proxied, streamsOptions(key)) as AdapterConstructor,
      connectionStateRecovery: {},
      closeTimeout: 1000,
    });
    const errors = adapterErrors(B.io.of("/"));
    try {
      const onB = B.client("/", { transports: ["websocket"] });
      await next(onB, "connect");
      await probe(A, onB);
      const seen: unknown[] = [];
      onB.on("news", (label: unknown) => seen.push(label));

      // B's connections (client, pub/sub, reader) stay open but carry nothing more
      assert.ok(proxy.blackHole() >= 3, "B's connections go through the proxy");
      A.io.emit("news", "after");
      const took = await timed(
        until(() => seen.includes("after"), "B to read on", 15000),
        "B to read on",
        15000,
      );
      t.diagnostic(`read on a new connection after ${took} ms (BLOCK 1000 ms)`);
      assert.ok(
        errors.some((e) => e.startsWith("no answer from Redis to XREAD")),
        `the watchdog on the adapter's error event: ${JSON.stringify(errors)}`,
      );
      A.io.emit("news", "next");
      await until(() => seen.includes("next"), "the next broadcast");
      assert.deepEqual(seen, ["after", "next"], "nothing lost, nothing twice");
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

test("streams adapter: a Redis paused longer than the watchdog (CLIENT PAUSE) loses and repeats nothing", async (t: TestContext) => {
  const redis = await startPrivateRedis();
  const unhandled = trackUnhandled();
  const key = uniqueKey("paused");
  const [a, b] = await Promise.all([
    retryingRedisClient("redis", redis.url),
    retryingRedisClient("redis", redis.url),
  ]);
  const A = await start({
    adapter: createStreamsAdapter(a, streamsOptions(key)) as AdapterConstructor,
    closeTimeout: 1000,
  });
  const B = await start({
    adapter: createStreamsAdapter(b, streamsOptions(key)) as AdapterConstructor,
    closeTimeout: 1000,
  });
  const errors = adapterErrors(B.io.of("/"));
  try {
    const onB = B.client("/", { transports: ["websocket"] });
    await next(onB, "connect");
    await probe(A, onB);
    const seen: unknown[] = [];
    onB.on("news", (label: unknown) => seen.push(label));
    // every connection waits (new ones too): the watchdog (BLOCK 1000 + 2000 ms) fires within the pause
    const pauseMs = 1000 + REDIS_ANSWER_DEADLINE_MS + 2000;
    await redis.cli("CLIENT", "PAUSE", String(pauseMs), "ALL");
    A.io.emit("news", "during");
    await until(
      () => errors.some((e) => e.startsWith("no answer from Redis to XREAD")),
      "the watchdog",
      pauseMs + 5000,
    );
    await until(() => seen.includes("during"), "the broadcast sent during the pause", 15000);
    A.io.emit("news", "after");
    await until(() => seen.includes("after"), "the broadcast after the pause");
    assert.deepEqual(seen, ["during", "after"]);
    t.diagnostic(`errors: ${JSON.stringify(errors)}`);
    assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
  } finally {
    unhandled.stop();
    await Promise.all([A.close(), B.close()]);
    disconnect(a);
    disconnect(b);
    await redis.stop();
  }
});
