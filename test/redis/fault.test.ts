/**
 * Faults: a Redis server (started here, on a free port) stopped and restarted under a running mixed cluster.
 * Nothing crashes, local delivery goes on, requests fail cleanly, the adapter reports the errors on its `error`
 * event, and the cluster works again once Redis is back (test/redis/node-killed.test.ts: a node killed).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPrivateRedis } from "../support/redis-server";
import { closeClients, record, startNode, uniqueKey, until, type ClusterNode } from "./cluster";

for (const client of ["redis", "ioredis"] as const) {
  test(`Redis stopped and restarted under a mixed cluster (${client})`, async () => {
    const redis = await startPrivateRedis();
    const key = uniqueKey(`fault-${client}`);
    const base = { key, client, redisUrl: redis.url };
    const nodes: ClusterNode[] = [];
    try {
      const [S, O] = await Promise.all([
        startNode({ ...base, name: "S", impl: "switchyard", adapter: "switchyard" }),
        startNode({ ...base, name: "O", impl: "socket.io", adapter: "official" }),
      ]);
      nodes.push(S, O);
      const s1 = await S.client();
      const o1 = await O.client();
      const onS = record(s1, "news");
      const onO = record(o1, "news");
      await until(async () => (await S.run<number>({ cmd: "serverCount" })) === 2, "two nodes");
      // what both nodes' subscriptions look like on Redis: they must all be back after the restart
      const requestChannel = `${key}-request#/#`;
      const subscribers = await redis.subscribers(requestChannel);
      const patterns = await redis.patterns();
      assert.equal(subscribers, 2);
      await S.run({ cmd: "emit", event: "news", args: ["before"] });
      await until(
        () => onO.some((a) => a[0] === "before") && onS.some((a) => a[0] === "before"),
        "broadcast before",
      );

      await redis.stop();
      await until(
        async () =>
          (await S.run<string[]>({ cmd: "errors" })).some((e) => e.startsWith("adapter:")),
        "the adapter's error event",
      );
      // local delivery goes on without Redis
      await S.run({ cmd: "emit", event: "news", args: ["during"] });
      await until(() => onS.some((a) => a[0] === "during"), "local delivery while Redis is down");
      // requests fail cleanly, within the timeout, with what is known locally
      const started = Date.now();
      const fetched = await S.run<{ error?: string; responses?: number }>({ cmd: "fetchSockets" });
      assert.ok(fetched.error, "fetchSockets reports the outage");
      assert.equal(fetched.responses, 1, "the error carries the local socket");
      assert.ok(Date.now() - started < 10000);
      const acked = await S.run<{ error?: string }>({
        cmd: "serverSideEmitWithAck",
        event: "hello",
        args: ["x"],
      });
      assert.ok(acked.error, "serverSideEmitWithAck reports the outage");
      assert.equal(S.child.exitCode, null, "the Switchyard node is alive");

      await redis.restart();
      // service resumes once every subscription is back on the new server (read from Redis itself) and both
      // nodes' publishing connections answer again (serverCount goes through them)
      await until(
        async () =>
          (await redis.subscribers(requestChannel)) === subscribers &&
          (await redis.patterns()) === patterns,
        "both nodes subscribed again",
        30000,
      );
      for (const node of [S, O])
        await until(
          async () => (await node.run<number>({ cmd: "serverCount" })) === 2,
          `${node.name} counting two nodes again`,
          30000,
        );
      // then one broadcast each way arrives, with nothing resent
      await S.run({ cmd: "emit", event: "news", args: ["after"] });
      await until(() => onO.some((a) => a[0] === "after"), "broadcast S → O after the restart");
      await O.run({ cmd: "emit", event: "news", args: ["back"] });
      await until(() => onS.some((a) => a[0] === "back"), "broadcast O → S after the restart");
      const again = await S.run<{ error?: string; sockets?: unknown[] }>({ cmd: "fetchSockets" });
      assert.equal(again.error, undefined);
      assert.equal(again.sockets?.length, 2);
      assert.deepEqual(S.unhandled, [], "no unhandled rejection on the Switchyard node");
      assert.equal(S.child.exitCode, null);
    } finally {
      closeClients();
      await Promise.all(nodes.map((node) => node.stop()));
      await redis.stop();
    }
  });
}
