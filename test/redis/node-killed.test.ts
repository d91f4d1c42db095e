/**
 * Faults: a node killed (SIGKILL) while a request waits for its answer, in classic and sharded mixed clusters.
 * The request times out cleanly with the answers it got, and the cluster goes on without the node.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { closeClients, record, startNode, uniqueKey, until } from "./cluster";

for (const mode of ["classic", "sharded"] as const) {
  test(`a node killed while a request waits for it (${mode})`, async () => {
    const key = uniqueKey(`kill-${mode}`);
    const base = { key, mode, requestsTimeout: 2000 };
    const [A, B, C] = await Promise.all([
      startNode({ ...base, name: "A", impl: "socket.io", adapter: "official" }),
      startNode({ ...base, name: "B" }),
      startNode({ ...base, name: "C" }),
    ]);
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
