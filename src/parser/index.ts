/**
 * Socket.IO protocol v5 parser, with socket.io-parser 4.2's shape: the Server's
 * `parser` option accepts this module or any object of the same shape.
 */
export { protocol, PacketType, RESERVED_EVENTS, CLIENT_RESERVED_EVENTS } from "./types";
export type { Packet, Replacer, Reviver } from "./types";
export { Encoder } from "./encoder";
export { Decoder } from "./decoder";
export type { DecoderOptions } from "./decoder";
export { isBinary, hasBinary } from "./binary";
