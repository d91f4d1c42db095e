// Micro-benchmark: Switchyard's parser vs socket.io-parser on a ~100-byte event.
// Run: node --import tsx bench/parser-micro.mjs [iterations]
// The cases are interleaved round by round so that noise from a shared machine
// hits them alike; the median of the rounds is reported.
import { createRequire } from "node:module";
import { Encoder, Decoder } from "../src/parser/index.ts";

const require = createRequire(import.meta.url);
const official = require("socket.io-parser");

const iterations = Number(process.argv[2] ?? 200_000);
const ROUNDS = 7;
const packet = () => ({
  type: 2,
  nsp: "/",
  data: [
    "chat message",
    { user: "alice", text: "hello everyone in the room!", ts: 1700000000000, seq: 42 },
  ],
});
const binaryPacket = () => ({
  type: 2,
  nsp: "/",
  data: ["file", { name: "a.bin", body: Buffer.alloc(64) }],
});

const ours = new Encoder();
const theirs = new official.Encoder();
const sample = ours.encode(packet())[0];
let sink = 0;
const ourDecoder = new Decoder();
ourDecoder.on("decoded", () => sink++);
const theirDecoder = new official.Decoder();
theirDecoder.on("decoded", () => sink++);

const cases = [
  [
    'baseline: "2" + JSON.stringify(data)',
    () => (sink += ("2" + JSON.stringify(packet().data)).length),
  ],
  ["encode        switchyard", () => (sink += ours.encode(packet()).length)],
  ["encode        socket.io-parser", () => (sink += theirs.encode(packet()).length)],
  ["encode binary switchyard", () => (sink += ours.encode(binaryPacket()).length)],
  ["encode binary socket.io-parser", () => (sink += theirs.encode(binaryPacket()).length)],
  ["decode        switchyard", () => ourDecoder.add(sample)],
  ["decode        socket.io-parser", () => theirDecoder.add(sample)],
];

const samples = cases.map(() => []);
for (const [, fn] of cases) for (let i = 0; i < 20_000; i++) fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  cases.forEach(([, fn], c) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples[c].push((iterations / Number(process.hrtime.bigint() - start)) * 1e9);
  });
}
const median = samples.map((s) => s.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]);

console.log(`event: ${sample} (${Buffer.byteLength(sample)} bytes)`);
console.log(
  `node ${process.version}, ${iterations} iterations x ${ROUNDS} interleaved rounds, median ops/s`,
);
cases.forEach(([label], c) =>
  console.log(
    `  ${label.padEnd(38)} ${Math.round(median[c]).toLocaleString("en-US").padStart(12)}`,
  ),
);
const ratio = (a, b) => (median[a] / median[b]).toFixed(2);
console.log(
  `switchyard / socket.io-parser: encode ${ratio(1, 2)}x, binary encode ${ratio(3, 4)}x, decode ${ratio(5, 6)}x`,
);
if (sink < 0) console.log(sink);
