/**
 * Rooms and broadcasting: the in-memory adapter, and the contract every adapter honours.
 *
 * For adapter authors: the layers above (Namespace, BroadcastOperator) call only the methods of `Adapter`
 * below. A cluster adapter subclasses `Adapter`, keeps the local behaviour through `super`, and adds the
 * messages to other nodes. Methods that a cluster must answer asynchronously return Promises; the others
 * are fire-and-forget on the local node and forwarded to peers by the subclass.
 *
 * The adapter never touches transports: a broadcast packet is encoded once by the namespace's server
 * (`encodeForBroadcast`), and the opaque result is handed to each target client's `writeToEngine`.
 */
import { EventEmitter } from "node:events";

export type SocketId = string;
export type Room = string | number;

export interface BroadcastFlags {
  volatile?: boolean;
  compress?: boolean;
  local?: boolean;
  broadcast?: boolean;
  binary?: boolean;
  timeout?: number;
  /** Set by cluster adapters on requests coming from another node (never re-published). */
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

export interface WriteOptions {
  preEncoded?: boolean;
  volatile?: boolean;
  compress?: boolean;
}

/** What the adapter may ask of a socket: membership, delivery and a plain-data description. */
export interface AdapterSocket {
  readonly id: SocketId;
  readonly rooms: Set<Room>;
  readonly handshake: unknown;
  data: unknown;
  readonly client: { writeToEngine(encoded: unknown, opts: WriteOptions): void };
  readonly acks: Map<number, (...args: unknown[]) => void>;
  join(rooms: Room | Room[]): Promise<void> | void;
  leave(room: Room): Promise<void> | void;
  disconnect(close?: boolean): unknown;
  notifyOutgoingListeners?(packet: AdapterPacket): void;
}

/** What the adapter may ask of its namespace. */
export interface AdapterNamespace {
  readonly name: string;
  readonly sockets: Map<SocketId, AdapterSocket>;
  readonly server: {
    readonly encoder: { encode(packet: AdapterPacket): unknown };
    encodeForBroadcast?(packet: AdapterPacket): unknown;
  };
  /** Next broadcast ack id of this namespace. */
  _ids: number;
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

export interface Session {
  pid: string;
  id: SocketId;
  rooms: Room[];
  data: unknown;
  missedPackets: unknown[][];
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

  /** Sends a packet to every local socket matching `opts`; the packet is encoded once for all of them. */
  broadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    const writeOpts = this.writeOptions(opts);
    packet.nsp = this.nsp.name;
    const encoded = this.encode(packet);
    this.apply(opts, (socket) => {
      socket.notifyOutgoingListeners?.(packet);
      socket.client.writeToEngine(encoded, writeOpts);
    });
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
  ): void {
    const writeOpts = this.writeOptions(opts);
    packet.nsp = this.nsp.name;
    packet.id = this.nsp._ids++;
    const encoded = this.encode(packet);
    const id = packet.id;
    // With a timeout, the acks still awaited when it expires are forgotten: a late answer has nowhere to go.
    const timeout = opts.flags?.timeout;
    const awaiting: AdapterSocket[] | undefined = timeout === undefined ? undefined : [];
    let clientCount = 0;
    this.apply(opts, (socket) => {
      clientCount++;
      socket.acks.set(id, ack);
      awaiting?.push(socket);
      socket.notifyOutgoingListeners?.(packet);
      socket.client.writeToEngine(encoded, writeOpts);
    });
    clientCountCallback(clientCount);
    if (awaiting && awaiting.length > 0) {
      setTimeout(() => {
        for (const socket of awaiting) socket.acks.delete(id);
      }, timeout).unref();
    }
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

  /** Connection state recovery hooks; the in-memory adapter keeps no sessions. */
  persistSession(_session: Session): Promise<void> | void {}

  restoreSession(_pid: string, _offset: string): Promise<Session | null> {
    return Promise.resolve(null);
  }

  /** Calls `callback` once for each local socket matching `opts` (rooms, except). */
  protected apply(opts: BroadcastOptions, callback: (socket: AdapterSocket) => void): void {
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
          if (socket) callback(socket);
        }
      }
    } else {
      for (const [id, socket] of sockets) {
        if (except?.has(id)) continue;
        callback(socket);
      }
    }
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

  protected encode(packet: AdapterPacket): unknown {
    const server = this.nsp.server;
    return server.encodeForBroadcast
      ? server.encodeForBroadcast(packet)
      : server.encoder.encode(packet);
  }

  private writeOptions(opts: BroadcastOptions): WriteOptions {
    const flags = opts.flags ?? {};
    return { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
  }
}

/** The factory form of the `adapter` option: a class, or a function building one for a namespace. */
export type AdapterConstructor =
  (new (nsp: AdapterNamespace) => Adapter) | ((nsp: AdapterNamespace) => Adapter);
