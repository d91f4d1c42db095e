// Micro-benchmark: notepack.io (the Redis adapters' MessagePack codec, as the official adapter's)
// against msgpackr, on the messages the classic Redis adapter publishes, with a byte-for-byte
// check first: a codec can only replace notepack.io where every message encodes to the same bytes
// (official nodes read them) and every message decodes to the same value.
//
//   npm install --no-save msgpackr@2.1.3     # not a dependency: only this measurement uses it
//   node bench/codec-micro.mjs [iterations]
//
// The cases are interleaved round by round so that noise from a shared machine hits them alike;
// the median of the rounds is reported.
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";

const require = createRequire(import.meta.url);
const notepack = require("notepack.io");
const { Packr, Unpackr } = require("msgpackr");

const iterations = Number(process.argv[2] ?? 100_000);
const ROUNDS = 7;

// msgpackr's options closest to notepack.io: plain maps (no records), the smallest map header.
const packr = new Packr({ useRecords: false, variableMapSize: true });
// 64-bit integers (timestamps in ms) as numbers, as notepack.io reads them, not BigInts.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

const uid = "Xk3f9a";
const opts = (rooms) => ({ rooms, except: [], flags: {} });
// The classic adapter's broadcast envelope: [uid, packet, opts].
const broadcast = (data, rooms = ["room-42"]) => [uid, { type: 2, data, nsp: "/" }, opts(rooms)];
const MESSAGES = {
  "tick (bench fan-out)": broadcast(["tick", { seq: 1234, t: 1700000000000, pad: "x".repeat(48) }]),
  "chat message": broadcast([
    "chat message",
    { user: "alice", text: "hello everyone in the room!", ts: 1700000000000, seq: 42 },
  ]),
  "small ints only": broadcast(["move", { x: 12, y: -3, id: 70000 }], ["game-7"]),
  float: broadcast(["price", { bid: 101.25, ask: 101.5 }]),
  "binary (64 B)": broadcast(["file", { name: "a.bin", body: Buffer.alloc(64, 7) }]),
  "long text (1 KiB)": broadcast(["doc", { text: "é".repeat(512) }]),
  "null and nested": broadcast(["state", { a: null, b: [true, false, [1, [2, [3]]]], c: {} }]),
  "broadcast with ack": {
    uid,
    requestId: "r-8f2a1c",
    type: 7,
    packet: { type: 2, data: ["ping", 1], nsp: "/" },
    opts: opts(["room-42"]),
  },
};

// Byte identity and round trips, both ways.
const identical = {};
for (const [name, msg] of Object.entries(MESSAGES)) {
  const a = notepack.encode(msg);
  const b = packr.pack(msg);
  const sameBytes = Buffer.compare(a, b) === 0;
  const decodedAlike = isDeepStrictEqual(notepack.decode(a), unpackr.unpack(a));
  identical[name] = { sameBytes, decodedAlike };
  if (!sameBytes) {
    const at = [...a].findIndex((x, i) => x !== b[i]);
    identical[name].firstDifference =
      `byte ${at}: notepack ${a.subarray(at, at + 9).toString("hex")}, msgpackr ${b.subarray(at, at + 9).toString("hex")}`;
  }
}

let sink = 0;
// CPU time rather than wall time: on a loaded machine the wall clock counts the time others ran.
function time(fn) {
  const t = process.cpuUsage();
  for (let i = 0; i < iterations; i++) fn();
  const d = process.cpuUsage(t);
  return ((d.user + d.system) * 1000) / iterations; // ns per call
}
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

console.log(
  `node ${process.version}, ${iterations} iterations x ${ROUNDS} rounds, CPU ns per call (median)`,
);
console.log(
  "message".padEnd(22) +
    "encode notepack  msgpackr   decode notepack  msgpackr   same bytes  same values",
);
for (const [name, msg] of Object.entries(MESSAGES)) {
  const bytes = notepack.encode(msg);
  const cases = [
    () => (sink += notepack.encode(msg).length),
    () => (sink += packr.pack(msg).length),
    () => (sink += notepack.decode(bytes) ? 1 : 0),
    () => (sink += unpackr.unpack(bytes) ? 1 : 0),
  ];
  const samples = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) cases.forEach((fn, i) => samples[i].push(time(fn)));
  const [en, em, dn, dm] = samples.map((s) => median(s).toFixed(0).padStart(8));
  const id = identical[name];
  console.log(
    `${name.padEnd(22)}${en}  ${em}         ${dn}  ${dm}   ${String(id.sameBytes).padEnd(10)}  ${id.decodedAlike}`,
  );
}
for (const [name, id] of Object.entries(identical))
  if (id.firstDifference) console.log(`  ${name}: first difference at ${id.firstDifference}`);
if (sink === 42) console.log("");
