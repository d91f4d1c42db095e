/**
 * Connection state recovery on one node: the sessions of sockets that lost their connection, and the packets
 * sent meanwhile, each kept for `maxDisconnectionDuration` and no longer.
 *
 * Used by the in-memory `SessionAwareAdapter` and, as a local store fed by local and remote broadcasts, by
 * the Redis adapters (a client that reconnects to the node it left recovers there). An offset is this
 * store's id (random per store) and the packet's sequence number, so finding a packet by offset is an index
 * computation, not a search, and an offset from another node or an older process is simply unknown.
 */
import type { AdapterNamespace, AdapterPacket, BroadcastOptions, Room } from "./adapter";
import { randomBase64Url } from "../util/ids";

/** The `connectionStateRecovery` option, as given (both fields optional). */
export interface ConnectionStateRecoveryOptions {
  /** How long a session and the packets sent while its client is away are kept (ms). Default 120000. */
  maxDisconnectionDuration?: number;
  /** A recovered socket skips the connection middlewares. Default true. */
  skipMiddlewares?: boolean;
}

/** The option with its defaults filled in: what `server.opts.connectionStateRecovery` holds. */
export type ConnectionStateRecovery = Required<ConnectionStateRecoveryOptions>;

/** What a socket leaves behind when its connection ends for a recoverable reason (socket.io-adapter's shape). */
export interface SessionToPersist {
  sid: string;
  pid: string;
  rooms: Room[];
  data: unknown;
}

/** A session given back by `restoreSession`: the saved state and the events sent while the client was away. */
export interface Session extends SessionToPersist {
  missedPackets: unknown[][];
}

/** Packet type of an event (the parser's EVENT; binary events are still type 2 at the adapter). */
const EVENT = 2;

/**
 * Whether a broadcast is kept for recovery and gets an offset: an event without an ack and not volatile
 * (socket.io's rule; acks cannot be answered after a reconnection, volatile packets may be lost anyway).
 */
export function isRecoverablePacket(packet: AdapterPacket, opts: BroadcastOptions): boolean {
  return packet.type === EVENT && packet.id === undefined && opts.flags?.volatile === undefined;
}

/**
 * Whether a socket in `rooms` was a target of a broadcast to `targets` except `except` (rooms given as
 * Sets or, as they travel between nodes, arrays).
 */
export function shouldIncludePacket(
  rooms: ReadonlyArray<Room>,
  targets: RoomCollection,
  except: RoomCollection | undefined,
): boolean {
  if (size(targets) > 0 && !rooms.some((room) => contains(targets, room))) return false;
  return !except || !rooms.some((room) => contains(except, room));
}

type RoomCollection = ReadonlySet<Room> | ReadonlyArray<Room>;

const size = (rooms: RoomCollection) =>
  rooms instanceof Set ? rooms.size : (rooms as Room[]).length;

const contains = (rooms: RoomCollection, room: Room) =>
  rooms instanceof Set ? rooms.has(room) : (rooms as Room[]).includes(room);

interface StoredPacket {
  readonly data: unknown[];
  readonly rooms: Set<Room>;
  readonly except: Set<Room> | undefined;
  readonly emittedAt: number;
}

interface StoredSession extends SessionToPersist {
  readonly disconnectedAt: number;
}

/** What the store holds right now (for tests and metrics). */
export interface SessionStoreStats {
  packets: number;
  sessions: number;
}

export interface SessionStoreHooks {
  /** Called after each sweep (tests and metrics observe expiry through it). */
  onSweep?: (stats: SessionStoreStats) => void;
  /** Called when no saved session holds `room` any more. */
  onRoomReleased?: (room: Room) => void;
}

/**
 * A node-local store for an adapter whose backend keeps no history (the Redis pub/sub adapters), when the
 * server recovers connections; undefined otherwise.
 */
export function localSessionStore(
  nsp: AdapterNamespace,
  hooks?: SessionStoreHooks,
): SessionStore | undefined {
  const recovery = nsp.connectionStateRecovery;
  return recovery ? new SessionStore(recovery.maxDisconnectionDuration, hooks) : undefined;
}

export class SessionStore {
  /** Prefix of this store's offsets: offsets of another store (node, namespace, process) never match. */
  private readonly storeId = randomBase64Url(6);
  /** Packets in emission order; `packets[i]` has sequence number `firstSeq + i`. */
  private packets: StoredPacket[] = [];
  private firstSeq = 0;
  private readonly sessions = new Map<string, StoredSession>();
  /** How many saved sessions hold each room: broadcasts to those rooms must still be received. */
  private readonly heldRooms = new Map<Room, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The sweep runs this often while something is stored. */
  readonly sweepInterval: number;

  private readonly onSweep: ((stats: SessionStoreStats) => void) | undefined;
  private readonly onRoomReleased: ((room: Room) => void) | undefined;

  constructor(
    readonly maxDisconnectionDuration: number,
    hooks: SessionStoreHooks = {},
  ) {
    this.onSweep = hooks.onSweep;
    this.onRoomReleased = hooks.onRoomReleased;
    this.sweepInterval = Math.min(60_000, Math.max(20, Math.floor(maxDisconnectionDuration / 4)));
  }

  /** Whether a sweep is pending (only while something is stored, never after `close`). */
  get sweepScheduled(): boolean {
    return this.sweepTimer !== undefined;
  }

  get stats(): SessionStoreStats {
    return { packets: this.packets.length, sessions: this.sessions.size };
  }

  /**
   * Stores a broadcast when it is recoverable and appends its offset to `packet.data` (so every target
   * receives it as the last argument). Call it after the packet was encoded for other nodes.
   */
  record(packet: AdapterPacket, opts: BroadcastOptions): void {
    if (this.closed || !isRecoverablePacket(packet, opts) || !Array.isArray(packet.data)) return;
    const seq = this.firstSeq + this.packets.length;
    const data = packet.data as unknown[];
    data.push(`${this.storeId}.${seq.toString(36)}`);
    this.packets.push({
      data,
      rooms: opts.rooms,
      except: opts.except && opts.except.size > 0 ? opts.except : undefined,
      emittedAt: Date.now(),
    });
    this.armSweep();
  }

  /** Whether a saved session holds `room` (a broadcast to it must still be received and stored). */
  holdsRoom(room: Room): boolean {
    return this.heldRooms.size > 0 && this.heldRooms.has(room);
  }

  persist(session: SessionToPersist): void {
    if (this.closed) return;
    this.forget(session.pid);
    this.sessions.set(session.pid, {
      sid: session.sid,
      pid: session.pid,
      rooms: session.rooms,
      data: session.data,
      disconnectedAt: Date.now(),
    });
    for (const room of session.rooms) this.heldRooms.set(room, (this.heldRooms.get(room) ?? 0) + 1);
    this.armSweep();
  }

  /**
   * The session `pid` with the packets sent after `offset` that reached its rooms, or null: unknown or
   * expired session, or an offset that is unknown or too old. A session is given back once.
   */
  restore(pid: string, offset: string): Session | null {
    const session = this.sessions.get(pid);
    if (!session) return null;
    this.forget(pid);
    if (session.disconnectedAt + this.maxDisconnectionDuration < Date.now()) return null;
    const index = this.indexOf(offset);
    if (index === undefined) return null;
    const missedPackets: unknown[][] = [];
    for (let i = index + 1; i < this.packets.length; i++) {
      const stored = this.packets[i]!;
      if (shouldIncludePacket(session.rooms, stored.rooms, stored.except)) {
        missedPackets.push(stored.data);
      }
    }
    return {
      sid: session.sid,
      pid: session.pid,
      rooms: session.rooms,
      data: session.data,
      missedPackets,
    };
  }

  /** Stops the sweep and drops everything. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.packets = [];
    this.sessions.clear();
    this.heldRooms.clear();
  }

  /** Drops what is older than `maxDisconnectionDuration`. */
  sweep(now = Date.now()): void {
    const threshold = now - this.maxDisconnectionDuration;
    for (const [pid, session] of this.sessions) {
      if (session.disconnectedAt < threshold) this.forget(pid);
    }
    let expired = 0;
    while (expired < this.packets.length && this.packets[expired]!.emittedAt < threshold) expired++;
    if (expired > 0) {
      // a new array rather than splice: the old backing store is freed at once
      this.packets = this.packets.slice(expired);
      this.firstSeq += expired;
    }
    this.onSweep?.(this.stats);
  }

  private forget(pid: string): void {
    const session = this.sessions.get(pid);
    if (!session) return;
    this.sessions.delete(pid);
    for (const room of session.rooms) {
      const count = (this.heldRooms.get(room) ?? 1) - 1;
      if (count > 0) {
        this.heldRooms.set(room, count);
      } else {
        this.heldRooms.delete(room);
        this.onRoomReleased?.(room);
      }
    }
  }

  /** The index in `packets` of the packet with `offset`, or undefined when unknown or expired. */
  private indexOf(offset: string): number | undefined {
    const dot = offset.lastIndexOf(".");
    if (dot === -1 || offset.slice(0, dot) !== this.storeId) return undefined;
    const digits = offset.slice(dot + 1);
    if (!/^[0-9a-z]{1,11}$/.test(digits)) return undefined;
    const index = parseInt(digits, 36) - this.firstSeq;
    return index >= 0 && index < this.packets.length ? index : undefined;
  }

  /** One timer while something is stored, none otherwise; it never keeps the process alive. */
  private armSweep(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
      if (this.packets.length > 0 || this.sessions.size > 0) this.armSweep();
    }, this.sweepInterval);
    this.sweepTimer.unref();
  }
}
