/**
 * node:cluster scenarios shared by the test files (each file is one primary: the test process, with the
 * forwarding of one package's `setupPrimary`). The workers are test/redis/node.ts in mode "cluster".
 */
import assert from "node:assert/strict";
import { closeClients, startNode, uniqueKey, until, type ClusterNode } from "../redis/cluster";
import type { NodeConfig } from "../redis/node";

type Emitted = { error?: string; responses?: unknown[] };

const worker = (name: string, impl: "switchyard" | "socket.io", requestsTimeout: number) => {
  const config: Partial<NodeConfig> & Pick<NodeConfig, "name" | "key"> = {
    name,
    key: uniqueKey("cluster"),
    mode: "cluster",
    impl,
    adapter: impl === "switchyard" ? "switchyard" : "official",
    requestsTimeout,
  };
  return startNode(config);
};

async function untilCount(nodes: ClusterNode[], count: number, ms?: number): Promise<void> {
  for (const node of nodes)
    await until(
      async () => (await node.run<number>({ cmd: "serverCount" })) === count,
      `serverCount ${count} on ${node.name}`,
      ms,
    );
}

/**
 * Three workers (Switchyard, official, Switchyard): serverCount follows workers joining and leaving; a binary
 * serverSideEmit reaches the Switchyard workers as Buffers; a worker SIGKILLed while it owes an answer ends the request with the
 * answers received so far, within `endsWithin` ms (the primary's close notice, or the requests timeout).
 */
export async function joinLeaveAndKill(opts: {
  requestsTimeout: number;
  /** Whether the primary announces a dead worker (Switchyard's does). */
  closeNotice: boolean;
}): Promise<void> {
  const nodes: ClusterNode[] = [];
  try {
    const A = await worker("A", "switchyard", opts.requestsTimeout);
    const B = await worker("B", "socket.io", opts.requestsTimeout);
    const C = await worker("C", "switchyard", opts.requestsTimeout);
    nodes.push(A, B, C);
    await untilCount(nodes, 3);

    // binary serverSideEmit from the official worker (Switchyard's own refuses binary arguments, by design)
    const bytes = Buffer.from([0, 1, 254, 255]);
    await B.run({ cmd: "serverSideEmit", event: "hello", args: ["bin", bytes] });
    for (const node of [A, C]) {
      const got: unknown[][] = [];
      await until(
        async () => (
          got.push(...(await node.run<unknown[][]>({ cmd: "serverEvents" }))),
          got.length > 0
        ),
        `binary serverSideEmit on ${node.name}`,
      );
      assert.deepEqual(got[0]!.slice(0, 3), ["/", "hello", "bin"]);
      assert.ok(Buffer.isBuffer(got[0]![3]), `a Buffer on ${node.name}`);
      assert.deepEqual(Buffer.from(got[0]![3] as Uint8Array), bytes);
    }

    // a graceful stop is noticed at once (its ADAPTER_CLOSE), a new worker is counted
    const D = await worker("D", "switchyard", opts.requestsTimeout);
    nodes.push(D);
    await untilCount(nodes, 4);
    await D.stop();
    nodes.pop();
    await untilCount(nodes, 3, 5000);

    // C owes an answer to A's request when it is killed
    const client = await C.client();
    assert.ok(client.connected);
    const startedAt = Date.now();
    const pending = A.run<Emitted>({
      cmd: "serverSideEmitWithAck",
      event: "hello",
      args: ["never-C"],
    });
    await until(
      async () => (await C.run<unknown[][]>({ cmd: "serverEvents" })).length > 0,
      "C to receive the request",
    );
    C.kill();
    const result = await pending;
    const elapsed = Date.now() - startedAt;
    assert.deepEqual(result.responses, ['B:["never-C"]'], "the answers received so far");
    if (opts.closeNotice) {
      assert.equal(result.error, undefined);
      assert.ok(elapsed < 8000, `ended after ${elapsed} ms, before any timeout`);
      await untilCount([A, B], 2, 3000);
      const fetched = await A.run<{ sockets: unknown[]; error?: string }>({ cmd: "fetchSockets" });
      assert.equal(fetched.error, undefined);
    } else {
      assert.equal(result.error, "timeout reached: missing 1 responses");
      assert.ok(elapsed < opts.requestsTimeout + 8000, `ended after ${elapsed} ms`);
    }
    nodes.splice(nodes.indexOf(C), 1);
    for (const node of nodes) assert.deepEqual(await node.run({ cmd: "errors" }), []);
    assert.deepEqual(
      nodes.flatMap((n) => n.unhandled),
      [],
    );
  } finally {
    closeClients();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}
