/**
 * The Engine.IO protocol revision of a session, as one strategy object chosen at the handshake (`EIO` query
 * parameter) and kept on the session (`socket.protocol` is its version). Everything that differs between
 * revisions lives behind it: the polling payload codec, the WebSocket message form, the form of a prepared
 * (broadcast) message, and the heartbeat direction. Revision 4 is always spoken; revision 3 (socket.io-client 2.x)
 * when `allowEIO3` is set. Adding a revision means adding one more `EngineProtocol` here (see docs/design.md).
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
import {
  decodePayloadV3,
  decodeWebSocketV3,
  encodeForWebSocketV3,
  encodePayloadV3,
  encodeTextV3,
  frameTextV3,
} from "./packet-v3";
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
  /** Whether other incoming traffic extends a pending pong deadline (once per ping, as engine.io 6.6 does in v4). */
  readonly trafficExtendsDeadline: boolean;
}

export interface EngineProtocol {
  readonly version: ProtocolVersion;
  /**
   * Packets to one polling response body; `supportsBinary`: the client takes a binary body (revision 3 only, fixed
   * by the handshake's `b64`), in which case the body may be a Buffer.
   */
  encodePayload(packets: readonly Packet[], supportsBinary: boolean): RawData;
  /** A polling request body to packets (an `error` packet ends the list at the first bad packet). */
  decodePayload(body: RawData): Packet[];
  /** Whether a polling POST may carry a binary (`application/octet-stream`) body. */
  readonly binaryPayloads: boolean;
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
  trafficExtendsDeadline: true,
};

/**
 * Engine.IO 3: the client pings every `pingInterval`, the server answers with a pong (no data) and closes the
 * session when no ping came for `pingInterval + pingTimeout` (the session's heartbeat is a scheduler whose
 * "pong" delay is that sum, see Server._heartbeatFor). A pong from the client is a protocol error. Unlike
 * engine.io 6.6, the deadline survives the upgrade to WebSocket (engine.io loses it there: an upgraded v3 session
 * is never timed out); this is intended.
 */
const clientPings: HeartbeatStrategy = {
  start(session) {
    session.heartbeat.awaitPong(session.heartbeatNode);
  },
  onPing(session) {
    session.heartbeat.awaitPong(session.heartbeatNode);
    session.sendPacket("pong");
    session.heartbeatReceived();
  },
  onPong(session) {
    session.heartbeatFailed(new Error(EngineErrorMessages.INVALID_HEARTBEAT_DIRECTION));
  },
  trafficExtendsDeadline: false,
};

export const EIO4: EngineProtocol = {
  version: 4,
  encodePayload,
  decodePayload(body) {
    return decodePayload(typeof body === "string" ? body : body.toString());
  },
  binaryPayloads: false,
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

const MESSAGE_TYPE_BYTE = 4;

export const EIO3: EngineProtocol = {
  version: 3,
  encodePayload(packets, supportsBinary) {
    return encodePayloadV3(packets, supportsBinary, EIO3);
  },
  decodePayload: decodePayloadV3,
  binaryPayloads: true,
  encodeForWebSocket: encodeForWebSocketV3,
  decodeWebSocket: decodeWebSocketV3,
  frame(packet) {
    const data = packet.data;
    if (data === undefined || typeof data === "string")
      return frameText(TYPE_CODES[packet.type], data);
    return frameBinary(MESSAGE_TYPE_BYTE, data);
  },
  prepareForPolling(data) {
    // the text-payload frame, ready to be joined (a binary-capable client's binary form is built per flush)
    return frameTextV3(encodeTextV3({ type: "message", data }));
  },
  prepareForWebSocket(data) {
    return encodeForWebSocketV3({ type: "message", data });
  },
  heartbeat: clientPings,
};

/** The protocols by version; a version without an entry is not spoken. */
export const PROTOCOLS: Readonly<Partial<Record<ProtocolVersion, EngineProtocol>>> = {
  3: EIO3,
  4: EIO4,
};

/**
 * The protocol a handshake asks for (`EIO` query parameter), or undefined when it is not spoken: "4" is
 * revision 4, anything else (missing included) revision 3, spoken only with `allowEIO3`.
 */
export function protocolFor(
  eio: string | undefined,
  allowEIO3: boolean,
): EngineProtocol | undefined {
  if (eio === "4") return EIO4;
  return allowEIO3 ? EIO3 : undefined;
}

/** The revision a request names, as engine.io reads it for its errors and checks: 4 for "4", otherwise 3. */
export function requestedVersion(eio: string | undefined): ProtocolVersion {
  return eio === "4" ? 4 : 3;
}
