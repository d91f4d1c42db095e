/**
 * Faults of the Redis Streams adapter: Redis (a private server, persisting nothing) stopped and restarted under
 * two Switchyard nodes. Nothing crashes and no promise is left unhandled, the errors reach the adapter's `error`
 * event, local delivery goes on during the outage, and afterwards broadcasts flow both ways again and connection
 * state recovery works again (a client whose offset was lost with Redis's data connects afresh, one that got its
 * offset after the restart recovers on the other node with what it missed).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Socket as ClientSocket } from "socket.io-client";
import { startPrivateRedis, type PrivateRedis } from "../support/redis-server";
import {
  closeClients,
  drop,
  moveTo,
  record,
  startNode,
  uniqueKey,
  until,
  type ClusterNode,
} from "./cluster";

/** The connections blocked in XREAD on the server (one stream reader per node). */
async function readers(redis: PrivateRedis): Promise<number> {
  const list = await redis.cli("CLIENT", "LIST");
  return list.split("\n").filter((line) => / cmd=xread /.test(line)).length;
}

const labels = (seen: unknown[][]) => seen.map((args) => args[0]);

async function scenario(client: "redis" | "ioredis"): Promise<void> {
  const redis = await startPrivateRedis();
  const key = uniqueKey(`streams-fault-${client}`);
  const base = { key, client, redisUrl: redis.url, mode: "streams" as const };
  const nodes: ClusterNode[] = [];
  try {
    const [A, B] = await Promise.all([
      startNode({ ...base, name: "A" }),
      startNode({ ...base, name: "B" }),
    ]);
    nodes.push(A, B);
    const a1 = await A.client();
    const b1 = await B.client();
    // c1 leaves before the outage: its session and offset are lost with Redis's data
    const c1 = await A.client();
    const onA = record(a1, "news");
    const onB = record(b1, "news");
    const onC = record(c1, "news");
    await until(async () => (await A.run<number>({ cmd: "serverCount" })) === 2, "two nodes");
    await until(async () => (await readers(redis)) === 2, "both stream readers");
    await A.run({ cmd: "emit", event: "news", args: ["before"] });
    await until(
      () => [onA, onB, onC].every((seen) => labels(seen).includes("before")),
      "broadcast before",
    );
    const c1Id = c1.id;
    await drop(c1);

    await redis.stop();
    for (const node of [A, B])
      await until(
        async () =>
          (await node.run<string[]>({ cmd: "errors" })).some((e) => e.startsWith("adapter:")),
        `${node.name}'s adapter error event`,
      );
    // local delivery goes on without Redis (without an offset)
    await A.run({ cmd: "emit", event: "news", args: ["during"] });
    await until(() => labels(onA).includes("during"), "local delivery while Redis is down");

    await redis.restart();
    // resumed: both pub/sub subscriptions and both stream readers are on the new server
    await until(
      async () => (await redis.subscribers(`${key}-ch#/#`)) === 2 && (await readers(redis)) === 2,
      "both nodes subscribed and reading again",
      30000,
    );
    for (const node of [A, B])
      await until(
        async () => (await node.run<number>({ cmd: "serverCount" })) === 2,
        `${node.name} counting two nodes again`,
        30000,
      );
    await A.run({ cmd: "emit", event: "news", args: ["after-A"] });
    await until(() => labels(onB).includes("after-A"), "broadcast A → B after the restart");
    await B.run({ cmd: "emit", event: "news", args: ["after-B"] });
    await until(() => labels(onA).includes("after-B"), "broadcast B → A after the restart");

    // a1's last offset is from after the restart: it recovers on B with what A sent while it was away
    const a1Id = a1.id;
    await drop(a1);
    await A.run({ cmd: "emit", event: "news", args: ["missed"] });
    assert.equal(await moveTo(a1, B), true, "recovered after the restart");
    assert.equal(a1.id, a1Id);
    await until(() => labels(onA).includes("missed"), "the missed broadcast");
    // c1's session was lost with the server's data: a fresh connection, as for an expired session
    assert.equal(await moveTo(c1, B), false, "not recovered: the session was lost with Redis");
    assert.notEqual(c1.id, c1Id);
    // a client connected after the restart, that received nothing yet, has no offset to recover from
    const fresh: ClientSocket = await B.client();
    assert.equal(fresh.recovered, false);

    for (const node of [A, B]) {
      assert.equal(node.child.exitCode, null, `${node.name} is alive`);
      assert.deepEqual(node.unhandled, [], `no unhandled rejection on ${node.name}`);
    }
  } finally {
    closeClients();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  }
}

test("streams adapter: Redis stopped and restarted under two nodes (node-redis)", () =>
  scenario("redis"));

test("streams adapter: Redis stopped and restarted under two nodes (ioredis)", () =>
  scenario("ioredis"));
