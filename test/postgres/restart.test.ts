/**
 * Postgres restarted under load: a PostgreSQL server of the test's own (initdb into a temporary directory, pg_ctl
 * on a free port, trust auth; never the machine's server on 5432) under two Switchyard nodes on
 * switchyard/postgres-adapter, with broadcasts flowing both ways. The server is stopped (`pg_ctl stop -m fast`)
 * and started again on the same port: no crash, the errors reach the adapters' `error` event, each node counts
 * only itself and its requests end at once while it is down, local delivery goes on; after, once each node
 * counts two again, a serverSideEmitWithAck gets the other node's answer both ways (a node heard from can
 * answer: it sends nothing while it cannot hear), and cross-node broadcasts resume.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closeClients, record, uniqueKey, until, type ClusterNode } from "../redis/cluster";
import {
  adminPool,
  createTable,
  pgNode,
  startPrivatePostgres,
  type PrivatePostgres,
} from "../support/postgres";

let postgres: PrivatePostgres;

before(async () => {
  postgres = await startPrivatePostgres("restart");
});
after(() => postgres?.remove());

test("Postgres stopped and started again under load: no crash, errors reported, service resumes", async () => {
  assert.notEqual(postgres.server.port, 5432);
  const table = "sy_att_restart";
  const admin = adminPool(postgres.server);
  await createTable(admin, table);
  await admin.end();

  const key = uniqueKey("pg-restart");
  const nodes: ClusterNode[] = [];
  let loading = true;
  const load: Promise<void>[] = [];
  try {
    const node = (name: string) =>
      pgNode({
        key,
        name,
        table,
        server: postgres.server,
        heartbeat: { heartbeatInterval: 500, heartbeatTimeout: 2500 },
      });
    const [S, T] = await Promise.all([node("S"), node("T")]);
    nodes.push(S, T);
    const s1 = await S.client();
    const t1 = await T.client();
    const onS = record(s1, "news");
    const onT = record(t1, "news");
    await until(async () => (await S.run<number>({ cmd: "serverCount" })) === 2, "two nodes");

    // load: both nodes broadcast without pause for the whole test
    let sent = 0;
    for (const node of [S, T])
      load.push(
        (async () => {
          while (loading)
            await node.run({ cmd: "emit", event: "news", args: [`load-${node.name}-${sent++}`] });
        })(),
      );
    const crossed = (got: unknown[][], from: string) =>
      got.filter((args) => String(args[0]).startsWith(`load-${from}-`)).length;
    await until(
      () => crossed(onS, "T") > 0 && crossed(onT, "S") > 0,
      "broadcasts flowing both ways",
    );

    await postgres.stop("fast");
    for (const node of nodes)
      await until(
        async () =>
          (await node.run<string[]>({ cmd: "errors" })).some((e) => e.startsWith("adapter:")),
        `the adapter's error event on ${node.name}`,
      );
    // deaf, each node counts only itself, and a request ends at once with no answers instead of waiting
    for (const node of nodes)
      await until(
        async () => (await node.run<number>({ cmd: "serverCount" })) === 1,
        `${node.name} to count only itself while Postgres is down`,
      );
    const whileDown = Date.now();
    assert.deepEqual(
      await S.run({ cmd: "serverSideEmitWithAck", event: "hello", args: ["while-down"] }),
      { responses: [] },
    );
    assert.ok(Date.now() - whileDown < 2000, "no wait for nodes that cannot be heard");
    // local delivery goes on while the server is down
    const ownBefore = crossed(onS, "S");
    await until(
      () => crossed(onS, "S") > ownBefore + 5,
      "local delivery on S while Postgres is down",
    );
    const fromTBefore = crossed(onS, "T");

    await postgres.start();
    // once every node counts the other again, requests get every node's answer, under the same load
    for (const node of nodes)
      await until(
        async () => (await node.run<number>({ cmd: "serverCount" })) === 2,
        `${node.name} to count two nodes again`,
        30000,
      );
    for (const [asker, answerer] of [
      [S, T],
      [T, S],
    ] as const) {
      const started = Date.now();
      const reply = await asker.run({
        cmd: "serverSideEmitWithAck",
        event: "hello",
        args: [`after-restart-${asker.name}`],
      });
      assert.deepEqual(
        reply,
        { responses: [`${answerer.name}:["after-restart-${asker.name}"]`] },
        `${asker.name}'s serverSideEmitWithAck after the restart`,
      );
      assert.ok(Date.now() - started < 2000, "answered within the requests timeout");
    }
    // cross-node broadcasts resume, both ways (the listening connections come back with their LISTENs)
    await until(() => crossed(onS, "T") > fromTBefore, "T's broadcasts to reach S again", 30000);
    const fromSAfter = crossed(onT, "S");
    await until(() => crossed(onT, "S") > fromSAfter, "S's broadcasts to reach T again", 30000);
    loading = false;
    await Promise.all(load);
    for (const node of nodes) {
      assert.equal(node.child.exitCode, null, `${node.name} is alive`);
      assert.deepEqual(node.unhandled, []);
    }
  } finally {
    loading = false;
    await Promise.allSettled(load);
    closeClients();
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
