/**
 * The worker side of `switchyard/cluster-adapter`: the heartbeat ClusterAdapter protocol over the IPC channel
 * of a `node:cluster` worker, in the envelope of `@socket.io/cluster-adapter` 0.3: the cluster message plus
 * `source: "_sio_adapter"` (and, on responses, `requesterUid`). The primary (./primary.ts, or the official
 * package's) forwards each message to the other workers.
 */
import createDebug from "debug";
import type { AdapterNamespace } from "../../adapter/adapter";
import { type ClusterMessage, isRecord } from "../../adapter/cluster";
import {
  ClusterAdapterWithHeartbeat,
  type ClusterAdapterWithHeartbeatOptions,
} from "../../adapter/heartbeat";

const debug = createDebug("switchyard:cluster-adapter");

/** The marker of adapter messages on a channel other traffic may share (sticky sessions, the application). */
export const MESSAGE_SOURCE = "_sio_adapter";

/** A cluster message in its IPC envelope. */
export interface IpcMessage extends ClusterMessage {
  source: typeof MESSAGE_SOURCE;
  requesterUid?: string;
}

export type NodeClusterAdapterOptions = ClusterAdapterWithHeartbeatOptions;

/** Whether `message` is an adapter message (from either package). */
export function isAdapterMessage(message: unknown): message is IpcMessage {
  return isRecord(message) && message.source === MESSAGE_SOURCE && typeof message.type === "number";
}

/**
 * The adapters of this process by namespace, and the one `message` listener that feeds them: an adapter per
 * namespace would otherwise add a listener each. The listener is removed with the last adapter, so a worker
 * whose servers are closed can exit.
 */
const adaptersByNsp = new Map<string, Set<NodeClusterAdapter>>();
let listening = false;

function onProcessMessage(message: unknown): void {
  if (!isAdapterMessage(message) || typeof message.nsp !== "string") return;
  const adapters = adaptersByNsp.get(message.nsp);
  if (!adapters) return;
  for (const adapter of adapters) adapter.onMessage(message);
}

function register(adapter: NodeClusterAdapter): void {
  const name = adapter.nsp.name;
  let set = adaptersByNsp.get(name);
  if (!set) adaptersByNsp.set(name, (set = new Set()));
  set.add(adapter);
  if (!listening) {
    listening = true;
    process.on("message", onProcessMessage);
  }
}

function unregister(adapter: NodeClusterAdapter): void {
  const set = adaptersByNsp.get(adapter.nsp.name);
  if (!set?.delete(adapter)) return;
  if (set.size === 0) adaptersByNsp.delete(adapter.nsp.name);
  if (adaptersByNsp.size === 0 && listening) {
    listening = false;
    process.off("message", onProcessMessage);
  }
}

export class NodeClusterAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp: AdapterNamespace, opts: NodeClusterAdapterOptions = {}) {
    super(nsp, opts);
    register(this);
  }

  protected override doPublish(message: ClusterMessage): Promise<string> {
    this.send({ ...message, source: MESSAGE_SOURCE });
    return Promise.resolve("");
  }

  protected override doPublishResponse(
    requesterUid: string,
    response: ClusterMessage,
  ): Promise<void> {
    this.send({ ...response, source: MESSAGE_SOURCE, requesterUid });
    return Promise.resolve();
  }

  /**
   * Sends on the IPC channel. Outside a cluster worker (no channel) this node is alone: nothing to send. A
   * value the channel cannot carry (a function in `socket.data`, ...) throws here, and a failed write is
   * reported by the callback: both reach the adapter's `error` event.
   */
  private send(message: IpcMessage): void {
    if (typeof process.send !== "function") return;
    if (!process.connected) throw new Error("the IPC channel to the primary is closed");
    process.send(message, undefined, {}, (err: Error | null) => {
      if (err) this.reportError(err);
    });
    if (debug.enabled) debug("[%s] sent a message of type %d", this.uid, message.type);
  }

  override async close(): Promise<void> {
    await super.close();
    unregister(this);
  }
}

/**
 * The `adapter` option of a Server in a cluster worker:
 * `new Server(httpServer, { adapter: createAdapter() })`. Options: `heartbeatInterval` (5000 ms),
 * `heartbeatTimeout` (10000 ms), `requestsTimeout` (5000 ms).
 */
export function createAdapter(
  opts: NodeClusterAdapterOptions = {},
): (nsp: AdapterNamespace) => NodeClusterAdapter {
  // a plain function, so that servers calling it with `new` (as socket.io does) get the adapter too
  return function (nsp: AdapterNamespace) {
    return new NodeClusterAdapter(nsp, opts);
  };
}
