/**
 * Fault scenarios with a Redis server of the test's own, stopped and restarted under running nodes. One test
 * file per adapter and client (fault-*.test.ts), so that each file stays well within the runner's per-file
 * timeout on a loaded machine.
 */
import assert from "node:assert/strict";
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

/**
 * Redis (a private server) stopped and restarted under a mixed cluster over the classic adapter: a Switchyard
 * node S and an official socket.io node O. Nothing crashes, local delivery goes on, requests fail cleanly, the
 * adapter reports the errors on its `error` event, and the cluster works again once Redis is back.
 */
export async function classicRestart(client: "redis" | "ioredis"): Promise<void> {
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
      async () => (await S.run<string[]>({ cmd: "errors" })).some((e) => e.startsWith("adapter:")),
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
}

/** The connections blocked in XREAD on the server (one stream reader per node). */
async function readers(redis: PrivateRedis): Promise<number> {
  const list = await redis.cli("CLIENT", "LIST");
  return list.split("\n").filter((line) => / cmd=xread /.test(line)).length;
}

const labels = (seen: unknown[][]) => seen.map((args) => args[0]);

/**
 * Redis (a private server, persisting nothing) stopped and restarted under two Switchyard nodes on the streams
 * adapter. Nothing crashes and no promise is left unhandled, the errors reach the adapter's `error` event, local
 * delivery goes on during the outage, and afterwards broadcasts flow both ways again and connection state
 * recovery works again (a client whose session was lost with Redis's data connects afresh, one that got its
 * offset after the restart recovers on the other node with what it missed).
 */
export async function streamsRestart(client: "redis" | "ioredis"): Promise<void> {
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
