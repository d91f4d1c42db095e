/**
 * Rooms and broadcasting: the in-memory adapter, and the contract every adapter honours.
 *
 * For adapter authors: the layers above (Namespace, BroadcastOperator) call only the methods of `Adapter`
 * below. A cluster adapter subclasses `Adapter`, keeps the local behaviour through `super`, and adds the
 * messages to other nodes. Methods that a cluster must answer asynchronously return Promises; the others
 * are fire-and-forget on the local node and forwarded to peers by the subclass. `broadcast` and
 * `broadcastWithAck` may return a Promise (an adapter that must learn something from its backend, such as
 * an offset, before delivering locally): the layer above reports its rejection on the adapter's `error`
 * event.
 *
 * The adapter never touches clients, transports or a socket's acks: it asks its namespace (`AdapterNamespace`)
 * to encode a packet once (`encodeBroadcast`), to write the encoded packet to each target (`deliver`), and
 * to give a packet an ack id and await the targets' answers (`expectAcks`).
 */
import { EventEmitter } from "node:events";
import type { PreparedMessage } from "../engine";
import { channels } from "../diagnostics";
import type { ConnectionStateRecovery, Session, SessionToPersist } from "./sessions";

export type { ConnectionStateRecovery, Session, SessionToPersist } from "./sessions";

export type SocketId = string;
export type Room = string | number;

export interface BroadcastFlags {
  volatile?: boolean;
  compress?: boolean;
  local?: boolean;
  broadcast?: boolean;
  binary?: boolean;
  timeout?: number;
  /** Set by a RemoteSocket's operator: the ack callback gets the one target's answer, not an array. */
  expectSingleResponse?: boolean;
}

export interface BroadcastOptions {
  rooms: Set<Room>;
  except?: Set<Room>;
  flags?: BroadcastFlags;
}

/** A Socket.IO packet as the parser encodes it (see src/parser). */
export interface AdapterPacket {
  type: number;
  nsp: string;
  data?: unknown;
  id?: number;
  attachments?: number;
}

/**
 * A packet encoded for the wire, written as is to every target connection: the parser's parts (a string,
 * then one Buffer per binary attachment), each possibly pre-framed by the engine (`PreparedMessage`).
 */
export type EncodedPacket = ReadonlyArray<string | Buffer | PreparedMessage>;

/** How a broadcast is written to each target: the broadcast flags the engine write reads. */
export interface DeliveryFlags {
  /** Dropped for a connection that cannot take it right now. */
  readonly volatile?: boolean;
  /** Compressed unless false. */
  readonly compress?: boolean;
}

/** What the adapter may ask of a socket: membership and a plain-data description. */
export interface AdapterSocket {
  readonly id: SocketId;
  /** The private session id, when connection state recovery is on (an adapter may save the session early). */
  readonly pid?: string;
  readonly rooms: Set<Room>;
  readonly handshake: unknown;
  data: unknown;
  join(rooms: Room | Room[]): Promise<void> | void;
  leave(room: Room): Promise<void> | void;
  disconnect(close?: boolean): unknown;
}

/**
 * The answers awaited for one broadcast with acks, as `AdapterNamespace.expectAcks` returns it: `expect`
 * each target before delivering to it, then `end` once every local target was reached.
 */
export interface AckExpectation {
  /**
   * `socket`'s answer to the packet's ack id goes to the broadcast's ack callback. False when the socket already
   * awaits as many acks as it may (`maxPendingAcks`): the packet is then not delivered to it, and its answer is
   * not awaited.
   */
  expect(socket: AdapterSocket): boolean;
  /** Every local target is known; with a timeout, the answers still awaited then are forgotten. */
  end(): void;
}

/** What the adapter may ask of its namespace. */
export interface AdapterNamespace {
  readonly name: string;
  /**
   * The server's `connectionStateRecovery` option with its defaults, or undefined when recovery is off: an
   * adapter adds offsets and keeps sessions only when it is set.
   */
  readonly connectionStateRecovery?: Readonly<ConnectionStateRecovery>;
  /** The connected sockets of this node, by id. */
  readonly sockets: ReadonlyMap<SocketId, AdapterSocket>;
  /** Encodes `packet` (its `nsp` set to this namespace) once for every target. */
  encodeBroadcast(packet: AdapterPacket): EncodedPacket;
  /**
   * Writes an encoded packet to one socket of this namespace (one taken from `sockets`); its outgoing
   * catch-all listeners hear `packet`.
   */
  deliver(
    socket: AdapterSocket,
    packet: AdapterPacket,
    encoded: EncodedPacket,
    flags: DeliveryFlags,
  ): void;
  /**
   * Gives `packet` a new ack id of this namespace, and returns the handle that registers `ack` for each
   * target: with `timeout` (ms), an answer that did not come in time is forgotten.
   */
  expectAcks(
    packet: AdapterPacket,
    ack: (...args: unknown[]) => void,
    timeout: number | undefined,
  ): AckExpectation;
  /** Delivers an event sent by another node with `serverSideEmit` to this namespace's listeners. */
  _onServerSideEmit(args: unknown[]): void;
}

/** The description of a socket that travels between nodes (fetchSockets), as the official adapters send it. */
export interface SocketDescription {
  id: SocketId;
  handshake: unknown;
  rooms: Room[];
  data: unknown;
}

export type ServerSideEmitAck = (err: Error | null, responses: unknown[]) => void;

export class Adapter extends EventEmitter {
  /** Room → ids of the sockets in it. */
  readonly rooms = new Map<Room, Set<SocketId>>();
  /** Socket id → the rooms it is in. */
  readonly sids = new Map<SocketId, Set<Room>>();

  constructor(readonly nsp: AdapterNamespace) {
    super();
  }

  /** Called once the adapter is attached to its namespace; a cluster adapter subscribes here. */
  init(): Promise<void> | void {}

  /** Called when the namespace or the server closes; a cluster adapter unsubscribes here. */
  close(): Promise<void> | void {}

  /** How many nodes form the cluster (this one included). */
  serverCount(): Promise<number> {
    return Promise.resolve(1);
  }

  addAll(id: SocketId, rooms: Set<Room> | Room[]): Promise<void> | void {
    let socketRooms = this.sids.get(id);
    if (!socketRooms) {
      socketRooms = new Set();
      this.sids.set(id, socketRooms);
    }
    for (const room of rooms) {
      socketRooms.add(room);
      let members = this.rooms.get(room);
      if (!members) {
        members = new Set();
        this.rooms.set(room, members);
        this.emit("create-room", room);
      }
      if (!members.has(id)) {
        members.add(id);
        this.emit("join-room", room, id);
      }
    }
  }

  del(id: SocketId, room: Room): Promise<void> | void {
    this.sids.get(id)?.delete(room);
    this.removeFromRoom(room, id);
  }

  delAll(id: SocketId): void {
    const socketRooms = this.sids.get(id);
    if (!socketRooms) return;
    for (const room of socketRooms) this.removeFromRoom(room, id);
    this.sids.delete(id);
  }

  private removeFromRoom(room: Room, id: SocketId): void {
    const members = this.rooms.get(room);
    if (!members || !members.delete(id)) return;
    this.emit("leave-room", room, id);
    if (members.size === 0 && this.rooms.delete(room)) this.emit("delete-room", room);
  }

  /**
   * Sends a packet to every local socket matching `opts`; the packet is encoded once for all of them. May
   * return a Promise in a subclass (the layer above reports a rejection on `error`); this one is synchronous.
   */
  broadcast(packet: AdapterPacket, opts: BroadcastOptions): void | Promise<void> {
    const nsp = this.nsp;
    const flags = opts.flags ?? NO_FLAGS;
    const encoded = nsp.encodeBroadcast(packet);
    const recipients = this.apply(opts, (socket) => nsp.deliver(socket, packet, encoded, flags));
    if (channels.broadcast.hasSubscribers) publishBroadcast(this, packet, opts, recipients);
  }

  /**
   * Like `broadcast`, with an ack expected from every target: `clientCountCallback` learns how many
   * answers to wait for (a cluster adapter calls it once per node), `ack` receives each answer.
   */
  broadcastWithAck(
    packet: AdapterPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): void | Promise<void> {
    const nsp = this.nsp;
    const flags = opts.flags ?? NO_FLAGS;
    const acks = nsp.expectAcks(packet, ack, flags.timeout);
    const encoded = nsp.encodeBroadcast(packet);
    let clientCount = 0;
    this.apply(opts, (socket) => {
      if (!acks.expect(socket)) return;
      clientCount++;
      nsp.deliver(socket, packet, encoded, flags);
    });
    clientCountCallback(clientCount);
    acks.end();
    if (channels.broadcast.hasSubscribers) publishBroadcast(this, packet, opts, clientCount);
  }

  /** The ids of the sockets in any of `rooms` (all sockets when empty). */
  sockets(rooms: Set<Room>): Promise<Set<SocketId>> {
    const ids = new Set<SocketId>();
    this.apply({ rooms }, (socket) => ids.add(socket.id));
    return Promise.resolve(ids);
  }

  socketRooms(id: SocketId): Set<Room> | undefined {
    return this.sids.get(id);
  }

  /** The matching sockets: local Socket objects here; a cluster adapter adds descriptions of remote ones. */
  fetchSockets(opts: BroadcastOptions): Promise<Array<AdapterSocket | SocketDescription>> {
    const found: AdapterSocket[] = [];
    this.apply(opts, (socket) => found.push(socket));
    return Promise.resolve(found);
  }

  addSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> | void {
    this.apply(opts, (socket) => socket.join(rooms));
  }

  delSockets(opts: BroadcastOptions, rooms: Room[]): Promise<void> | void {
    this.apply(opts, (socket) => {
      for (const room of rooms) socket.leave(room);
    });
  }

  disconnectSockets(opts: BroadcastOptions, close: boolean): Promise<void> | void {
    this.apply(opts, (socket) => socket.disconnect(close));
  }

  /**
   * Sends `[event, ...args]` to the other nodes of the cluster. With an ack function as the last element,
   * it receives one answer per other node; a single node has none, so it gets `(null, [])` at once.
   */
  serverSideEmit(packet: unknown[]): Promise<void> | void {
    const last = packet[packet.length - 1];
    if (typeof last === "function") (last as ServerSideEmitAck)(null, []);
  }

  /**
   * Connection state recovery: saves what a socket leaves behind when its connection ends for a recoverable
   * reason. This base keeps nothing (`SessionAwareAdapter` does), as socket.io-adapter's.
   */
  persistSession(_session: SessionToPersist): Promise<void> | void {}

  /**
   * The session `pid` and the packets sent after `offset` that reached it, or null (unknown or expired
   * session, offset unknown or too old): the socket then connects afresh. A rejection counts as null.
   */

  restoreSession(_pid: string, _offset: string): Promise<Session | null> {
    return Promise.resolve(null);
  }

  /** Calls `callback` once for each local socket matching `opts` (rooms, except); returns how many. */
  protected apply(opts: BroadcastOptions, callback: (socket: AdapterSocket) => void): number {
    let count = 0;
    const { rooms } = opts;
    const except = this.computeExceptSids(opts.except);
    const sockets = this.nsp.sockets;
    if (rooms.size > 0) {
      // A socket in several target rooms is reached once; with a single room no dedup set is needed.
      const seen = rooms.size > 1 ? new Set<SocketId>() : undefined;
      for (const room of rooms) {
        const members = this.rooms.get(room);
        if (!members) continue;
        for (const id of members) {
          if (seen) {
            if (seen.has(id)) continue;
            seen.add(id);
          }
          if (except?.has(id)) continue;
          const socket = sockets.get(id);
          if (socket) {
            count++;
            callback(socket);
          }
        }
      }
    } else {
      for (const [id, socket] of sockets) {
        if (except?.has(id)) continue;
        count++;
        callback(socket);
      }
    }
    return count;
  }

  protected computeExceptSids(exceptRooms?: Set<Room>): Set<SocketId> | undefined {
    if (!exceptRooms || exceptRooms.size === 0) return undefined;
    const ids = new Set<SocketId>();
    for (const room of exceptRooms) {
      const members = this.rooms.get(room);
      if (members) for (const id of members) ids.add(id);
    }
    return ids;
  }
}

const NO_FLAGS: BroadcastFlags = Object.freeze({});

function publishBroadcast(
  adapter: Adapter,
  packet: AdapterPacket,
  options: BroadcastOptions,
  recipients: number,
): void {
  channels.broadcast.publish({ adapter, namespace: adapter.nsp.name, packet, options, recipients });
}

/** The factory form of the `adapter` option: a class, or a function building one for a namespace. */
export type AdapterConstructor =
  (new (nsp: AdapterNamespace) => Adapter) | ((nsp: AdapterNamespace) => Adapter);
