/**
 * Typed events: the four generics of `Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>` check event
 * names and argument types of `on`, `emit`, acks and `serverSideEmit` at compile time. At run time these classes
 * are plain EventEmitters.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- event maps hold arbitrary listener signatures, as socket.io's do */
import { EventEmitter } from "node:events";

export interface EventsMap {
  [event: string]: any;
}

/** The default map: any event name with any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);

export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

export type EventNamesWithAck<
  Map extends EventsMap,
  K extends EventNames<Map> = EventNames<Map>,
> = IfAny<
  Last<Parameters<Map[K]>> | Map[K],
  K,
  K extends (Last<Parameters<Map[K]>> extends (...args: any[]) => any ? K : never) ? K : never
>;

export type EventNamesWithoutAck<
  Map extends EventsMap,
  K extends EventNames<Map> = EventNames<Map>,
> = IfAny<
  Last<Parameters<Map[K]>> | Map[K],
  K,
  K extends (Parameters<Map[K]> extends never[] ? K : never)
    ? K
    : K extends (Last<Parameters<Map[K]>> extends (...args: any[]) => any ? never : K)
      ? K
      : never
>;

type IfAny<T, Y, N> = 0 extends 1 & T ? Y : N;

export type Last<T extends any[]> = T extends [...infer _H, infer L] ? L : any;
export type AllButLast<T extends any[]> = T extends [...infer H, infer _L] ? H : any[];
export type FirstArg<T> = T extends (arg: infer Param) => infer _Result ? Param : any;
export type SecondArg<T> = T extends (_err: Error, arg: infer Param) => infer _Result ? Param : any;

/** The listener type of an event: a reserved one when the name is reserved, else the user's. */
export type ReservedOrUserEventNames<Reserved extends EventsMap, User extends EventsMap> =
  EventNames<Reserved> | EventNames<User>;

export type ReservedOrUserListener<
  Reserved extends EventsMap,
  User extends EventsMap,
  Ev extends ReservedOrUserEventNames<Reserved, User>,
> = FallbackToUntypedListener<
  Ev extends EventNames<Reserved> ? Reserved[Ev] : Ev extends EventNames<User> ? User[Ev] : never
>;

type FallbackToUntypedListener<T> = [T] extends [never]
  ? (...args: any[]) => void | Promise<void>
  : T;

/** An ack callback receiving `(err, ...args)`: what `timeout(ms).emit(..., cb)` passes. */
export type DecorateAcknowledgements<E> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result
    ? (...args: PrependTimeoutError<Params>) => Result
    : E[K];
};

type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result
    ? (err: Error, ...args: Params) => Result
    : T[K];
};

/** For broadcasts with an ack: the callback receives every client's answer in an array. */
export type DecorateAcknowledgementsWithMultipleResponses<E> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result
    ? (...args: ExpectMultipleResponses<Params>) => Result
    : E[K];
};

type ExpectMultipleResponses<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result
    ? Params extends [Error]
      ? (err: Error) => Result
      : Params extends [Error, ...infer Rest]
        ? (err: Error, ...args: { [I in keyof Rest]: Rest[I][] }) => Result
        : Params extends []
          ? (err: Error) => Result
          : (err: Error, ...args: { [I in keyof Params]: Params[I][] }) => Result
    : T[K];
};

export type DecorateAcknowledgementsWithTimeoutAndMultipleResponses<E> =
  DecorateAcknowledgementsWithMultipleResponses<E>;

/**
 * An EventEmitter whose `on`/`once`/`off` accept the listen events plus the reserved ones, whose `emit` takes
 * the emit events, and whose internal `emitReserved` fires a reserved event.
 */
export abstract class StrictEventEmitter<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ReservedEvents extends EventsMap = never,
> extends EventEmitter {
  override on<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.on(ev, listener);
  }

  override once<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.once(ev, listener);
  }

  override off<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.off(ev, listener);
  }

  override removeListener<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
    listener: ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>,
  ): this {
    return super.removeListener(ev, listener);
  }

  override listeners<Ev extends ReservedOrUserEventNames<ReservedEvents, ListenEvents>>(
    ev: Ev,
  ): ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>[] {
    return super.listeners(ev) as ReservedOrUserListener<ReservedEvents, ListenEvents, Ev>[];
  }

  override emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    return super.emit(ev, ...args);
  }

  /** Fires a reserved event (connection, disconnect, ...) on this emitter's own listeners. */
  protected emitReserved<Ev extends EventNames<ReservedEvents>>(
    ev: Ev,
    ...args: EventParams<ReservedEvents, Ev>
  ): boolean {
    return super.emit(ev, ...args);
  }

  /** Fires any event on this emitter's own listeners, bypassing the typed `emit` (which may be overridden). */
  protected emitUntyped(ev: string, ...args: unknown[]): boolean {
    return super.emit(ev, ...args);
  }
}
