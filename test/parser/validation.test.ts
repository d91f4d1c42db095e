import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CLIENT_RESERVED_EVENTS,
  Decoder,
  Encoder,
  PacketType,
  RESERVED_EVENTS,
  type Packet,
} from "../../src/parser";

type Chunk = string | Buffer | ArrayBuffer;

/** Feeds the chunks; returns the error thrown by the last one (earlier ones must be accepted). */
function failure(chunks: Chunk[], decoder = new Decoder()): unknown {
  const decoded: Packet[] = [];
  decoder.on("decoded", (p: Packet) => decoded.push(p));
  chunks.slice(0, -1).forEach((c) => decoder.add(c));
  try {
    decoder.add(chunks[chunks.length - 1] as Chunk);
  } catch (err) {
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(chunks.map(String))} as ${JSON.stringify(decoded)}`);
}

const ph = (num: unknown) => JSON.stringify({ _placeholder: true, num });
const b = Buffer.from("x");

const malformed: Array<[string, Chunk[], RegExp]> = [
  ["empty string", [""], /unknown packet type/],
  ["unknown type 7", ["7"], /unknown packet type "7"/],
  ["unknown type 9 with data", ['9["x"]'], /unknown packet type "9"/],
  ["type is a letter", ["a"], /unknown packet type "a"/],
  ["type is a space", [' 2["x"]'], /unknown packet type " "/],
  // namespaces
  ["namespace with a NUL", ["0/a\u0000b,"], /invalid namespace: control character U\+0000/],
  ["namespace with a newline", ['2/a\nb,["x"]'], /invalid namespace/],
  ["namespace with a lone surrogate", ["0/a\ud800,"], /lone surrogate/],
  ["namespace not starting with /", ['2chat,["x"]'], /invalid payload/],
  // ack ids
  ["ack id with letters", ['42abc["x"]'], /invalid payload/],
  ["ack id overlong", ['212345678901234567["x"]'], /invalid ack id: more than 16 digits/],
  ["ack id unsafe integer", ['29999999999999999["x"]'], /not a safe integer/],
  ["ack id on CONNECT", ["01{}"], /CONNECT packet has no ack id/],
  ["ack id on DISCONNECT", ["13"], /DISCONNECT packet has no ack id/],
  ["ack id on CONNECT_ERROR", ['45"x"'], /CONNECT_ERROR packet has no ack id/],
  // JSON
  ["invalid JSON", ['2["x"'], /invalid payload/],
  ["trailing junk after JSON", ['2["x"]]'], /invalid payload/],
  ["JSON of a CONNECT is junk", ["0abc"], /invalid payload/],
  // CONNECT
  ["CONNECT null", ["0null"], /CONNECT payload must be an object, got null/],
  ["CONNECT array", ["0[]"], /CONNECT payload must be an object, got Array/],
  ["CONNECT string", ['0"x"'], /CONNECT payload must be an object, got string/],
  ["CONNECT number", ["0/nsp,1.5"], /invalid payload/],
  ["CONNECT true", ["0true"], /CONNECT payload must be an object, got boolean/],
  ["CONNECT shadowing toString", ['0{"toString":"x"}'], /must not define "toString"/],
  ["CONNECT with __proto__", ['0{"__proto__":{"a":1}}'], /must not define "__proto__"/],
  // DISCONNECT
  ["DISCONNECT with object", ['1{"toString":"x"}'], /DISCONNECT packet has no payload/],
  ["DISCONNECT with string", ['1/nsp,"bye"'], /DISCONNECT packet has no payload/],
  // CONNECT_ERROR
  [
    "CONNECT_ERROR empty",
    ["4"],
    /CONNECT_ERROR payload must be a string or an object, got nothing/,
  ],
  ["CONNECT_ERROR number", ["41x"], /invalid payload/],
  ["CONNECT_ERROR null", ["4null"], /got null/],
  ["CONNECT_ERROR array", ["4[]"], /got Array/],
  ["CONNECT_ERROR toString", ['4{"toString":"x"}'], /must not define "toString"/],
  [
    "CONNECT_ERROR hasOwnProperty",
    ['4{"message":"m","hasOwnProperty":1}'],
    /must not define "hasOwnProperty"/,
  ],
  // EVENT
  ["EVENT without payload", ["2"], /event payload must be a non-empty array, got nothing/],
  ["EVENT with id but no payload", ["212"], /got nothing/],
  ["EVENT object payload", ["2{}"], /event payload must be a non-empty array, got Object/],
  ["EVENT empty array", ["2[]"], /non-empty array/],
  ["EVENT string payload", ['2"message"'], /got string/],
  [
    "EVENT name is an object",
    ['2[{"toString":"x"}]'],
    /event name must be a string or a number, got Object/,
  ],
  ["EVENT name is null", ["2[null]"], /got null/],
  ["EVENT name is an array", ['2[["x"]]'], /got Array/],
  ["EVENT name is a boolean", ["2[true]"], /got boolean/],
  ...[...CLIENT_RESERVED_EVENTS].map((name): [string, Chunk[], RegExp] => [
    `EVENT reserved "${name}"`,
    [`2["${name}",1]`],
    /is a reserved event name/,
  ]),
  [
    "nsp without comma swallows payload",
    ['2/chat["x"]'],
    /event payload must be a non-empty array, got nothing/,
  ],
  // ACK
  ["ACK without id", ["3[]"], /ACK packet needs an ack id/],
  ["ACK without payload", ["31"], /ACK payload must be an array, got nothing/],
  ["ACK object payload", ["31{}"], /ACK payload must be an array, got Object/],
  // attachments
  ["BINARY_EVENT no count", ['5["x"]'], /Illegal attachments/],
  ["BINARY_EVENT count without dash", ['51["x"]'], /Illegal attachments/],
  ["BINARY_EVENT negative count", ['5-1-["x"]'], /Illegal attachments/],
  ["BINARY_EVENT zero count", ['50-["x"]'], /Illegal attachments: BINARY_EVENT announces 0/],
  [
    "BINARY_EVENT count too large",
    [`511-["x",${ph(0)}]`],
    /too many attachments: 11 announced, max 10/,
  ],
  ["BINARY_EVENT absurd count", [`599999999999-["x"]`], /too many attachments/],
  ["BINARY_EVENT fractional count", ['51.5-["x"]'], /Illegal attachments/],
  ["BINARY_EVENT hex count", ['50x1-["x"]'], /Illegal attachments/],
  ["BINARY_EVENT only header", ["51-"], /got nothing/],
  ["BINARY_ACK without id", [`61-[${ph(0)}]`], /needs an ack id/],
  // placeholders
  ["placeholder num fractional", [`51-["x",${ph(0.5)}]`], /placeholder num 0.5/],
  ["placeholder num negative", [`51-["x",${ph(-1)}]`], /placeholder num -1/],
  [
    "placeholder num out of range",
    [`52-["x",${ph(2)}]`],
    /placeholder num 2 is not an integer in \[0, 1\]/,
  ],
  ["placeholder num a string", [`51-["x",${ph("0")}]`], /placeholder num "0"/],
  ["placeholder num null", [`51-["x",${ph(null)}]`], /placeholder num null/],
  ["placeholder num an object", [`51-["x",${ph({ valueOf: 0 })}]`], /placeholder num/],
  ["placeholder without num", ['51-["x",{"_placeholder":true}]'], /exactly the keys/],
  ["placeholder with junk", ['51-["x",{"_placeholder":true,"num":0,"x":1}]'], /exactly the keys/],
  [
    "placeholder with __proto__ junk",
    ['51-["x",{"_placeholder":true,"num":0,"__proto__":{}}]'],
    /exactly the keys/,
  ],
  [
    "placeholder as event name",
    [`51-[${ph(0)}]`],
    /event name must be a string or a number, got Object/,
  ],
  ["placeholder deep out of range", [`51-["x",{"a":[[{"b":${ph(1)}}]]}]`], /placeholder num 1/],
  // framing
  ["binary without header", [b], /got binary data when no binary packet was announced/],
  ["binary after a complete packet", [`51-["x",${ph(0)}]`, b, b], /no binary packet was announced/],
  [
    "string while attachments awaited",
    [`52-["x",${ph(0)},${ph(1)}]`, b, '2["y"]'],
    /\(1 of 2 received\)/,
  ],
  ["ArrayBuffer without header", [new ArrayBuffer(2)], /no binary packet/],
];

for (const [name, chunks, message] of malformed) {
  test(`refuses: ${name}`, () => {
    const err = failure(chunks);
    assert.ok(err instanceof Error, `threw a ${typeof err}, not an Error`);
    assert.match(err.message, message);
  });
}

test("refuses chunks that are neither strings nor binary", () => {
  for (const chunk of [1, null, undefined, {}, ["2"], true]) {
    const decoder = new Decoder();
    assert.throws(() => decoder.add(chunk as unknown as string), {
      name: "ParseError",
      message: /cannot decode a chunk/,
    });
  }
});

test("maxAttachments is configurable and validated", () => {
  const frame = `53-["x",${ph(0)},${ph(1)},${ph(2)}]`;
  assert.match((failure([frame], new Decoder({ maxAttachments: 2 })) as Error).message, /max 2/);
  const decoder = new Decoder({ maxAttachments: 3 });
  const out: Packet[] = [];
  decoder.on("decoded", (p: Packet) => out.push(p));
  for (const c of [frame, b, b, b]) decoder.add(c);
  assert.equal(out.length, 1);
  assert.throws(() => new Decoder({ maxAttachments: -1 }), TypeError);
  assert.throws(() => new Decoder({ maxAttachments: 1.5 }), TypeError);
});

test("after an error the decoder is clean: a valid packet decodes", () => {
  const decoder = new Decoder();
  const out: Packet[] = [];
  decoder.on("decoded", (p: Packet) => out.push(p));
  decoder.add(`51-["x",${ph(0)}]`);
  assert.throws(() => decoder.add('2["y"]'));
  decoder.add('2["z"]');
  assert.deepEqual(out, [{ type: PacketType.EVENT, nsp: "/", data: ["z"] }]);
});

test("accepted edge cases that socket.io accepts too", () => {
  const accepted: Array<[string, Packet]> = [
    ["40/random".slice(1), { type: PacketType.CONNECT, nsp: "/random" }],
    ["0/,", { type: PacketType.CONNECT, nsp: "/" }],
    [
      '0{"auth":{"toString":"nested is data"}}',
      { type: PacketType.CONNECT, nsp: "/", data: { auth: { toString: "nested is data" } } },
    ],
    ['2[1.5,"x"]', { type: PacketType.EVENT, nsp: "/", data: [1.5, "x"] }],
    ['2007["e"]', { type: PacketType.EVENT, nsp: "/", id: 7, data: ["e"] }],
    [
      '2["error_like","error"]',
      { type: PacketType.EVENT, nsp: "/", data: ["error_like", "error"] },
    ],
    [
      '2["x",{"_placeholder":true,"num":0}]',
      { type: PacketType.EVENT, nsp: "/", data: ["x", { _placeholder: true, num: 0 }] },
    ],
    ['2/ünï cødé 😀,["e"]', { type: PacketType.EVENT, nsp: "/ünï cødé 😀", data: ["e"] }],
    [
      '29007199254740991["e"]',
      { type: PacketType.EVENT, nsp: "/", id: Number.MAX_SAFE_INTEGER, data: ["e"] },
    ],
  ];
  for (const [wire, packet] of accepted) {
    const decoder = new Decoder();
    const out: Packet[] = [];
    decoder.on("decoded", (p: Packet) => out.push(p));
    decoder.add(wire);
    assert.deepEqual(out, [packet], wire);
  }
});

test("RESERVED_EVENTS is socket.io's list; CLIENT_RESERVED_EVENTS adds error", () => {
  assert.deepEqual(
    [...RESERVED_EVENTS].sort(),
    [
      "connect",
      "connect_error",
      "disconnect",
      "disconnecting",
      "newListener",
      "removeListener",
    ].sort(),
  );
  assert.deepEqual([...CLIENT_RESERVED_EVENTS].sort(), [...RESERVED_EVENTS, "error"].sort());
});

// --- prototype pollution ----------------------------------------------------------------------

function protoSnapshot(): string {
  return JSON.stringify([
    Object.getOwnPropertyNames(Object.prototype),
    Object.getOwnPropertyNames(Array.prototype),
  ]);
}

test("no prototype pollution through __proto__, constructor or prototype keys", () => {
  const before = protoSnapshot();
  const decoder = new Decoder();
  const out: Packet[] = [];
  decoder.on("decoded", (p: Packet) => out.push(p));
  const evil =
    `{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"prototype":{"polluted":3},` +
    `"nested":{"__proto__":${ph(0)}},"arr":[{"__proto__":${ph(1)}}]}`;
  decoder.add(`52-["e",${evil}]`);
  decoder.add(Buffer.from("zero"));
  decoder.add(Buffer.from("one"));
  decoder.add('2["e",{"__proto__":{"polluted":4},"constructor":{"prototype":{"polluted":5}}}]');
  decoder.add('3/n,1[{"__proto__":{"polluted":6}}]');
  assert.equal(out.length, 3);
  assert.equal(protoSnapshot(), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);

  const data = (out[0] as Packet).data as [string, Record<string, Record<string, unknown>>];
  const nested = data[1].nested as Record<string, unknown>;
  // the attachment replaced the placeholder as an own property, the prototype is untouched
  assert.ok(Object.prototype.hasOwnProperty.call(nested, "__proto__"));
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(nested, "__proto__")?.value,
    Buffer.from("zero"),
  );
  assert.equal(Object.getPrototypeOf(nested), Object.prototype);
  const arrItem = (data[1].arr as unknown as Array<Record<string, unknown>>)[0] as Record<
    string,
    unknown
  >;
  assert.deepEqual(
    Object.getOwnPropertyDescriptor(arrItem, "__proto__")?.value,
    Buffer.from("one"),
  );
  assert.equal(Object.getPrototypeOf(arrItem), Object.prototype);
  assert.equal(Object.getPrototypeOf(data[1]), Object.prototype);
});

// --- fuzz -------------------------------------------------------------------------------------

/** Small deterministic PRNG (mulberry32) so a failure can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = '0123456789-/,[]{}":_.eE+ \\u\u0000\ud800abcnulltrue_placeholdernum';

function mutate(s: string, rand: () => number): string {
  const pick = () => Math.floor(rand() * (s.length + 1));
  const ch = () => ALPHABET.charAt(Math.floor(rand() * ALPHABET.length));
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    const at = pick();
    switch (Math.floor(rand() * 5)) {
      case 0:
        s = s.slice(0, at) + ch() + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1);
        break;
      case 2:
        s = s.slice(0, at) + ch() + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(at, at + 1 + Math.floor(rand() * 8)).repeat(2) + s.slice(at);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

function isValidDecoded(p: Packet): boolean {
  if (typeof p.nsp !== "string" || !p.nsp.startsWith("/")) return false;
  if (p.id !== undefined && !Number.isSafeInteger(p.id)) return false;
  if (p.attachments !== undefined) return false;
  switch (p.type) {
    case PacketType.CONNECT:
      return (
        p.data === undefined ||
        (typeof p.data === "object" && p.data !== null && !Array.isArray(p.data))
      );
    case PacketType.DISCONNECT:
      return p.data === undefined && p.id === undefined;
    case PacketType.CONNECT_ERROR:
      return (
        typeof p.data === "string" ||
        (typeof p.data === "object" && p.data !== null && !Array.isArray(p.data))
      );
    case PacketType.EVENT: {
      const d = p.data;
      return (
        Array.isArray(d) &&
        (typeof d[0] === "number" ||
          (typeof d[0] === "string" && !CLIENT_RESERVED_EVENTS.has(d[0])))
      );
    }
    case PacketType.ACK:
      return Array.isArray(p.data) && p.id !== undefined;
    default:
      return false; // BINARY_* are never emitted as such
  }
}

test("fuzz: mutated valid encodings either decode to a valid packet or throw an Error", () => {
  const encoder = new Encoder();
  const seeds: Array<Array<string | Buffer>> = [
    { type: PacketType.CONNECT, nsp: "/", data: { token: "abc" } },
    { type: PacketType.CONNECT, nsp: "/admin" },
    { type: PacketType.DISCONNECT, nsp: "/chat" },
    { type: PacketType.EVENT, nsp: "/", data: ["message", 1, "2", { 3: [true] }] },
    { type: PacketType.EVENT, nsp: "/chat", id: 12, data: ["hello", null, { a: [1, 2] }] },
    { type: PacketType.ACK, nsp: "/", id: 456, data: ["ok"] },
    { type: PacketType.CONNECT_ERROR, nsp: "/x", data: { message: "Invalid namespace" } },
    { type: PacketType.EVENT, nsp: "/", data: ["up", Buffer.from("a"), { b: [Buffer.from("b")] }] },
    { type: PacketType.ACK, nsp: "/n", id: 3, data: [Buffer.from("c")] },
  ].map((p) => encoder.encode(p as Packet));

  const before = protoSnapshot();
  const seed = 0x5eed;
  const rand = prng(seed);
  let decodedCount = 0;
  let errorCount = 0;
  for (let iter = 0; iter < 5000; iter++) {
    const frames = [...(seeds[Math.floor(rand() * seeds.length)] as Array<string | Buffer>)];
    frames[0] = mutate(frames[0] as string, rand);
    if (rand() < 0.2 && frames.length > 1)
      frames.splice(1 + Math.floor(rand() * (frames.length - 1)), 1);
    if (rand() < 0.1) frames.push(Buffer.from("extra"));
    const decoder = new Decoder();
    const out: Packet[] = [];
    decoder.on("decoded", (p: Packet) => out.push(p));
    for (const frame of frames) {
      try {
        decoder.add(frame);
      } catch (err) {
        assert.ok(
          err instanceof Error,
          `iteration ${iter} (seed ${seed}): threw a non-Error for ${String(frames[0])}`,
        );
        errorCount++;
        break;
      }
    }
    decoder.destroy();
    for (const p of out) {
      assert.ok(
        isValidDecoded(p),
        `iteration ${iter} (seed ${seed}): invalid packet ${JSON.stringify(p)} from ${String(frames[0])}`,
      );
      decodedCount++;
    }
  }
  assert.equal(protoSnapshot(), before);
  // the mutations exercised both outcomes
  assert.ok(decodedCount > 100, `only ${decodedCount} decoded`);
  assert.ok(errorCount > 1000, `only ${errorCount} errors`);
});
