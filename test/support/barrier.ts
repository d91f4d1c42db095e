/**
 * The barrier of the multi-node tests. Cluster operations are asynchronous, so a test that asserts something did
 * NOT happen (an extra message, a join, a disconnect) first waits for this: every node broadcasts a marker, and
 * it resolves once each client has every node's marker. A node's messages reach each other node in the order it
 * sent them, so whatever the operations sent before the markers has been applied everywhere by then.
 */
import type { Socket as ClientSocket } from "socket.io-client";

let barriers = 0;

/**
 * `sendMarker(tag, node)` makes node number `node` (of `nodeCount`) broadcast the event "barrier" with
 * arguments `(tag, node)` to the clients' namespace. Rejects after `ms`.
 */
export async function barrier(
  clients: ClientSocket[],
  nodeCount: number,
  sendMarker: (tag: string, node: number) => unknown,
  ms = 15000,
): Promise<void> {
  const tag = `barrier-${barriers++}`;
  const seen = clients.map(() => new Set<number>());
  const listeners = clients.map((client, i) => {
    const listener = (t: string, node: number) => void (t === tag && seen[i]!.add(node));
    client.on("barrier", listener);
    return listener;
  });
  try {
    await Promise.all(Array.from({ length: nodeCount }, (_, node) => sendMarker(tag, node)));
    const deadline = Date.now() + ms;
    while (!seen.every((nodes) => nodes.size === nodeCount)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${tag}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    clients.forEach((client, i) => client.off("barrier", listeners[i]));
  }
}
