/**
 * Faults: a Redis server (started here, on a free port) stopped and restarted under a running cluster, and a
 * node killed while a request waits for it. Nothing crashes, local delivery goes on, the adapter reports the
 * errors on its `error` event, the cluster works again once Redis is back, and requests time out cleanly.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import {
  closeClients,
  record,
  sleep,
  startNode,
  uniqueKey,
  until,
  type ClusterNode,
} from "./cluster";
import { freePort } from "../support/net";

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  child.stdout?.resume();
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

for (const client of ["redis", "ioredis"] as const) {
  test(`Redis stopped and restarted under a mixed cluster (${client})`, async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const key = uniqueKey(`fault-${client}`);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const nodes: ClusterNode[] = [];
    try {
      const S = await startNode({
        name: "S",
        key,
        client,
        redisUrl,
        impl: "switchyard",
        adapter: "switchyard",
      });
      nodes.push(S);
      const O = await startNode({
        name: "O",
        key,
        client,
        redisUrl,
        impl: "socket.io",
        adapter: "official",
      });
      nodes.push(O);
      const s1 = await S.client();
      const o1 = await O.client();
      const onS = record(s1, "news");
      const onO = record(o1, "news");
      await until(async () => (await S.run<number>({ cmd: "serverCount" })) === 2, "two nodes");
      await S.run({ cmd: "emit", event: "news", args: ["before"] });
      await until(
        () => onO.some((a) => a[0] === "before") && onS.some((a) => a[0] === "before"),
        "broadcast before",
      );

      await stopRedis(redis);
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

      redis = await startRedis(port);
      // service resumes: a broadcast from S reaches O's client again, and O's reaches S's
      let n = 0;
      await until(
        async () => {
          await S.run({ cmd: "emit", event: "news", args: [`after-${++n}`] });
          await sleep(100);
          return onO.some((a) => String(a[0]).startsWith("after-"));
        },
        "broadcasts S → O after the restart",
        20000,
      );
      await until(
        async () => {
          await O.run({ cmd: "emit", event: "news", args: ["back"] });
          await sleep(100);
          return onS.some((a) => a[0] === "back");
        },
        "broadcasts O → S after the restart",
        20000,
      );
      await until(
        async () => (await S.run<number>({ cmd: "serverCount" })) === 2,
        "two nodes again",
        10000,
      );
      const again = await S.run<{ error?: string; sockets?: unknown[] }>({ cmd: "fetchSockets" });
      assert.equal(again.error, undefined);
      assert.equal(again.sockets?.length, 2);
      assert.deepEqual(S.unhandled, [], "no unhandled rejection on the Switchyard node");
      assert.equal(S.child.exitCode, null);
    } finally {
      closeClients();
      await Promise.all(nodes.map((node) => node.stop()));
      await stopRedis(redis);
    }
  });
}

for (const mode of ["classic", "sharded"] as const) {
  test(`a node killed while a request waits for it (${mode})`, async () => {
    const key = uniqueKey(`kill-${mode}`);
    const base = { key, mode, requestsTimeout: 2000 };
    const A = await startNode({ ...base, name: "A", impl: "socket.io", adapter: "official" });
    const B = await startNode({ ...base, name: "B" });
    const C = await startNode({ ...base, name: "C" });
    try {
      const b1 = await B.client();
      const a1 = await A.client();
      await C.client();
      await until(async () => (await B.run<number>({ cmd: "serverCount" })) === 3, "three nodes");
      // C never answers this one; it is killed while B waits
      const pending = B.run<{ error?: string; responses?: string[] }>({
        cmd: "serverSideEmitWithAck",
        event: "hello",
        args: ["never-C"],
      });
      await until(
        async () => (await A.run<unknown[][]>({ cmd: "serverEvents" })).length > 0,
        "the request to reach the nodes",
      );
      C.kill();
      const result = await pending;
      assert.equal(result.error, "timeout reached: only 1 responses received out of 2");
      assert.deepEqual(result.responses, ['A:["never-C"]']);

      // the cluster goes on without C: counts, requests and broadcasts
      await until(
        async () => (await B.run<number>({ cmd: "serverCount" })) === 2,
        "C's subscriptions gone",
      );
      const fetched = await B.run<{ error?: string; sockets?: Array<{ data: { node: string } }> }>({
        cmd: "fetchSockets",
      });
      assert.equal(fetched.error, undefined);
      assert.deepEqual(fetched.sockets?.map((s) => s.data.node).sort(), ["A", "B"]);
      const onA = record(a1, "news");
      const onB = record(b1, "news");
      await B.run({ cmd: "emit", event: "news", args: ["still-here"] });
      await until(() => onA.length === 1 && onB.length === 1, "broadcast after the kill");
      assert.deepEqual([...A.unhandled, ...B.unhandled], []);
    } finally {
      closeClients();
      C.kill();
      await Promise.all([A.stop(), B.stop()]);
    }
  });
}
