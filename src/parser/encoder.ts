import createDebug from "debug";
import { deconstruct, hasBinary } from "./binary";
import { PacketType, type Packet, type Replacer } from "./types";

const debug = createDebug("switchyard:parser");

/**
 * Encodes packets to the Socket.IO v5 wire format:
 * `<type>[<attachments>-][<nsp>,][<id>][<json>]`, followed by one binary frame
 * per attachment for BINARY_EVENT / BINARY_ACK.
 */
export class Encoder {
  constructor(private readonly replacer?: Replacer) {}

  /**
   * Returns the frames of one packet: a single string, or for a packet carrying
   * binary data the string header followed by its attachments. EVENT and ACK
   * packets with binary anywhere in `data` become BINARY_EVENT / BINARY_ACK.
   */
  encode(packet: Packet): Array<string | Buffer> {
    const type = packet.type;
    if (type === PacketType.EVENT || type === PacketType.ACK) {
      if (hasBinary(packet.data)) {
        return this.encodeBinary(
          type === PacketType.EVENT ? PacketType.BINARY_EVENT : PacketType.BINARY_ACK,
          packet,
        );
      }
    } else if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
      return this.encodeBinary(type, packet);
    }
    const str = this.encodeString(type, undefined, packet.nsp, packet.id, packet.data);
    if (debug.enabled) debug("encoded %j as %s", packet, str);
    return [str];
  }

  private encodeBinary(type: PacketType, packet: Packet): Array<string | Buffer> {
    const frames: Array<string | Buffer> = [""];
    const buffers: Buffer[] = [];
    const data = deconstruct(packet.data, buffers);
    if (buffers.length === 0) {
      // BINARY_* requested without any binary in data: plain EVENT / ACK.
      const plain = type === PacketType.BINARY_EVENT ? PacketType.EVENT : PacketType.ACK;
      return [this.encodeString(plain, undefined, packet.nsp, packet.id, data)];
    }
    frames[0] = this.encodeString(type, buffers.length, packet.nsp, packet.id, data);
    for (const buffer of buffers) frames.push(buffer);
    if (debug.enabled)
      debug("encoded %j as %s + %d attachment(s)", packet, frames[0], buffers.length);
    return frames;
  }

  private encodeString(
    type: PacketType,
    attachments: number | undefined,
    nsp: string | undefined,
    id: number | undefined,
    data: unknown,
  ): string {
    let str = TYPE_PREFIX[type] ?? String(type);
    if (attachments !== undefined) str += attachments + "-";
    if (nsp && nsp !== "/") str += nsp + ",";
    if (id !== undefined && id !== null) str += id;
    if (data !== undefined && data !== null) {
      const json = JSON.stringify(data, this.replacer);
      if (json !== undefined) str += json;
    }
    return str;
  }
}

const TYPE_PREFIX: readonly string[] = ["0", "1", "2", "3", "4", "5", "6"];
