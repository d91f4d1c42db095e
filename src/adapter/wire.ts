/**
 * What travels between the nodes of a cluster, in the official adapters' forms: the ClusterAdapter message
 * types and envelope, broadcast options, packets and socket descriptions, and the ids of the ClusterAdapter
 * family.
 */
import { randomBytes } from "node:crypto";
import type {
  AdapterPacket,
  AdapterSocket,
  BroadcastFlags,
  BroadcastOptions,
  Room,
  SocketDescription,
} from "./adapter";

/** Message types of the ClusterAdapter protocol (socket.io-adapter 2.5). */
export const MessageType = {
  INITIAL_HEARTBEAT: 1,
  HEARTBEAT: 2,
  BROADCAST: 3,
  SOCKETS_JOIN: 4,
  SOCKETS_LEAVE: 5,
  DISCONNECT_SOCKETS: 6,
  FETCH_SOCKETS: 7,
  FETCH_SOCKETS_RESPONSE: 8,
  SERVER_SIDE_EMIT: 9,
  SERVER_SIDE_EMIT_RESPONSE: 10,
  BROADCAST_CLIENT_COUNT: 11,
  BROADCAST_ACK: 12,
  ADAPTER_CLOSE: 13,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The uid the official emitters put on their messages; no node has it. */
export const EMITTER_UID = "emitter";

/** Broadcast options as they travel: arrays instead of Sets. */
export interface WireOptions {
  rooms: Room[];
  except: Room[];
  flags?: BroadcastFlags;
}

/** A message between nodes: `{type, data, uid, nsp}` (this key order is the official one). */
export interface ClusterMessage {
  type: number;
  data?: Record<string, unknown>;
  uid?: string;
  nsp?: string;
}

/**
 * Broadcast options as they travel, the one place they are built. The official adapters differ on `flags`:
 * the ClusterAdapter protocol sends them as they are, the classic Redis broadcast sends `{}` when there are
 * none, and its socketsJoin / socketsLeave / disconnectSockets / fetchSockets requests send no flags at all.
 */
export function encodeOptions(
  opts: BroadcastOptions,
  flags: "as-is" | "or-empty" | "none" = "as-is",
): WireOptions {
  const rooms = [...opts.rooms];
  const except = [...(opts.except ?? [])];
  if (flags === "none") return { rooms, except };
  return { rooms, except, flags: flags === "or-empty" ? (opts.flags ?? {}) : opts.flags };
}

/** Rebuilds broadcast options from the wire, ignoring anything that is not an array of rooms. */
export function decodeOptions(raw: unknown): BroadcastOptions {
  const obj = isRecord(raw) ? raw : {};
  const flags = isRecord(obj.flags) ? (obj.flags as BroadcastFlags) : {};
  return { rooms: new Set(roomList(obj.rooms)), except: new Set(roomList(obj.except)), flags };
}

export function roomList(raw: unknown): Room[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((r): r is Room => typeof r === "string" || typeof r === "number");
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** 16 hex characters: the uid and request id format of the ClusterAdapter family. */
export function randomHexId(): string {
  return randomBytes(8).toString("hex");
}

/** What other nodes learn of a socket (fetchSockets): the handshake without `sessionStore`, rooms as an array. */
export function describeSocket(socket: AdapterSocket | SocketDescription): SocketDescription {
  let handshake = socket.handshake;
  if (isRecord(handshake) && "sessionStore" in handshake) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(handshake))
      if (key !== "sessionStore") copy[key] = handshake[key];
    handshake = copy;
  }
  return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
}

/** The packet as the official adapters put it on the wire: `{type, data}` (+ `nsp` where they set it first). */
export function wirePacket(packet: AdapterPacket, nsp?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { type: packet.type, data: packet.data };
  if (nsp !== undefined) out.nsp = nsp;
  return out;
}

/** A packet received from another node, checked: an object with a numeric type; `nsp` defaults to ours. */
export function toPacket(raw: unknown, nsp: string): AdapterPacket | undefined {
  if (!isRecord(raw) || typeof raw.type !== "number") return undefined;
  const packet: AdapterPacket = { type: raw.type, nsp, data: raw.data };
  return packet;
}
