/**
 * ParentNamespace: a dynamic namespace (`io.of(/^\/room-\d+$/)` or `io.of((name, auth, next) => ...)`). It
 * creates a child Namespace for each matching name a client asks for; its middlewares and connection listeners
 * apply to every child, and its broadcasts reach every child.
 */
import { Adapter, type AdapterPacket, type BroadcastOptions } from "../adapter/adapter";
import { watchAdapterResult } from "./broadcast";
import { parentFetchSocketsError } from "./errors";
import { Namespace } from "./namespace";
import type { RemoteSocket } from "./remote-socket";
import type { Server } from "./server";
import type { Socket } from "./socket";
import type { DefaultEventsMap, EventsMap } from "./typed-events";

let parentCount = 0;

/** The adapter of a parent: a broadcast goes to each child's adapter. */
class ParentBroadcastAdapter extends Adapter {
  constructor(private readonly parent: ParentNamespace) {
    super(parent);
  }

  override broadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    // with recovery on, each child's adapter appends its own offset to the data: each gets its own array
    const copyData = this.parent.server._recovery !== undefined && Array.isArray(packet.data);
    for (const child of this.parent.children) {
      const copy = { ...packet };
      if (copyData) copy.data = [...(packet.data as unknown[])];
      const result = child.adapter.broadcast(copy, opts);
      if (result !== undefined) watchAdapterResult(child.adapter, result);
    }
  }
}

export class ParentNamespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  readonly children = new Set<Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>();

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) {
    super(server, "/_" + parentCount++);
  }

  override _initAdapter(): void {
    this.adapter = new ParentBroadcastAdapter(this as unknown as ParentNamespace);
  }

  override fetchSockets(): Promise<
    Array<
      | RemoteSocket<EmitEvents, SocketData>
      | Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
    >
  > {
    // A parent has no sockets of its own; each child answers for its members.
    throw parentFetchSocketsError();
  }

  /** @internal Creates the child namespace `name`, inheriting middlewares and connection listeners. */
  createChild(name: string): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    const child = new Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(
      this.server,
      name,
    );
    child._fns = this._fns.slice();
    for (const event of ["connect", "connection"] as const) {
      for (const listener of this.listeners(event)) child.on(event, listener);
    }
    this.children.add(child);
    if (this.server._opts.cleanupEmptyChildNamespaces) {
      const remove = child._remove.bind(child);
      child._remove = (socket) => {
        remove(socket);
        if (child.sockets.size === 0) {
          void child.adapter.close();
          this.server._nsps.delete(child.name);
          this.children.delete(child);
        }
      };
    }
    this.server._nsps.set(name, child);
    this.server._onNewNamespace(child);
    return child;
  }
}
