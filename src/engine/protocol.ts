/**
 * The Engine.IO protocol revision of a session, as one strategy object chosen at the handshake (`EIO` query
 * parameter) and kept on the session (`socket.protocol` is its version). Everything that differs between
 * revisions lives behind it: the polling payload codec, the WebSocket message form, the form of a prepared
 * (broadcast) message, and the heartbeat direction. Today only revision 4 exists; adding revision 3 means adding
 * one more `EngineProtocol` to `PROTOCOLS` (and accepting it in `protocolFor` when `allowEIO3` is set).
 */
import { EngineErrorMessages } from "./errors";
import type { Packet, PacketType, RawData } from "./packet";
import {
  decodePayload,
  decodeWebSocketMessage,
  encodeForWebSocket,
  encodePayload,
  TYPE_CODES,
} from "./packet";
import { type Frame, frameBinary, frameText } from "./frame";
import type { Heartbeat, HeartbeatNode } from "./heartbeat";

export type ProtocolVersion = 3 | 4;

/** What a heartbeat strategy may do to a session (implemented by the engine Socket). */
export interface HeartbeatSession {
  readonly heartbeatNode: HeartbeatNode;
  readonly heartbeat: Heartbeat;
  sendPacket(type: PacketType, data?: RawData): void;
  /** Ends the session: the peer broke the heartbeat rules. */
  heartbeatFailed(err: Error): void;
  /** The peer showed it is alive (engine.io's `heartbeat` event). */
  heartbeatReceived(): void;
}

/** Who pings whom, and what a ping or pong from the client means. */
export interface HeartbeatStrategy {
  /** The session opened. */
  start(session: HeartbeatSession): void;
  /** The client sent a ping. */
  onPing(session: HeartbeatSession, packet: Packet): void;
  /** The client sent a pong. */
  onPong(session: HeartbeatSession, packet: Packet): void;
}

export interface EngineProtocol {
  readonly version: ProtocolVersion;
  /** Packets to one polling response body. */
  encodePayload(packets: readonly Packet[]): string;
  /** A polling request body to packets (an `error` packet ends the list at the first bad packet). */
  decodePayload(body: string): Packet[];
  /** A packet as one WebSocket message (string: text frame; Buffer: binary frame). */
  encodeForWebSocket(packet: Packet): RawData;
  /** A WebSocket message to a packet. */
  decodeWebSocket(data: RawData): Packet;
  /** A packet as one complete WebSocket frame (fast path, perMessageDeflate off). */
  frame(packet: Packet): Frame;
  /** A message's packet in polling form (cached per protocol by PreparedMessage). */
  prepareForPolling(data: RawData): string;
  /** A message's packet in WebSocket form (cached per protocol by PreparedMessage). */
  prepareForWebSocket(data: RawData): RawData;
  readonly heartbeat: HeartbeatStrategy;
}

/** Engine.IO 4: the server pings, the client answers; a ping from the client is a protocol error. */
const serverPings: HeartbeatStrategy = {
  start(session) {
    session.heartbeat.schedulePing(session.heartbeatNode);
  },
  onPing(session) {
    session.heartbeatFailed(new Error(EngineErrorMessages.INVALID_HEARTBEAT_DIRECTION));
  },
  onPong(session) {
    session.heartbeat.schedulePing(session.heartbeatNode);
    session.heartbeatReceived();
  },
};

export const EIO4: EngineProtocol = {
  version: 4,
  encodePayload,
  decodePayload,
  encodeForWebSocket,
  decodeWebSocket: decodeWebSocketMessage,
  frame(packet) {
    const data = packet.data;
    if (data === undefined || typeof data === "string")
      return frameText(TYPE_CODES[packet.type], data);
    return frameBinary(-1, data);
  },
  prepareForPolling(data) {
    return typeof data === "string" ? "4" + data : "b" + data.toString("base64");
  },
  prepareForWebSocket(data) {
    return typeof data === "string" ? "4" + data : data;
  },
  heartbeat: serverPings,
};

/** The protocols by version; a version without an entry is not spoken. */
export const PROTOCOLS: Readonly<Partial<Record<ProtocolVersion, EngineProtocol>>> = { 4: EIO4 };

/**
 * The protocol a handshake asks for (`EIO` query parameter), or undefined when it is not spoken. `allowEIO3` is
 * accepted and, as before, changes nothing: no revision 3 is registered yet.
 */
export function protocolFor(
  eio: string | undefined,
  _allowEIO3: boolean,
): EngineProtocol | undefined {
  if (eio === "4") return EIO4;
  return undefined;
}

/** The revision a request names, as engine.io reads it for its errors and checks: 4 for "4", otherwise 3. */
export function requestedVersion(eio: string | undefined): ProtocolVersion {
  return eio === "4" ? 4 : 3;
}
