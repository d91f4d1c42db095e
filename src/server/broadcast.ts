/**
 * BroadcastOperator: an immutable selection of targets (rooms, exceptions, flags) and what can be done to it:
 * emit (with or without acks), and the utility methods socketsJoin, socketsLeave, disconnectSockets,
 * fetchSockets. Every operation goes through the namespace's adapter, so a cluster adapter extends it to all nodes.
 */
import createDebug from "debug";
import type {
  Adapter,
  BroadcastFlags,
  BroadcastOptions,
  Room,
  SocketDescription,
} from "../adapter/adapter";
import { PacketType, RESERVED_EVENTS } from "../parser";
import { ackPromise } from "./acks";
import { reservedEventError, timeoutError, toError } from "./errors";
import { RemoteSocket } from "./remote-socket";
import type { Socket } from "./socket";
import type {
  AllButLast,
  DecorateAcknowledgementsWithMultipleResponses,
  DefaultEventsMap,
  EventNames,
  EventNamesWithAck,
  EventParams,
  EventsMap,
  Last,
  SecondArg,
} from "./typed-events";

const debug = createDebug("switchyard:broadcast");

/**
 * Handles what an adapter method returned: nothing (done synchronously, the in-memory path: nothing more
 * happens), or a Promise whose rejection is reported on the adapter's `error` event (or the debug log when
 * nobody listens), never left unhandled.
 */
export function watchAdapterResult(adapter: Adapter, result: void | Promise<unknown>): void {
  if (result !== undefined)
    result.then(undefined, (err: unknown) => reportAdapterError(adapter, err));
}

function reportAdapterError(adapter: Adapter, err: unknown): void {
  if (adapter.listenerCount("error") > 0) adapter.emit("error", toError(err));
  else debug("adapter of %s failed: %o", adapter.nsp.name, err);
}

export class BroadcastOperator<
  EmitEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> {
  constructor(
    private readonly adapter: Adapter,
    private readonly rooms: Set<Room> = new Set(),
    private readonly exceptRooms: Set<Room> = new Set(),
    private readonly flags: BroadcastFlags = {},
  ) {}

  /** Targets the sockets in `room` (several calls or an array add rooms: a union). */
  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const rooms = new Set(this.rooms);
    addRooms(rooms, room);
    return new BroadcastOperator(this.adapter, rooms, this.exceptRooms, this.flags);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.to(room);
  }

  /** Excludes the sockets in `room`. */
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const exceptRooms = new Set(this.exceptRooms);
    addRooms(exceptRooms, room);
    return new BroadcastOperator(this.adapter, this.rooms, exceptRooms, this.flags);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ compress });
  }

  /** The packet may be lost: it is dropped for any client that cannot take it right now. */
  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ volatile: true });
  }

  /** Only the sockets of this node, in a cluster. */
  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ local: true });
  }

  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData> {
    return this.withFlags({ timeout }) as BroadcastOperator<
      DecorateAcknowledgementsWithMultipleResponses<EmitEvents>,
      SocketData
    >;
  }

  private withFlags(flags: BroadcastFlags): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator(this.adapter, this.rooms, this.exceptRooms, {
      ...this.flags,
      ...flags,
    });
  }

  private options(): BroadcastOptions {
    return { rooms: this.rooms, except: this.exceptRooms, flags: this.flags };
  }

  /**
   * Emits to every target. With a function as the last argument, it is called once with `(err, responses)`:
   * every target's answer, or a timeout error and the answers that came in time.
   */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean {
    if (typeof ev === "string" && RESERVED_EVENTS.has(ev)) throw reservedEventError(ev);
    const data: unknown[] = [ev, ...args];
    const packet = { type: PacketType.EVENT, nsp: "", data };
    const last = data[data.length - 1];
    if (typeof last !== "function") {
      const result = this.adapter.broadcast(packet, this.options());
      if (result !== undefined) watchAdapterResult(this.adapter, result);
      return true;
    }
    data.pop();
    this.emitWithAckCallback(packet, last as (err: Error | null, responses: unknown) => void);
    return true;
  }

  private emitWithAckCallback(
    packet: { type: number; nsp: string; data: unknown[] },
    ack: (err: Error | null, responses: unknown) => void,
  ): void {
    const single = this.flags.expectSingleResponse === true;
    const responses: unknown[] = [];
    let timedOut = false;
    let done = false;
    // A cluster answers in parts: each node reports how many clients it reached, and each client answers.
    let expectedServerCount = -1;
    let reportedServerCount = 0;
    let expectedClientCount = 0;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ack(err, single ? (err ? null : responses[0]) : responses);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish(timeoutError());
    }, this.flags.timeout);
    const checkCompleteness = () => {
      if (
        !timedOut &&
        expectedServerCount === reportedServerCount &&
        responses.length === expectedClientCount
      ) {
        finish(null);
      }
    };
    const result = this.adapter.broadcastWithAck(
      packet,
      this.options(),
      (clientCount) => {
        expectedClientCount += clientCount;
        reportedServerCount++;
        checkCompleteness();
      },
      (clientResponse) => {
        responses.push(clientResponse);
        checkCompleteness();
      },
    );
    if (result !== undefined) {
      // an adapter that failed to broadcast: reported, and the caller learns it at once
      result.then(undefined, (err: unknown) => {
        reportAdapterError(this.adapter, err);
        finish(toError(err));
      });
    }
    this.adapter.serverCount().then(
      (count) => {
        expectedServerCount = count;
        checkCompleteness();
      },
      (err: unknown) => finish(toError(err)),
    );
  }

  /** Like `emit` with an ack, as a Promise of every target's answer. */
  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<SecondArg<Last<EventParams<EmitEvents, Ev>>>> {
    return ackPromise(
      (callback) => (this.emit as (ev: Ev, ...rest: unknown[]) => boolean)(ev, ...args, callback),
      true,
      true,
    );
  }

  /** The ids of the target sockets (deprecated in socket.io in favour of fetchSockets). */
  allSockets(): Promise<Set<string>> {
    return this.adapter.sockets(this.rooms);
  }

  /** The target sockets: local Socket objects, and RemoteSocket descriptions of those on other nodes. */
  async fetchSockets(): Promise<Array<RemoteSocket<EmitEvents, SocketData> | Socket>> {
    const found = await this.adapter.fetchSockets(this.options());
    return found.map((socket) =>
      isLocalSocket(socket)
        ? (socket as unknown as Socket)
        : new RemoteSocket<EmitEvents, SocketData>(this.adapter, socket as SocketDescription),
    );
  }

  /** Makes the target sockets join `room`. */
  socketsJoin(room: Room | Room[]): void {
    watchAdapterResult(
      this.adapter,
      this.adapter.addSockets(this.options(), Array.isArray(room) ? room : [room]),
    );
  }

  /** Makes the target sockets leave `room`. */
  socketsLeave(room: Room | Room[]): void {
    watchAdapterResult(
      this.adapter,
      this.adapter.delSockets(this.options(), Array.isArray(room) ? room : [room]),
    );
  }

  /** Disconnects the target sockets; with `close`, their whole underlying connection too. */
  disconnectSockets(close = false): void {
    watchAdapterResult(this.adapter, this.adapter.disconnectSockets(this.options(), close));
  }
}

function addRooms(set: Set<Room>, room: Room | Room[]): void {
  if (Array.isArray(room)) for (const r of room) set.add(r);
  else set.add(room);
}

function isLocalSocket(socket: object): boolean {
  return "client" in socket && "nsp" in socket;
}
