/**
 * The node:cluster route for forwarded requests: workers send over their IPC channel and the primary relays
 * (`setupPrimary` of switchyard/cluster-adapter). Envelope: `{source: "_switchyard_fwd", to, from, data}`, with
 * `to` a worker id (string) or null for every other worker, `from` the sender's worker id and `data` the
 * wire.ts Buffer (advanced serialization keeps it a Buffer; the JSON form of a Buffer is accepted too). The
 * official adapters and primary ignore it (they keep `source: "_sio_adapter"` only).
 */
import cluster from "node:cluster";
import createDebug from "debug";
import type { ForwardingRoute } from "./route";

const debug = createDebug("switchyard:forwarding:cluster");

export const FORWARDING_SOURCE = "_switchyard_fwd";

export interface ForwardingEnvelope {
  source: typeof FORWARDING_SOURCE;
  to: string | null;
  from: string;
  data: Buffer;
}

export function isForwardingEnvelope(message: unknown): message is ForwardingEnvelope {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { source?: unknown }).source === FORWARDING_SOURCE
  );
}

function toBuffer(data: unknown): Buffer | undefined {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const json = data as { type?: unknown; data?: unknown } | null;
  if (json?.type === "Buffer" && Array.isArray(json.data))
    return Buffer.from(json.data as number[]);
  return undefined;
}

export class ClusterForwardingRoute implements ForwardingRoute {
  readonly nodeId: string;
  private listener: ((message: unknown) => void) | undefined;

  constructor() {
    if (cluster.worker === undefined || typeof process.send !== "function") {
      throw new Error("clusterForwarding() runs in a node:cluster worker");
    }
    this.nodeId = String(cluster.worker.id);
  }

  send(to: string | null, data: Buffer): void {
    const envelope: ForwardingEnvelope = { source: FORWARDING_SOURCE, to, from: this.nodeId, data };
    try {
      process.send?.(envelope, undefined, {}, (err: Error | null) => {
        if (err) debug("send failed: %s", err.message);
      });
    } catch (err) {
      debug("send failed: %s", (err as Error).message);
    }
  }

  listen(handler: (message: Buffer) => void): void {
    this.listener = (message: unknown) => {
      if (!isForwardingEnvelope(message)) return;
      const data = toBuffer(message.data);
      if (data !== undefined) handler(data);
    };
    process.on("message", this.listener);
  }

  close(): void {
    if (this.listener !== undefined) process.off("message", this.listener);
    this.listener = undefined;
  }
}

/** The node:cluster route for the engine's `forwarding` option (in a worker; the primary runs `setupPrimary`). */
export function clusterForwarding(): ClusterForwardingRoute {
  return new ClusterForwardingRoute();
}
