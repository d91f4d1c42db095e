/**
 * Heartbeat scheduling for every session of one server, with one timer in total instead of two per connection.
 *
 * Protocol v4: the server sends a ping `pingInterval` ms after the session opened (or after the last pong), and
 * closes the session with "ping timeout" when no pong arrives within `pingTimeout` ms of the ping. As in
 * engine.io 6.6, the first other packet received while a pong is awaited extends that deadline once.
 *
 * Since every session waits the same `pingInterval` (or the same `pingTimeout`), a session appended to a queue
 * is always due no earlier than those already in it. Two intrusive FIFO lists (the links live on the sessions)
 * therefore stay sorted by due time: adding, moving and removing a session is O(1), and the single timer only
 * looks at the heads of the two lists. Pings due within a small slack of each other go out in the same timer run.
 */
import { performance } from "node:perf_hooks";

/** The links and state a session carries for the heartbeat. */
export interface HeartbeatNode {
  hbPrev: HeartbeatNode | null;
  hbNext: HeartbeatNode | null;
  /** Due time (performance.now() clock). */
  hbDue: number;
  /** Which list the node is in. */
  hbList: ListId;
  /** Sends a ping (the node moves to the pong list). */
  onPingDue(): void;
  /** No pong in time. */
  onPongOverdue(): void;
  /** `onPingDue` or `onPongOverdue` threw: the session is closed, the others go on. */
  heartbeatFailed(err: Error): void;
}

export enum ListId {
  NONE = 0,
  PING = 1,
  PONG = 2,
}

class List {
  head: HeartbeatNode | null = null;
  tail: HeartbeatNode | null = null;
}

export class Heartbeat {
  private readonly pingList = new List();
  private readonly pongList = new List();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly slack: number;

  constructor(
    private readonly pingInterval: number,
    private readonly pingTimeout: number,
  ) {
    // pings may go out up to 1% early (at most 100 ms) so that sessions opened close together share a timer run
    this.slack = Math.min(100, pingInterval / 100);
  }

  /** The next ping is due `pingInterval` ms from now. */
  schedulePing(node: HeartbeatNode): void {
    this.unlink(node);
    this.append(node, this.pingList, ListId.PING, performance.now() + this.pingInterval);
  }

  /** A ping was sent: the pong is due `pingTimeout` ms from now. */
  awaitPong(node: HeartbeatNode): void {
    this.unlink(node);
    this.append(node, this.pongList, ListId.PONG, performance.now() + this.pingTimeout);
  }

  remove(node: HeartbeatNode): void {
    this.unlink(node);
    if (this.pingList.head === null && this.pongList.head === null) this.disarm();
  }

  /** Stops everything (server close). */
  stop(): void {
    for (const list of [this.pingList, this.pongList]) {
      while (list.head !== null) this.unlink(list.head);
    }
    this.disarm();
  }

  private append(node: HeartbeatNode, list: List, id: ListId, due: number): void {
    node.hbDue = due;
    node.hbList = id;
    node.hbPrev = list.tail;
    node.hbNext = null;
    if (list.tail === null) list.head = node;
    else list.tail.hbNext = node;
    list.tail = node;
    if (due < this.timerAt) this.arm(due);
  }

  private unlink(node: HeartbeatNode): void {
    if (node.hbList === ListId.NONE) return;
    const list = node.hbList === ListId.PING ? this.pingList : this.pongList;
    if (node.hbPrev === null) list.head = node.hbNext;
    else node.hbPrev.hbNext = node.hbNext;
    if (node.hbNext === null) list.tail = node.hbPrev;
    else node.hbNext.hbPrev = node.hbPrev;
    node.hbPrev = node.hbNext = null;
    node.hbList = ListId.NONE;
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(onTimer, Math.max(0, Math.ceil(at - performance.now())), this);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** @internal */
  run(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    // overdue pongs first: a session that timed out must not get another ping
    const pongs = this.pongList;
    while (pongs.head !== null && pongs.head.hbDue <= now + 1) {
      const node = pongs.head;
      this.unlink(node);
      try {
        node.onPongOverdue();
      } catch (err) {
        failed(node, err);
      }
    }
    const pings = this.pingList;
    const pingLimit = now + this.slack;
    while (pings.head !== null && pings.head.hbDue <= pingLimit) {
      const node = pings.head;
      this.unlink(node);
      try {
        node.onPingDue();
      } catch (err) {
        failed(node, err);
      }
    }
    const next = Math.min(pings.head?.hbDue ?? Infinity, pongs.head?.hbDue ?? Infinity);
    if (next !== Infinity && this.timer === null) this.arm(next);
    else if (next < this.timerAt) this.arm(next);
  }
}

/**
 * One session's failure (a throwing `packetCreate` listener...) must not stop the shared timer run: the others
 * would never be pinged again. The failing session is closed instead.
 */
function failed(node: HeartbeatNode, err: unknown): void {
  try {
    node.heartbeatFailed(err instanceof Error ? err : new Error(String(err)));
  } catch {
    // closing it threw too: nothing more can be done for this session, the others still go on
  }
}

function onTimer(heartbeat: Heartbeat): void {
  heartbeat.run();
}
