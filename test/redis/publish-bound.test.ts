/**
 * The publishes waiting for Redis are bounded (`maxPendingPublishes`, `maxPendingPublishBytes`), on the classic,
 * sharded and streams adapters, with node-redis and ioredis, against a private Redis that is stopped:
 * - past the bound a broadcast is not handed to the Redis client (counted in `publishes.dropped`), the node's own
 *   clients still get every broadcast, and the refusal is reported once on the `error` event;
 * - once Redis is back, broadcasts reach the other node again; a refusal in a later outage is reported again;
 * - a request (fetchSockets, serverSideEmitWithAck) past the bound ends at once with an error holding what is
 *   known locally, instead of waiting for answers that cannot come.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { createClient } from "redis";
import type { Socket as ClientSocket } from "socket.io-client";
import type { AdapterConstructor, Namespace } from "../../src";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import { PUBLISH_REFUSED, type PendingPublishes } from "../../src/adapters/redis/pending-publishes";
import { createAdapter as createStreamsAdapter } from "../../src/adapters/redis-streams";
import { disconnect } from "../../src/adapters/redis-streams/commands";
import { next, start, type Running } from "../support/io";
import {
  retryingRedisClient,
  startPrivateRedis,
  type PrivateRedis,
  type RedisKind,
} from "../support/redis-server";
import { uniqueKey, until, within } from "./cluster";

type Mode = "classic" | "sharded" | "streams";

interface Bound {
  maxPendingPublishes?: number;
  maxPendingPublishBytes?: number;
}

/** A node of `mode` on `redis`; its Redis clients are closed by the returned `close`. */
async function node(
  mode: Mode,
  kind: RedisKind,
  redis: PrivateRedis,
  key: string,
  bound: Bound = {},
) {
  const pub = await retryingRedisClient(kind, redis.url);
  const clients = [pub];
  let adapter: unknown;
  if (mode === "streams")
    adapter = createStreamsAdapter(pub, {
      streamName: `${key}-stream`,
      channelPrefix: `${key}-ch`,
      sessionKeyPrefix: `${key}-sess:`,
      blockTimeInMs: 1000,
      requestsTimeout: 5000,
      ...bound,
    });
  else {
    const sub = await retryingRedisClient(kind, redis.url);
    clients.push(sub);
    adapter =
      mode === "classic"
        ? createAdapter(pub, sub, { key, requestsTimeout: 5000, ...bound })
        : createShardedAdapter(pub, sub, { channelPrefix: key, requestsTimeout: 5000, ...bound });
  }
  const run = await start({ adapter: adapter as AdapterConstructor, closeTimeout: 1000 });
  return {
    run,
    publishes: () =>
      (run.io.of("/").adapter as unknown as { publishes: PendingPublishes }).publishes,
    async close() {
      await run.close();
      for (const client of clients) disconnect(client);
    },
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

/** Emits `probe` from `from` until `client` got one (subscriptions and reading take a moment to be back). */
async function probe(from: Running, client: ClientSocket, ms = 20000): Promise<void> {
  let got = false;
  const listener = () => (got = true);
  client.on("probe", listener);
  try {
    await until(
      () => {
        if (!got) from.io.emit("probe");
        return got;
      },
      "a broadcast to reach the other node",
      ms,
    );
  } finally {
    client.off("probe", listener);
  }
}

async function connectedClient(run: Running): Promise<ClientSocket> {
  const client = run.client("/", { transports: ["websocket"] });
  await next(client, "connect");
  return client;
}

const BOUND = 20;
const BURST = 100;

for (const mode of ["classic", "sharded", "streams"] as const) {
  for (const kind of ["redis", "ioredis"] as const) {
    test(`${mode} adapter (${kind}): while Redis is down, broadcasts past maxPendingPublishes are dropped, delivered locally, reported once`, async (t: TestContext) => {
      const redis = await startPrivateRedis();
      const unhandled = trackUnhandled();
      const key = uniqueKey(`pub-bound-${mode}-${kind}`);
      const A = await node(mode, kind, redis, key, { maxPendingPublishes: BOUND });
      const B = await node(mode, kind, redis, key);
      const errors = adapterErrors(A.run.io.of("/"));
      const refusals = () => errors.filter((e) => e.startsWith(PUBLISH_REFUSED)).length;
      try {
        const onA = await connectedClient(A.run);
        const onB = await connectedClient(B.run);
        await probe(A.run, onB);
        const local: unknown[] = [];
        onA.on("news", (n: unknown) => local.push(n));

        await redis.stop();
        for (let i = 0; i < BURST; i++) A.run.io.emit("news", i);
        const publishes = A.publishes();
        t.diagnostic(
          `after ${BURST} broadcasts: ${publishes.pending} pending, ${publishes.dropped} dropped`,
        );
        assert.ok(publishes.pending <= BOUND, `at most ${BOUND} pending (${publishes.pending})`);
        assert.equal(publishes.dropped, BURST - BOUND, "the broadcasts past the bound dropped");
        // the local client gets all of them (the streams adapter's first ones after the XADD deadline)
        await until(() => local.length === BURST, `the ${BURST} broadcasts on the local client`);
        assert.deepEqual(
          local,
          Array.from({ length: BURST }, (_, i) => i),
        );
        assert.equal(refusals(), 1, `reported once: ${JSON.stringify(errors)}`);
        // more while still down: counted, not reported again
        for (let i = 0; i < BURST; i++) A.run.io.emit("news", BURST + i);
        assert.ok(A.publishes().pending <= BOUND);
        // (node-redis fails the ones it had written when the connection drops: up to BOUND more pass)
        assert.ok(A.publishes().dropped >= 2 * BURST - 2 * BOUND, `${A.publishes().dropped}`);
        assert.equal(refusals(), 1, "still once while Redis has not answered");

        // back: the other node gets broadcasts again, and a later outage is reported again
        await redis.restart();
        await probe(A.run, onB);
        await until(() => A.publishes().pending === 0, "nothing pending once Redis is back");
        await redis.stop();
        for (let i = 0; i < BURST; i++) A.run.io.emit("later", i);
        assert.equal(
          refusals(),
          2,
          `reported again after Redis answered: ${JSON.stringify(errors)}`,
        );
        t.diagnostic(`errors: ${JSON.stringify(errors.map((e) => e.slice(0, 60)))}`);
        assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
      } finally {
        unhandled.stop();
        await Promise.all([A.close(), B.close()]);
        await redis.stop();
      }
    });
  }
}

for (const mode of ["classic", "streams"] as const) {
  test(`${mode} adapter: maxPendingPublishBytes bounds the bytes of the pending broadcasts`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`pub-bytes-${mode}`);
    const maxBytes = 20000;
    const A = await node(mode, "redis", redis, key, { maxPendingPublishBytes: maxBytes });
    const errors = adapterErrors(A.run.io.of("/"));
    try {
      const onA = await connectedClient(A.run);
      let received = 0;
      onA.on("big", () => received++);
      await redis.stop();
      const payload = "x".repeat(1000);
      for (let i = 0; i < BURST; i++) A.run.io.emit("big", payload);
      const { pending, pendingBytes, dropped } = A.publishes();
      t.diagnostic(`${pending} pending (${pendingBytes} bytes), ${dropped} dropped`);
      assert.ok(pendingBytes <= maxBytes, `at most ${maxBytes} bytes pending (${pendingBytes})`);
      assert.ok(pending >= 10 && dropped >= BURST - 20, "the others dropped");
      await until(() => received === BURST, "every broadcast on the local client");
      assert.equal(errors.filter((e) => e.startsWith(PUBLISH_REFUSED)).length, 1);
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await A.close();
      await redis.stop();
    }
  });
}

for (const mode of ["classic", "sharded", "streams"] as const) {
  test(`${mode} adapter: a request past maxPendingPublishes ends at once with what is known locally`, async (t: TestContext) => {
    const redis = await startPrivateRedis();
    const unhandled = trackUnhandled();
    const key = uniqueKey(`pub-request-${mode}`);
    const A = await node(mode, "redis", redis, key, { maxPendingPublishes: BOUND });
    const B = await node(mode, "redis", redis, key);
    try {
      await connectedClient(A.run);
      await connectedClient(B.run);
      // Redis answers nothing while paused; the number of nodes must still be known for a request to be
      // sent at all (it is asked of Redis too, and would time out first): the count Redis gave before the pause
      const adapter = A.run.io.of("/").adapter as unknown as { serverCount(): Promise<number> };
      const nodes = await adapter.serverCount();
      assert.equal(nodes, 2);
      adapter.serverCount = () => Promise.resolve(nodes);
      await redis.cli("CLIENT", "PAUSE", "4000", "ALL");
      for (let i = 0; i < BOUND; i++) A.run.io.emit("news", i);
      assert.equal(A.publishes().pending, BOUND);

      let started = Date.now();
      const fetched = await within(
        A.run.io.fetchSockets().then(
          () => assert.fail("fetchSockets cannot succeed"),
          (err: Error & { responses?: unknown[] }) => err,
        ),
        "fetchSockets",
        5000,
      );
      const fetchMs = Date.now() - started;
      assert.ok(fetched.message.startsWith(PUBLISH_REFUSED), fetched.message);
      assert.equal(fetched.responses?.length, 1, "the error holds the local socket");

      started = Date.now();
      const emitted = await within(
        A.run.io.serverSideEmitWithAck("hello").then(
          () => assert.fail("serverSideEmitWithAck cannot succeed"),
          (err: Error) => err,
        ),
        "serverSideEmitWithAck",
        5000,
      );
      const emitMs = Date.now() - started;
      assert.ok(emitted.message.startsWith(PUBLISH_REFUSED), emitted.message);
      t.diagnostic(`fetchSockets ended in ${fetchMs} ms, serverSideEmitWithAck in ${emitMs} ms`);
      // at once: well within the requestsTimeout (5000 ms) they would otherwise have waited
      assert.ok(fetchMs < 2500 && emitMs < 2500, `${fetchMs} ms, ${emitMs} ms`);
      // the pause ends by itself
      await until(() => A.publishes().pending === 0, "the pending publishes answered", 20000);
      assert.deepEqual(unhandled.seen, [], "no unhandled rejection");
    } finally {
      unhandled.stop();
      await Promise.all([A.close(), B.close()]);
      await redis.stop();
    }
  });
}

test("maxPendingPublishes and maxPendingPublishBytes must be numbers >= 1 (Infinity: no bound)", () => {
  const client = createClient();
  for (const bad of [0, -1, Number.NaN, "10" as unknown as number]) {
    for (const option of ["maxPendingPublishes", "maxPendingPublishBytes"]) {
      const opts = { [option]: bad };
      assert.throws(() => createAdapter(client, client, opts), RangeError);
      assert.throws(() => createShardedAdapter(client, client, opts), RangeError);
      assert.throws(() => createStreamsAdapter(client, opts), RangeError);
    }
  }
  const unbounded = { maxPendingPublishes: Infinity, maxPendingPublishBytes: Infinity };
  assert.equal(typeof createAdapter(client, client, unbounded), "function");
  assert.equal(typeof createStreamsAdapter(client, unbounded), "function");
});
