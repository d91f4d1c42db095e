/**
 * Faults on Postgres: the Switchyard node's connections killed (pg_terminate_backend of its listening connection
 * and its idle pool connections) under a mixed cluster, and a node killed while a request waits for it. No crash,
 * errors on the adapter's `error` event, local delivery goes on, the listening connection comes back with its
 * LISTENs, and a request ends with the answers that came once the dead node is forgotten.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { closeClients, record, uniqueKey, until, type ClusterNode } from "../redis/cluster";
import { attachmentTable, pgNode as startPgNode } from "../support/postgres";

const { table, admin } = attachmentTable("fault");

function pgNode(
  key: string,
  name: string,
  impl: "switchyard" | "socket.io",
  requestsTimeout?: number,
): Promise<ClusterNode> {
  const heartbeat = { heartbeatInterval: 500, heartbeatTimeout: 2500 };
  return startPgNode({ key, name, table, impl, heartbeat, requestsTimeout });
}

const count = (node: ClusterNode) => node.run<number>({ cmd: "serverCount" });

test("the Switchyard node's Postgres connections killed under a mixed cluster, and regained", async () => {
  const key = uniqueKey("pg-kill");
  const nodes: ClusterNode[] = [];
  try {
    const S = await pgNode(key, "S", "switchyard");
    nodes.push(S);
    const O = await pgNode(key, "O", "socket.io");
    nodes.push(O);
    const s1 = await S.client();
    const o1 = await O.client();
    const onS = record(s1, "news");
    const onO = record(o1, "news");
    await until(async () => (await count(S)) === 2 && (await count(O)) === 2, "two nodes");

    // every connection of S: the listening one (its last query a LISTEN) and the pool's idle ones
    const killed = await admin().query<{ query: string }>(
      "SELECT query, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [`${key}-S`],
    );
    assert.ok(
      killed.rows.some((row) => row.query.startsWith("LISTEN")),
      "the listening connection was found",
    );
    await until(
      async () => (await S.run<string[]>({ cmd: "errors" })).some((e) => e.startsWith("adapter:")),
      "the adapter's error event",
    );
    // local delivery goes on
    await S.run({ cmd: "emit", event: "news", args: ["local-during"] });
    await until(() => onS.some((a) => a[0] === "local-during"), "local delivery");

    // the listening connection comes back with its LISTEN: O's broadcasts reach S's client again
    let n = 0;
    await until(async () => {
      await O.run({ cmd: "emit", event: "news", args: [`o-${n++}`] });
      return onS.some((a) => String(a[0]).startsWith("o-"));
    }, "O's broadcasts to reach S again");
    await S.run({ cmd: "emit", event: "news", args: ["s-after"] });
    await until(() => onO.some((a) => a[0] === "s-after"), "S's broadcasts to reach O");
    await until(async () => (await count(S)) === 2 && (await count(O)) === 2, "two nodes again");
    const acked = await S.run<{ responses?: string[] }>({
      cmd: "serverSideEmitWithAck",
      event: "hello",
      args: ["again"],
    });
    assert.deepEqual(acked.responses, ['O:["again"]']);
    assert.equal(S.child.exitCode, null, "S is alive");
    assert.equal(O.child.exitCode, null, "O is alive");
    assert.deepEqual([...S.unhandled, ...O.unhandled], []);
  } finally {
    closeClients();
    await Promise.all(nodes.map((node) => node.stop()));
  }
});

test("a node killed while a request waits for it: the request ends with the answers that came", async () => {
  const key = uniqueKey("pg-mid");
  const nodes: ClusterNode[] = [];
  try {
    const requestsTimeout = 20000;
    const S1 = await pgNode(key, "S1", "switchyard", requestsTimeout);
    nodes.push(S1);
    const S2 = await pgNode(key, "S2", "switchyard");
    nodes.push(S2);
    const O = await pgNode(key, "O", "socket.io");
    nodes.push(O);
    await until(async () => (await count(S1)) === 3, "three nodes");

    // S2 hears the request but does not answer ("never-S2"); it is killed while S1 waits for it
    const started = Date.now();
    const pending = S1.run<{ error?: string; responses?: string[] }>({
      cmd: "serverSideEmitWithAck",
      event: "hello",
      args: ["never-S2"],
    });
    const heard: unknown[][] = [];
    await until(
      async () => (
        heard.push(...(await S2.run<unknown[][]>({ cmd: "serverEvents" }))),
        heard.length > 0
      ),
      "S2 to hear the request",
    );
    S2.kill();
    const result = await pending;
    assert.deepEqual(result.responses, ['O:["never-S2"]']);
    assert.ok(
      Date.now() - started < requestsTimeout,
      "the request ended when S2 was forgotten, before its timeout",
    );
    assert.equal(await count(S1), 2);
    // the cluster goes on without S2
    const fetched = await S1.run<{ sockets?: unknown[]; error?: string }>({ cmd: "fetchSockets" });
    assert.equal(fetched.error, undefined);
    assert.equal(S1.child.exitCode, null);
    assert.deepEqual([...S1.unhandled, ...O.unhandled], []);
  } finally {
    closeClients();
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
