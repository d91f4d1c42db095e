// Byte-exact comparison with the official socket.io-parser (a dependency of the dev package socket.io).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as official from "socket.io-parser";
import { Encoder, PacketType, type Packet } from "../../src/parser";
import { bytes, decodeFrames } from "./support";

type Frame = string | Buffer | ArrayBuffer | ArrayBufferView;

function normalize(frames: readonly unknown[]): Array<string | Buffer> {
  return frames.map((f) => (typeof f === "string" ? f : bytes(f as ArrayBuffer | ArrayBufferView)));
}

function officialDecode(frames: readonly Frame[]): unknown[] {
  const decoder = new official.Decoder();
  const out: unknown[] = [];
  decoder.on("decoded", (p: unknown) => out.push(p));
  for (const f of frames) decoder.add(f);
  return out;
}

const buf = (s: string) => Buffer.from(s);
const table: Array<[string, () => Packet]> = [
  ["CONNECT", () => ({ type: PacketType.CONNECT, nsp: "/" })],
  [
    "CONNECT with auth",
    () => ({ type: PacketType.CONNECT, nsp: "/", data: { token: "t", n: [1, 2] } }),
  ],
  [
    "CONNECT nsp + sid",
    () => ({ type: PacketType.CONNECT, nsp: "/admin", data: { sid: "abc", pid: "def" } }),
  ],
  ["DISCONNECT", () => ({ type: PacketType.DISCONNECT, nsp: "/" })],
  ["DISCONNECT nsp", () => ({ type: PacketType.DISCONNECT, nsp: "/admin" })],
  ["EVENT", () => ({ type: PacketType.EVENT, nsp: "/", data: ["message", 1, "2", { 3: [true] }] })],
  [
    "EVENT unicode",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["msg", 'héllo \u2028 😀 "q" \\'] }),
  ],
  [
    "EVENT nsp id",
    () => ({ type: PacketType.EVENT, nsp: "/chat", id: 99, data: ["hi", { a: null, b: [] }] }),
  ],
  ["EVENT id 0", () => ({ type: PacketType.EVENT, nsp: "/", id: 0, data: ["hi"] })],
  ["EVENT number name", () => ({ type: PacketType.EVENT, nsp: "/", data: [7, "x"] })],
  [
    "EVENT undefined args",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["e", undefined, { u: undefined }] }),
  ],
  ["EVENT date", () => ({ type: PacketType.EVENT, nsp: "/", data: ["e", new Date(0)] })],
  [
    "EVENT toJSON",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["e", { toJSON: () => ({ x: 1 }) }] }),
  ],
  ["EVENT Map", () => ({ type: PacketType.EVENT, nsp: "/", data: ["e", new Map([["k", 1]])] })],
  ["ACK", () => ({ type: PacketType.ACK, nsp: "/", id: 456, data: [] })],
  ["ACK nsp", () => ({ type: PacketType.ACK, nsp: "/chat", id: 1, data: ["ok", 2] })],
  ["CONNECT_ERROR string", () => ({ type: PacketType.CONNECT_ERROR, nsp: "/", data: "bad" })],
  [
    "CONNECT_ERROR object",
    () => ({
      type: PacketType.CONNECT_ERROR,
      nsp: "/random",
      data: { message: "Invalid namespace", data: { x: 1 } },
    }),
  ],
  [
    "BINARY EVENT Buffer",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["message", buf("a"), buf("bc")] }),
  ],
  [
    "BINARY EVENT ArrayBuffer",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["m", new Uint8Array([1, 2]).buffer] }),
  ],
  [
    "BINARY EVENT typed",
    () => ({
      type: PacketType.EVENT,
      nsp: "/x",
      id: 5,
      data: ["m", { f: new Float32Array([1.5]) }],
    }),
  ],
  [
    "BINARY EVENT DataView",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["m", [new DataView(new ArrayBuffer(3))]] }),
  ],
  [
    "BINARY EVENT nested",
    () => ({
      type: PacketType.EVENT,
      nsp: "/",
      data: ["m", { a: [1, { b: buf("x") }], c: buf("y"), d: "z" }, [buf("w")]],
    }),
  ],
  [
    "BINARY EVENT toJSON",
    () => ({ type: PacketType.EVENT, nsp: "/", data: ["m", { toJSON: () => [buf("j")] }] }),
  ],
  ["BINARY ACK", () => ({ type: PacketType.ACK, nsp: "/", id: 789, data: [buf("ack")] })],
  [
    "BINARY ACK nsp",
    () => ({ type: PacketType.ACK, nsp: "/n", id: 1, data: [null, { b: buf("ack") }] }),
  ],
];

for (const [name, make] of table) {
  test(`same bytes as socket.io-parser: ${name}`, () => {
    const ours = new Encoder().encode(make());
    const theirs = new official.Encoder().encode(make() as official.Packet);
    assert.deepEqual(normalize(ours), normalize(theirs));

    // each side decodes the other's output to the same packets
    const ourDecode = decodeFrames(theirs as Array<string | ArrayBuffer>);
    const theirDecode = officialDecode(ours);
    assert.equal(ourDecode.length, 1);
    assert.deepEqual(normalizeDecoded(ourDecode), normalizeDecoded(theirDecode));
  });
}

/** Official decoded attachments keep the kind they were given; ours are Buffers: compare bytes. */
function normalizeDecoded(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return bytes(value);
  if (Array.isArray(value)) return value.map(normalizeDecoded);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeDecoded(v);
    return out;
  }
  return value;
}

test("protocol test-suite wire examples decode as socket.io-parser decodes them", () => {
  const wires: Frame[][] = [
    ['42["message",1,"2",{"3":[true]}]'],
    ['42456["message"]'],
    ["43456[]"],
    ["40/random"],
    ["40/admin,"],
    ['40{"token":"123"}'],
    ["41"],
    [
      '452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
      buf("a"),
      buf("b"),
    ],
    ['462-789[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]', buf("a"), buf("b")],
  ];
  for (const frames of wires) {
    const sioFrames = frames.map((f) => (typeof f === "string" ? f.slice(1) : f)); // strip the engine.io "4"
    assert.deepEqual(
      normalizeDecoded(decodeFrames(sioFrames as Array<string | Buffer>)),
      normalizeDecoded(officialDecode(sioFrames)),
      String(frames[0]),
    );
  }
});
