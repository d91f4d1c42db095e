// Soak (not part of npm test): `npm run soak` (defaults below), or e.g.
//   node bench/soak.mjs --held 2000 --cycles 1000 --slow 3 --seconds 60
// Holds N WebSocket clients with heartbeats, runs connect/disconnect cycles, keeps a few slow readers (stalled
// sockets the server emits to), measures an echo client's latency before and during, and the server's heap and
// RSS before, during and after. Server and clients run in one process (the clients are raw WebSockets, cheap).
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { Server } from "../dist/index.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const HELD = arg("held", 10000);
const CYCLES = arg("cycles", 5000);
const SLOW = arg("slow", 5);
const SECONDS = arg("seconds", 180);
const mb = (n) => (n / 1048576).toFixed(1);

const http = createServer();
const io = new Server(http, { pingInterval: 5000, pingTimeout: 5000, maxSendBufferBytes: 8 << 20 });
io.on("connection", (s) => s.on("echo", (n, ack) => ack(n)));
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const url = `ws://127.0.0.1:${http.address().port}/socket.io/?EIO=4&transport=websocket`;

function open() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("error", () => resolve(null));
    ws.on("message", (d) => {
      const m = d.toString();
      if (m === "2") ws.send("3");
      else if (m.startsWith("0{")) ws.send("40");
      else if (m.startsWith("40")) resolve(ws);
    });
  });
}
function snapshot(label) {
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(
    `${label}: heap ${mb(m.heapUsed)} MB, rss ${mb(m.rss)} MB, sessions ${io.engine.clientsCount}`,
  );
  return m;
}
async function echoLatency(ws, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await new Promise((resolve) => {
      const on = (d) => {
        if (d.toString().startsWith("43")) {
          ws.off("message", on);
          resolve();
        }
      };
      ws.on("message", on);
      ws.send(`420["echo",${i}]`);
    });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return {
    p50: times[Math.floor(count / 2)].toFixed(2),
    p99: times[Math.floor(count * 0.99)].toFixed(2),
  };
}

const start = snapshot("start");
const echo = await open();
console.log("echo before", await echoLatency(echo, 200));
const held = [];
for (let i = 0; i < HELD; i += 200)
  held.push(...(await Promise.all(Array.from({ length: Math.min(200, HELD - i) }, open))));
snapshot(`${held.filter(Boolean).length} held`);
for (let i = 0; i < CYCLES; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, CYCLES - i) }, open));
  for (const ws of batch) ws?.close();
}
console.log(`${CYCLES} connect/disconnect cycles done`);
const slow = (await Promise.all(Array.from({ length: SLOW }, open))).filter(Boolean);
for (const ws of slow) ws._socket.pause();
const slowIds = new Set([...io.sockets.sockets.keys()].slice(-SLOW));
const payload = "z".repeat(1024);
let overflowed = 0;
for (const id of slowIds)
  io.sockets.sockets.get(id)?.on("disconnect", (r) => r === "send buffer overflow" && overflowed++);
const flood = setInterval(() => {
  for (const id of slowIds)
    for (let i = 0; i < 200; i++) io.sockets.sockets.get(id)?.emit("data", payload);
}, 5);
const until = Date.now() + SECONDS * 1000;
let during;
while (Date.now() < until) {
  during = await echoLatency(echo, 100);
  await new Promise((r) => setTimeout(r, 1000));
}
console.log("echo during (slow readers flooded, heartbeats running)", during);
const peak = snapshot("during");
clearInterval(flood);
console.log(`slow readers closed for overflow: ${overflowed} of ${SLOW}`);
for (const ws of [...held, ...slow]) ws?.terminate();
const deadline = Date.now() + 30000;
while (io.engine.clientsCount > 1 && Date.now() < deadline)
  await new Promise((r) => setTimeout(r, 200));
await new Promise((r) => setTimeout(r, 2000));
const end = snapshot("after");
console.log("echo after", await echoLatency(echo, 200));
console.log(
  `heap: start ${mb(start.heapUsed)} -> after ${mb(end.heapUsed)} MB (peak ${mb(peak.heapUsed)}); ` +
    `rss: start ${mb(start.rss)} -> after ${mb(end.rss)} MB (peak ${mb(peak.rss)})`,
);
echo.close();
await io.close();
process.exit(0);
