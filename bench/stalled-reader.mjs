// A stalled reader's cost (docs/limits.md): `node --expose-gc bench/stalled-reader.mjs [maxSendBufferBytes]`.
// Emits 50 MB (1 kB messages) to one client that stopped reading; prints RSS/heap before, at the peak, and after
// the client is gone.
import { createServer } from "node:http";
import WebSocket from "ws";
import { Server } from "../dist/index.js";

const max = Number(process.argv[2] ?? 32 * 1024 * 1024);
const mb = (n) => (n / 1048576).toFixed(1);
const http = createServer();
const io = new Server(http, { maxSendBufferBytes: max });
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const ws = new WebSocket(
  `ws://127.0.0.1:${http.address().port}/socket.io/?EIO=4&transport=websocket`,
);
const socket = await new Promise((resolve) => {
  io.once("connection", resolve);
  ws.on("message", (d) => d.toString().startsWith("0{") && ws.send("40"));
});
ws._socket.pause();
globalThis.gc();
const before = process.memoryUsage();
let peak = before.rss;
let reason = "still connected";
socket.on("disconnect", (r) => (reason = r));
const payload = "p".repeat(1024);
for (let sent = 0; sent < 50 * 1024 && socket.connected; sent += 512) {
  for (let i = 0; i < 512; i++) socket.emit("data", payload);
  await new Promise((r) => setImmediate(r));
  peak = Math.max(peak, process.memoryUsage().rss);
}
console.log(
  `maxSendBufferBytes ${mb(max)} MB: ${reason}; rss growth at peak +${mb(peak - before.rss)} MB`,
);
ws.terminate();
await new Promise((r) => setTimeout(r, 500));
globalThis.gc();
const after = process.memoryUsage();
console.log(
  `after the reader left: rss ${mb(after.rss - before.rss)} MB, heap ${mb(after.heapUsed - before.heapUsed)} MB vs before`,
);
await io.close();
process.exit(0);
