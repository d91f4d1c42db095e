/**
 * The cluster base with heartbeats: socket.io-adapter 2.5's `ClusterAdapterWithHeartbeat` protocol, the base of
 * the official node:cluster and Postgres adapters. On top of the ClusterAdapter messages, each node tells the
 * others it is alive, so that every node knows the others by uid:
 *
 * - at `init()` it publishes INITIAL_HEARTBEAT (1); every node receiving one publishes a HEARTBEAT (2);
 * - after `heartbeatInterval` ms without publishing anything it publishes a HEARTBEAT;
 * - any message from another node (not the emitter) marks that node alive; a node silent for longer than
 *   `heartbeatTimeout` ms is forgotten (checked every second), and at once on its ADAPTER_CLOSE (13), which
 *   `close()` publishes;
 * - `serverCount()` is 1 + the nodes alive;
 * - fetchSockets and serverSideEmit with ack wait for the nodes alive when they were sent, and end at once,
 *   with the answers received so far, when the last of those still owing an answer goes away.
 *
 * A transport subclass implements `doPublish` / `doPublishResponse` and hands what it receives to `onMessage`
 * (responses included: that keeps the responder alive too), as for `ClusterAdapter`.
 */
import createDebug from "debug";
import type { AdapterNamespace } from "./adapter";
import { ClusterAdapter, type ClusterAdapterOptions } from "./cluster";
import { AdapterErrorMessage, toError } from "./errors";
import type { ExpectedAnswers } from "./requests";
import { type ClusterMessage, EMITTER_UID, MessageType, isRecord } from "./wire";

const debug = createDebug("switchyard:cluster:heartbeat");

export interface ClusterAdapterWithHeartbeatOptions extends ClusterAdapterOptions {
  /** Publish a HEARTBEAT after this many ms without publishing anything. Default 5000. */
  heartbeatInterval?: number;
  /** Forget a node not heard from for this many ms. Default 10000. */
  heartbeatTimeout?: number;
}

/** How often silent nodes are looked for (the official base's fixed period). */
const CLEANUP_PERIOD_MS = 1000;

export abstract class ClusterAdapterWithHeartbeat extends ClusterAdapter {
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  /** The other nodes alive: uid → when last heard from (ms since the epoch). */
  private readonly nodes = new Map<string, number>();
  private heartbeatTimer?: NodeJS.Timeout;
  private cleanupTimer?: NodeJS.Timeout;
  private started = false;
  private stopped = false;

  constructor(nsp: AdapterNamespace, opts: ClusterAdapterWithHeartbeatOptions = {}) {
    super(nsp, opts);
    this.heartbeatInterval = opts.heartbeatInterval ?? 5000;
    this.heartbeatTimeout = opts.heartbeatTimeout ?? 10000;
  }

  /** Announces this node (INITIAL_HEARTBEAT) and starts the heartbeat and the search for silent nodes. */
  override init(): Promise<void> | void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.cleanupTimer = setInterval(() => this.forgetSilentNodes(), CLEANUP_PERIOD_MS);
    this.cleanupTimer.unref();
    this.publish({ type: MessageType.INITIAL_HEARTBEAT });
  }

  /**
   * Tells the other nodes this one leaves (ADAPTER_CLOSE, awaited so a transport may close after it), stops
   * the timers and fails this node's pending requests. A subclass closes its transport after `super.close()`.
   */
  override async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    clearInterval(this.cleanupTimer);
    const message: ClusterMessage = { type: MessageType.ADAPTER_CLOSE };
    message.uid = this.uid;
    message.nsp = this.nsp.name;
    try {
      await this.doPublish(message);
    } catch (err) {
      this.reportError(err);
    }
    this.nodes.clear();
    this.abortRequests(AdapterErrorMessage.ADAPTER_CLOSED);
  }

  /** Whether `close()` was called (a transport stops sending then). */
  protected isClosed(): boolean {
    return this.stopped;
  }

  /** Publishes, and puts the next HEARTBEAT `heartbeatInterval` ms after this message. */
  protected override publish(message: ClusterMessage): void {
    if (this.stopped) return;
    super.publish(message);
    this.scheduleHeartbeat();
  }

  private scheduleHeartbeat(): void {
    if (this.heartbeatTimer) {
      this.heartbeatTimer.refresh();
      return;
    }
    this.heartbeatTimer = setTimeout(
      () => this.publish({ type: MessageType.HEARTBEAT }),
      this.heartbeatInterval,
    );
    this.heartbeatTimer.unref();
  }

  override onMessage(message: ClusterMessage, offset?: string): void {
    if (this.stopped || !isRecord(message) || typeof message.type !== "number") return;
    const uid = message.uid;
    if (uid === this.uid || message.nsp !== this.nsp.name) return;
    if (typeof uid === "string" && uid !== EMITTER_UID) this.nodes.set(uid, Date.now());
    switch (message.type) {
      case MessageType.INITIAL_HEARTBEAT:
        if (debug.enabled) debug("[%s] node %s joined", this.uid, uid);
        this.publish({ type: MessageType.HEARTBEAT });
        return;
      case MessageType.HEARTBEAT:
        return;
      case MessageType.ADAPTER_CLOSE:
        if (typeof uid === "string") this.forgetNode(uid);
        return;
      default:
        super.onMessage(message, offset);
    }
  }

  override onResponse(response: ClusterMessage): void {
    if (this.stopped) return;
    // a response proves its sender alive, whichever way the transport delivers it
    const uid = isRecord(response) ? response.uid : undefined;
    if (typeof uid === "string" && uid !== this.uid && uid !== EMITTER_UID && uid !== "")
      this.nodes.set(uid, Date.now());
    super.onResponse(response);
  }

  /** 1 + the other nodes alive (heard from within `heartbeatTimeout`, and not closed). */
  override serverCount(): Promise<number> {
    return Promise.resolve(1 + this.nodes.size);
  }

  /** The uids of the other nodes alive, as requests snapshot them. */
  protected aliveNodes(): ReadonlySet<string> {
    return new Set(this.nodes.keys());
  }

  protected override expectedAnswers(_timeout: number): Promise<ExpectedAnswers> {
    return Promise.resolve(new Set(this.nodes.keys()));
  }

  /** Forgets a node at once (its close message, or a transport that knows it is gone). */
  protected forgetNode(uid: string): void {
    if (!this.nodes.delete(uid)) return;
    if (debug.enabled) debug("[%s] node %s left", this.uid, uid);
    this.forgetAnswerer(uid);
  }

  /**
   * Forgets every other node: for a transport that can no longer hear them (its connection lost), so that it
   * counts only the nodes heard from once it hears again.
   */
  protected forgetAllNodes(): void {
    for (const uid of [...this.nodes.keys()]) this.forgetNode(uid);
  }

  private forgetSilentNodes(): void {
    const now = Date.now();
    for (const [uid, lastSeen] of this.nodes) {
      if (now - lastSeen > this.heartbeatTimeout) {
        if (debug.enabled) debug("[%s] node %s timed out", this.uid, uid);
        try {
          this.forgetNode(uid);
        } catch (err) {
          this.reportError(toError(err));
        }
      }
    }
  }
}
