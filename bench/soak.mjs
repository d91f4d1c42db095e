// Soak (not part of npm test): `npm run soak` (defaults below), or e.g.
//   node --expose-gc bench/soak.mjs --held 2000 --cycles 1000 --slow 3 --seconds 60
// This process is the server only; the clients run in two child processes (bench/soak-clients.mjs), so the
// memory measured is the server's and the echo latency is what a client sees. It holds N WebSocket clients with
// heartbeats (pingInterval 5 s, pingTimeout 20 s) for --seconds, runs connect/disconnect cycles, feeds a room (20 kB every 10 ms)
// read by the echo client and 10 readers, measures the echo client's latency (p50/p99) with the readers alone,
// then with --slow stalled readers added to the room (until the send buffer bound closes them), then after;
// finally everyone leaves and the server's heap and RSS are compared with the start, at once and 30 s later.
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { Server } from "../dist/index.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const HELD = arg("held", 10000);
const CYCLES = arg("cycles", 5000);
const SLOW = arg("slow", 5);
const SECONDS = arg("seconds", 180);
const READERS = 10;
/** The stated margins: after everyone left, the server's heap, and 30 s later its RSS, are within these of the start. */
const HEAP_MARGIN = 10 * 1048576;
const RSS_MARGIN = 32 * 1048576;
const mb = (n) => (n / 1048576).toFixed(1);
const ms = (n) => n.toFixed(2);

const http = createServer();
// heartbeats every 5 s; a slow reader (which answers no ping) fed about 1-2 MB/s meets the 8 MiB send buffer bound
// before the heartbeat's 25 s end it
const io = new Server(http, {
  pingInterval: 5000,
  pingTimeout: 20000,
  maxSendBufferBytes: 8 << 20,
});
let overflowed = 0;
let otherCloses = 0;
let slowGone = 0;
io.on("connection", (s) => {
  s.on("echo", (n, ack) => ack(n));
  let fed = false;
  s.on("feed", () => {
    fed = true;
    s.join("feed");
  });
  s.on("disconnect", (reason) => {
    if (fed && (reason === "send buffer overflow" || reason === "ping timeout")) slowGone++;
    if (reason === "send buffer overflow") overflowed++;
    else if (reason !== "client namespace disconnect" && reason !== "transport close")
      otherCloses++;
  });
});
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const url = `ws://127.0.0.1:${http.address().port}/socket.io/?EIO=4&transport=websocket`;

async function snapshot(label) {
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  console.log(
    `${label}: heap ${mb(m.heapUsed)} MB (V8 holds ${mb(m.heapTotal)}), outside the heap ` +
      `${mb(m.external)} MB, rss ${mb(m.rss)} MB, sessions ${io.engine.clientsCount}`,
  );
  return m;
}

function clients(name) {
  const child = fork(new URL("./soak-clients.mjs", import.meta.url), [url], {
    execArgv: ["--max-old-space-size=4096"],
  });
  const waiting = [];
  child.on("message", (msg) => {
    if (msg.ready || msg.done) waiting.shift()?.(msg);
  });
  const ready = new Promise((r) => waiting.push(r));
  return {
    name,
    ready,
    ask(cmd, extra = {}) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.send({ cmd, ...extra });
      });
    },
    kill: () => child.kill(),
  };
}

/** Echo latency over `seconds`: 100 round trips at a time, p50/p99 of all of them (medians of the rounds' p99). */
async function echoFor(c, seconds, stop = () => false) {
  const p50 = [];
  const p99 = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && !stop()) {
    const r = await c.ask("echo", { count: 100 });
    p50.push(r.p50);
    p99.push(r.p99);
    await new Promise((r2) => setTimeout(r2, 200));
  }
  const mid = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
  return `p50 ${ms(mid(p50))} ms, p99 ${ms(mid(p99))} ms (max p99 ${ms(Math.max(...p99))} ms, ${p99.length} rounds)`;
}

const start = await snapshot("start");
const holder = clients("held");
const worker = clients("work");
await Promise.all([holder.ready, worker.ready]);
const heldAt = Date.now();
console.log(`held: ${(await holder.ask("hold", { n: HELD })).opened}`);
await snapshot("held");
console.log(`connect/disconnect cycles: ${(await worker.ask("cycles", { n: CYCLES })).ok}`);
await snapshot("after the cycles");

await worker.ask("echo", { count: 10, feed: true });
console.log(`readers: ${(await worker.ask("readers", { n: READERS })).opened}`);
const payload = "f".repeat(1024);
const feed = setInterval(() => {
  for (let i = 0; i < 20; i++) io.to("feed").emit("data", payload);
}, 10);
console.log(`echo, fed, no slow reader: ${await echoFor(worker, 20)}`);
console.log(`slow readers: ${(await worker.ask("slow", { n: SLOW })).opened}`);
const slowStart = Date.now();
console.log(
  `echo, fed, ${SLOW} slow readers lagging: ${await echoFor(worker, 60, () => slowGone >= SLOW)}`,
);
console.log(
  `slow readers closed: ${slowGone} of ${SLOW} (for overflow: ${overflowed}) after ${((Date.now() - slowStart) / 1000).toFixed(1)} s`,
);
const during = await snapshot("during (slow readers gone)");
const rest = Math.max(10, SECONDS - (Date.now() - heldAt) / 1000);
console.log(`echo, fed, after (held ${rest.toFixed(0)} s more): ${await echoFor(worker, rest)}`);
clearInterval(feed);
console.log(
  `sessions still open: ${io.engine.clientsCount}; closed for another reason: ${otherCloses}`,
);

await Promise.all([holder.ask("close"), worker.ask("close")]);
const deadline = Date.now() + 60000;
while (io.engine.clientsCount > 0 && Date.now() < deadline)
  await new Promise((r) => setTimeout(r, 200));
holder.kill();
worker.kill();
await new Promise((r) => setTimeout(r, 2000));
const end = await snapshot("after everyone left");
// V8 gives its emptied pages back and the allocators their freed memory over time, not at the last collection
await new Promise((r) => setTimeout(r, 30000));
const later = await snapshot("30 s later");
const heapDelta = end.heapUsed - start.heapUsed;
console.log(
  `heap: start ${mb(start.heapUsed)} -> after ${mb(end.heapUsed)} MB (during ${mb(during.heapUsed)}), ` +
    `${heapDelta <= HEAP_MARGIN ? "within" : "NOT within"} the ${mb(HEAP_MARGIN)} MB margin; ` +
    `rss: start ${mb(start.rss)} -> after ${mb(end.rss)} MB, 30 s later ${mb(later.rss)} MB (during ${mb(during.rss)}), ` +
    `${later.rss - start.rss <= RSS_MARGIN ? "within" : "NOT within"} the ${mb(RSS_MARGIN)} MB margin`,
);
await io.close();
process.exit(0);
