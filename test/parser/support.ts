import { Decoder, type Packet } from "../../src/parser";

/** Feeds frames to a fresh decoder and returns every packet it emitted. */
export function decodeFrames(
  frames: ReadonlyArray<string | Buffer | ArrayBuffer>,
  decoder = new Decoder(),
): Packet[] {
  const out: Packet[] = [];
  decoder.on("decoded", (packet: Packet) => out.push(packet));
  for (const frame of frames) decoder.add(frame);
  return out;
}

/** The bytes of any binary value, as a Buffer copy. */
export function bytes(value: ArrayBuffer | ArrayBufferView): Buffer {
  if (value instanceof ArrayBuffer) return Buffer.from(new Uint8Array(value));
  return Buffer.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
}
