/**
 * The `node:diagnostics_channel` channels Switchyard publishes on, for tracers (OpenTelemetry and the like), the
 * metrics collector (`switchyard/metrics`) and anyone else who wants to watch without patching. The channel
 * names and message shapes are documented in docs/observability.md.
 *
 * Every publication point is guarded by `channel.hasSubscribers`: without a subscriber no message object is
 * built and nothing is timed, so the hot paths pay one property read.
 */
import diagnostics from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import type { Adapter, BroadcastOptions } from "./adapter/adapter";
import type { Packet as EnginePacket } from "./engine/packet";
import type { Socket as EngineSocket } from "./engine/socket";
import type { Socket } from "./server/socket";

/** The channel names, one place. */
export const ChannelName = {
  ENGINE_OPEN: "switchyard:engine:open",
  ENGINE_REFUSED: "switchyard:engine:refused",
  ENGINE_UPGRADE: "switchyard:engine:upgrade",
  ENGINE_CLOSE: "switchyard:engine:close",
  ENGINE_PACKET_IN: "switchyard:engine:packet:in",
  ENGINE_PACKET_OUT: "switchyard:engine:packet:out",
  CONNECTION: "switchyard:connection",
  DISCONNECT: "switchyard:disconnect",
  EVENT_IN: "switchyard:event:in",
  EVENT_OUT: "switchyard:event:out",
  ACK: "switchyard:ack",
  BROADCAST: "switchyard:broadcast",
  ADAPTER_REQUEST: "switchyard:adapter:request",
  ADAPTER_ERROR: "switchyard:adapter:error",
} as const;

/** An Engine.IO session opened (after the handshake). */
export interface EngineOpenMessage {
  socket: EngineSocket;
  transport: string;
}

/** A request was refused with one of the engine's error codes (0-5), as `connection_error` tells it. */
export interface EngineRefusedMessage {
  server: object;
  req: IncomingMessage;
  code: number;
  message: string;
  context: Record<string, unknown>;
}

/** A session moved to another transport. */
export interface EngineUpgradeMessage {
  socket: EngineSocket;
  from: string;
  to: string;
}

/** A session closed ("transport close", "ping timeout", "forced close", ...). */
export interface EngineCloseMessage {
  socket: EngineSocket;
  reason: string;
  transport: string;
}

/** An engine packet received on a session (ping, pong, message, ...). */
export interface EnginePacketInMessage {
  socket: EngineSocket;
  packet: EnginePacket;
}

/** Engine packets handed to the session's transport in one write. */
export interface EnginePacketOutMessage {
  socket: EngineSocket;
  packets: readonly EnginePacket[];
}

/**
 * @internal The collector's cheap path for engine packets: a fixed-shape counter the engine server holds
 * (`_trafficCounter`) and calls on every packet received and every write, with no message object and no
 * channel dispatch (a fan-out to N sockets is N writes). Undefined without a collector: the engine then pays
 * one property read per packet and per write. Other subscribers keep `switchyard:engine:packet:in` and
 * `switchyard:engine:packet:out`, which are still published whenever they have subscribers.
 */
export interface EngineTrafficCounter {
  countIn(transport: string, packet: EnginePacket): void;
  countOut(transport: string, packets: readonly EnginePacket[]): void;
  /**
   * One packet sent that is no object any more (a lagging session's packets kept as bytes, packet-spill.ts):
   * its type and the bytes `countOut` would have measured for it (its data's bytes plus one).
   */
  countOutBytes(transport: string, type: EnginePacket["type"], bytes: number): void;
}

/**
 * @internal The collector's cheap path for events: a counter the Socket.IO server holds (`_eventCounter`) and
 * calls with the event name of every event received and every `socket.emit`, instead of a channel message
 * (which copies the arguments). Undefined without a collector. `switchyard:event:in` and
 * `switchyard:event:out` are still published whenever they have subscribers.
 */
export interface EventCounter {
  countIn(event: unknown): void;
  countOut(event: string): void;
}

/** A Socket.IO socket joined its namespace (after the namespace's middlewares). */
export interface ConnectionMessage {
  socket: Socket;
}

/** A Socket.IO socket left its namespace, with socket.io's reason. */
export interface DisconnectMessage {
  socket: Socket;
  reason: string;
}

/** An event received from the client (`ackId` when the client waits for an answer). */
export interface EventInMessage {
  socket: Socket;
  event: unknown;
  args: readonly unknown[];
  ackId: number | undefined;
}

/** An event sent to one client with `socket.emit` (`ackId` when the server waits for an answer). */
export interface EventOutMessage {
  socket: Socket;
  event: string;
  args: readonly unknown[];
  ackId: number | undefined;
}

/** The client answered an ack of `socket.emit`, or the `timeout(ms)` expired first (`timedOut`). */
export interface AckMessage {
  socket: Socket;
  event: string;
  durationMs: number;
  timedOut: boolean;
}

/** A broadcast delivered on this node: `recipients` is the number of local sockets written to. */
export interface BroadcastMessage {
  adapter: Adapter;
  namespace: string;
  packet: { type: number; nsp: string; data?: unknown; id?: number };
  options: BroadcastOptions;
  recipients: number;
}

/** How a request to the other nodes of a cluster ended. */
export type AdapterRequestOutcome = "complete" | "timeout" | "aborted";

/** A request to the other nodes of a cluster ended. */
export interface AdapterRequestMessage {
  adapter: Adapter;
  namespace: string;
  /** The request's name in the cluster protocol, lower case: "fetch_sockets", "server_side_emit", ... */
  type: string;
  requestId: string;
  expected: number;
  received: number;
  durationMs: number;
  outcome: AdapterRequestOutcome;
}

/** An adapter failed (what its `error` event reports, whether or not anyone listens). */
export interface AdapterErrorMessage {
  adapter: Adapter;
  namespace: string;
  error: Error;
}

export const channels = {
  engineOpen: diagnostics.channel(ChannelName.ENGINE_OPEN),
  engineRefused: diagnostics.channel(ChannelName.ENGINE_REFUSED),
  engineUpgrade: diagnostics.channel(ChannelName.ENGINE_UPGRADE),
  engineClose: diagnostics.channel(ChannelName.ENGINE_CLOSE),
  enginePacketIn: diagnostics.channel(ChannelName.ENGINE_PACKET_IN),
  enginePacketOut: diagnostics.channel(ChannelName.ENGINE_PACKET_OUT),
  connection: diagnostics.channel(ChannelName.CONNECTION),
  disconnect: diagnostics.channel(ChannelName.DISCONNECT),
  eventIn: diagnostics.channel(ChannelName.EVENT_IN),
  eventOut: diagnostics.channel(ChannelName.EVENT_OUT),
  ack: diagnostics.channel(ChannelName.ACK),
  broadcast: diagnostics.channel(ChannelName.BROADCAST),
  adapterRequest: diagnostics.channel(ChannelName.ADAPTER_REQUEST),
  adapterError: diagnostics.channel(ChannelName.ADAPTER_ERROR),
};

/**
 * Wraps the ack of `socket.emit(event, ..., ack)` to publish its round trip on `switchyard:ack`; called only
 * when that channel has subscribers. With a `timeout`, the ack's first argument is the timeout error or null.
 */
export function timedAck(
  socket: Socket,
  event: string,
  ack: (...args: unknown[]) => void,
  withTimeout: boolean,
): (...args: unknown[]) => void {
  const start = performance.now();
  return function (this: unknown, ...args: unknown[]): void {
    if (channels.ack.hasSubscribers) {
      const message: AckMessage = {
        socket,
        event,
        durationMs: performance.now() - start,
        timedOut: withTimeout && args[0] instanceof Error,
      };
      channels.ack.publish(message);
    }
    ack.apply(this, args);
  };
}
