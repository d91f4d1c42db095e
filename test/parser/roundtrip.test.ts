import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Decoder,
  Encoder,
  PacketType,
  hasBinary,
  isBinary,
  protocol,
  type Packet,
} from "../../src/parser";
import { bytes, decodeFrames } from "./support";

test("protocol is 5 and packet types have their wire numbers", () => {
  assert.equal(protocol, 5);
  assert.deepEqual(
    [
      PacketType.CONNECT,
      PacketType.DISCONNECT,
      PacketType.EVENT,
      PacketType.ACK,
      PacketType.CONNECT_ERROR,
      PacketType.BINARY_EVENT,
      PacketType.BINARY_ACK,
    ],
    [0, 1, 2, 3, 4, 5, 6],
  );
});

const encodings: Array<[Packet, string]> = [
  [{ type: PacketType.CONNECT, nsp: "/" }, "0"],
  [{ type: PacketType.CONNECT, nsp: "/admin" }, "0/admin,"],
  [{ type: PacketType.CONNECT, nsp: "/", data: { token: "abc" } }, '0{"token":"abc"}'],
  [{ type: PacketType.CONNECT, nsp: "/admin", data: { sid: "x" } }, '0/admin,{"sid":"x"}'],
  [{ type: PacketType.DISCONNECT, nsp: "/" }, "1"],
  [{ type: PacketType.DISCONNECT, nsp: "/admin" }, "1/admin,"],
  [
    { type: PacketType.EVENT, nsp: "/", data: ["message", 1, "2", { 3: [true] }] },
    '2["message",1,"2",{"3":[true]}]',
  ],
  [{ type: PacketType.EVENT, nsp: "/", id: 456, data: ["hello"] }, '2456["hello"]'],
  [
    { type: PacketType.EVENT, nsp: "/chat", id: 0, data: ["hello", null] },
    '2/chat,0["hello",null]',
  ],
  [{ type: PacketType.EVENT, nsp: "/", data: [42, "numeric event"] }, '2[42,"numeric event"]'],
  [{ type: PacketType.ACK, nsp: "/", id: 456, data: [] }, "3456[]"],
  [{ type: PacketType.ACK, nsp: "/chat", id: 7, data: ["ok", { a: 1 }] }, '3/chat,7["ok",{"a":1}]'],
  [{ type: PacketType.CONNECT_ERROR, nsp: "/", data: "nope" }, '4"nope"'],
  [
    { type: PacketType.CONNECT_ERROR, nsp: "/random", data: { message: "Invalid namespace" } },
    '4/random,{"message":"Invalid namespace"}',
  ],
];

for (const [packet, wire] of encodings) {
  test(`encodes and decodes ${wire}`, () => {
    const frames = new Encoder().encode(packet);
    assert.deepEqual(frames, [wire]);
    assert.deepEqual(decodeFrames(frames), [packet]);
  });
}

test("toJSON objects and Dates are encoded as JSON.stringify does", () => {
  const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
  const custom = { toJSON: (key: string) => ({ via: "toJSON", key }) };
  const [frame] = new Encoder().encode({
    type: PacketType.EVENT,
    nsp: "/",
    data: ["e", when, { custom }],
  });
  assert.equal(frame, JSON.stringify(["e", when, { custom }]).replace(/^/, "2"));
  assert.equal(
    frame,
    '2["e","2024-01-02T03:04:05.000Z",{"custom":{"via":"toJSON","key":"custom"}}]',
  );
});

test("a replacer and a reviver are applied", () => {
  const encoder = new Encoder((_key, value) => (typeof value === "number" ? value * 2 : value));
  const frames = encoder.encode({ type: PacketType.EVENT, nsp: "/", data: ["e", 1, 2] });
  assert.deepEqual(frames, ['2["e",2,4]']);
  const decoder = new Decoder({
    reviver: (_key, value) => (typeof value === "number" ? value + 1 : value),
  });
  assert.deepEqual(decodeFrames(frames, decoder), [
    { type: PacketType.EVENT, nsp: "/", data: ["e", 3, 5] },
  ]);
  const fnDecoder = new Decoder((_key, value) => (value === "e" ? "f" : value));
  assert.deepEqual(decodeFrames(frames, fnDecoder)[0]?.data, ["f", 2, 4]);
});

// --- binary -------------------------------------------------------------------------------------

const arrayBuffer = new Uint8Array([1, 2, 3, 4]).buffer;
const base = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
const binaryKinds: Array<[string, ArrayBuffer | ArrayBufferView]> = [
  ["Buffer", Buffer.from("hello")],
  ["ArrayBuffer", arrayBuffer],
  ["Uint8Array", new Uint8Array([255, 0, 127])],
  ["Uint8Array view with offset", base.subarray(3, 7)],
  ["Int16Array", new Int16Array([-1, 2, 300])],
  ["Float64Array", new Float64Array([Math.PI, -0])],
  ["DataView", new DataView(base.buffer, 2, 5)],
  ["empty Buffer", Buffer.alloc(0)],
];

for (const [kind, value] of binaryKinds) {
  test(`binary ${kind} in an event round-trips as a Buffer`, () => {
    assert.equal(isBinary(value), true);
    const frames = new Encoder().encode({
      type: PacketType.EVENT,
      nsp: "/",
      data: ["upload", value],
    });
    assert.equal(frames.length, 2);
    assert.equal(frames[0], '51-["upload",{"_placeholder":true,"num":0}]');
    assert.ok(Buffer.isBuffer(frames[1]));
    const [packet] = decodeFrames(frames);
    assert.ok(packet);
    assert.equal(packet.type, PacketType.EVENT);
    assert.equal(packet.attachments, undefined);
    const data = packet.data as unknown[];
    assert.ok(Buffer.isBuffer(data[1]));
    assert.deepEqual(data[1], bytes(value));
  });
}

test("binary in nested positions, with nsp and ack id, in events and acks", () => {
  const a = Buffer.from([1]);
  const b = new Uint8Array([2, 2]).buffer;
  const c = new Uint16Array([3]);
  const data = [
    "deep",
    { list: [1, a, { inner: [b] }], meta: { c, text: "x" } },
    [[[Buffer.from("z")]]],
  ];
  for (const type of [PacketType.EVENT, PacketType.ACK]) {
    const packet: Packet = { type, nsp: "/files", id: 12, data };
    const frames = new Encoder().encode(packet);
    const binType = type === PacketType.EVENT ? 5 : 6;
    assert.equal(
      frames[0],
      `${binType}4-/files,12["deep",{"list":[1,{"_placeholder":true,"num":0},{"inner":[{"_placeholder":true,"num":1}]}],` +
        `"meta":{"c":{"_placeholder":true,"num":2},"text":"x"}},[[[{"_placeholder":true,"num":3}]]]]`,
    );
    assert.equal(frames.length, 5);
    const out = decodeFrames(frames);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], {
      type,
      nsp: "/files",
      id: 12,
      data: [
        "deep",
        { list: [1, a, { inner: [bytes(b)] }], meta: { c: bytes(c), text: "x" } },
        [[[Buffer.from("z")]]],
      ],
    });
  }
  // the caller's data is not modified by encoding
  assert.ok(Buffer.isBuffer((data[1] as { list: unknown[] }).list[1]));
});

test("binary returned by toJSON is found and sent as an attachment", () => {
  const holder = { toJSON: () => ({ blob: Buffer.from("from-toJSON") }) };
  assert.equal(hasBinary(["e", holder]), true);
  const frames = new Encoder().encode({ type: PacketType.EVENT, nsp: "/", data: ["e", holder] });
  assert.equal(frames[0], '51-["e",{"blob":{"_placeholder":true,"num":0}}]');
  assert.deepEqual(decodeFrames(frames)[0]?.data, ["e", { blob: Buffer.from("from-toJSON") }]);
});

test("hasBinary and isBinary", () => {
  assert.equal(hasBinary(["a", 1, { b: [null, { c: "d" }] }]), false);
  assert.equal(hasBinary(["a", new Date()]), false);
  assert.equal(hasBinary(null), false);
  assert.equal(hasBinary("str"), false);
  assert.equal(hasBinary(Buffer.alloc(1)), true);
  assert.equal(hasBinary({ x: { y: [new Float32Array(1)] } }), true);
  assert.equal(isBinary({}), false);
  assert.equal(isBinary("x"), false);
  assert.equal(isBinary(new ArrayBuffer(0)), true);
});

test("a __proto__ key in binary data stays an own property on both sides", () => {
  const payload = JSON.parse('{"__proto__":{"polluted":true},"file":null}') as Record<
    string,
    unknown
  >;
  payload.file = Buffer.from("f");
  const frames = new Encoder().encode({ type: PacketType.EVENT, nsp: "/", data: ["e", payload] });
  assert.equal(
    frames[0],
    '51-["e",{"__proto__":{"polluted":true},"file":{"_placeholder":true,"num":0}}]',
  );
  const data = decodeFrames(frames)[0]?.data as [string, Record<string, unknown>];
  assert.deepEqual(Object.keys(data[1]), ["__proto__", "file"]);
  assert.equal(Object.getPrototypeOf(data[1]), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("BINARY_EVENT asked without binary is sent as a plain EVENT", () => {
  const frames = new Encoder().encode({ type: PacketType.BINARY_EVENT, nsp: "/", data: ["e", 1] });
  assert.deepEqual(frames, ['2["e",1]']);
});

test("two binary packets in a row on one decoder, and destroy() drops a partial one", () => {
  const encoder = new Encoder();
  const decoder = new Decoder();
  const out: Packet[] = [];
  decoder.on("decoded", (p: Packet) => out.push(p));
  const one = encoder.encode({
    type: PacketType.EVENT,
    nsp: "/",
    data: ["a", Buffer.from("1"), Buffer.from("2")],
  });
  const two = encoder.encode({ type: PacketType.ACK, nsp: "/", id: 3, data: [Buffer.from("3")] });
  for (const f of [...one, ...two]) decoder.add(f);
  assert.equal(out.length, 2);
  assert.deepEqual(out[1], { type: PacketType.ACK, nsp: "/", id: 3, data: [Buffer.from("3")] });
  decoder.add(one[0] as string);
  decoder.destroy();
  decoder.add('2["after"]');
  assert.deepEqual(out[2], { type: PacketType.EVENT, nsp: "/", data: ["after"] });
});
