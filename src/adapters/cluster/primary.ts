/**
 * The primary side of `switchyard/cluster-adapter`: forwards the adapter messages of each worker, as
 * `@socket.io/cluster-adapter` 0.3's `setupPrimary` does (and to workers of either package): responses of
 * fetchSockets and serverSideEmit to the worker that asked (known by the uids it sent from), everything else
 * to every other worker.
 *
 * Beyond the official primary: when a worker exits, the others get an ADAPTER_CLOSE for each of its namespace
 * adapters, so they stop counting it at once and their requests waiting for it end with the answers received
 * so far, instead of after the heartbeat timeout.
 */
import cluster, { type Worker } from "node:cluster";
import createDebug from "debug";
import { MessageType } from "../../adapter/cluster";
import { type IpcMessage, MESSAGE_SOURCE, isAdapterMessage } from "./adapter";
import { isForwardingEnvelope } from "../../forwarding/cluster";

const debug = createDebug("switchyard:cluster-adapter:primary");

/** The namespace adapters each worker has spoken for: uid → namespace. */
const adaptersOf = new WeakMap<Worker, Map<string, string>>();
let installed = false;

function sendTo(worker: Worker, message: object): void {
  if (!worker.isConnected()) return;
  try {
    worker.send(message, undefined, (err: Error | null) => {
      if (err) debug("forwarding to worker %d failed: %s", worker.id, err.message);
    });
  } catch (err) {
    debug("forwarding to worker %d failed: %s", worker.id, (err as Error).message);
  }
}

function otherWorkers(except: Worker): Worker[] {
  const found: Worker[] = [];
  for (const worker of Object.values(cluster.workers ?? {}))
    if (worker && worker !== except) found.push(worker);
  return found;
}

function route(from: Worker, message: unknown): void {
  if (isForwardingEnvelope(message)) {
    // forwarded polling requests (engine option `forwarding` with clusterForwarding()): to one worker or all
    if (message.to === null) for (const worker of otherWorkers(from)) sendTo(worker, message);
    else {
      const target = cluster.workers?.[message.to];
      if (target !== undefined && target !== from) sendTo(target, message);
    }
    return;
  }
  if (!isAdapterMessage(message) || typeof message.uid !== "string") return;
  let adapters = adaptersOf.get(from);
  if (!adapters) adaptersOf.set(from, (adapters = new Map()));
  if (message.type === MessageType.ADAPTER_CLOSE) adapters.delete(message.uid);
  else if (typeof message.nsp === "string") adapters.set(message.uid, message.nsp);

  if (
    message.type === MessageType.FETCH_SOCKETS_RESPONSE ||
    message.type === MessageType.SERVER_SIDE_EMIT_RESPONSE
  ) {
    const requester = otherWorkers(from).find((w) =>
      adaptersOf.get(w)?.has(message.requesterUid as string),
    );
    if (requester) sendTo(requester, message);
    return;
  }
  for (const worker of otherWorkers(from)) sendTo(worker, message);
}

function announceExit(worker: Worker): void {
  const adapters = adaptersOf.get(worker);
  if (!adapters || adapters.size === 0) return;
  const others = otherWorkers(worker);
  for (const [uid, nsp] of adapters) {
    if (debug.enabled) debug("worker %d exited: closing its adapter %s (%s)", worker.id, uid, nsp);
    const close: IpcMessage = { type: MessageType.ADAPTER_CLOSE, uid, nsp, source: MESSAGE_SOURCE };
    for (const other of others) sendTo(other, close);
  }
  adapters.clear();
}

/**
 * Installs the forwarding in the primary (once; later calls do nothing). Install one primary only: this one
 * or `@socket.io/cluster-adapter`'s, not both (each would forward every message). Workers forked afterwards use
 * the advanced serialization (Buffers stay Buffers) unless `cluster.setupPrimary()` already chose one.
 */
export function setupPrimary(): void {
  if (installed) return;
  installed = true;
  if (cluster.settings.serialization === undefined)
    cluster.setupPrimary({ serialization: "advanced" });
  cluster.on("message", route);
  cluster.on("exit", announceExit);
}
