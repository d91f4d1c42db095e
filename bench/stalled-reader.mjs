// A stalled reader's cost (docs/limits.md):
//   node --expose-gc bench/stalled-reader.mjs [maxSendBufferBytes] [--reading] [--broadcast] [--size BYTES]
// Emits 50 MB (1 kB messages unless --size, 512 per event-loop turn) to one WebSocket client, in a child process, that stopped
// reading (or, with --reading, that reads: the control, showing what the emitting alone costs). Prints the server
// process's memory before, at the peak and after the client is gone, split into V8 heap (young and old
// generations) and memory outside the heap (Buffers), next to what the session counted as buffered. --broadcast
// sends io.emit() broadcasts instead of socket.emit(): their frames are shared by all targets, and not copied.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import v8 from "node:v8";
import { Server } from "../dist/index.js";

const args = process.argv.slice(2);
const reading = args.includes("--reading");
const broadcast = args.includes("--broadcast");
const sizeAt = args.indexOf("--size");
const size = sizeAt === -1 ? 1024 : Number(args[sizeAt + 1]);
const max = Number(
  args.find((a, i) => !a.startsWith("--") && i !== sizeAt + 1) ?? 32 * 1024 * 1024,
);
const mb = (n) => (n / 1048576).toFixed(1);
const space = (name) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name).space_size;
const snapshot = () => ({
  ...process.memoryUsage(),
  young: space("new_space"),
  old: space("old_space"),
});

const http = createServer();
const io = new Server(http, { maxSendBufferBytes: max });
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const url = `ws://127.0.0.1:${http.address().port}/socket.io/?EIO=4&transport=websocket`;
// the client: answers the open packet with a CONNECT, then stops reading unless --reading
const client = spawn(
  process.execPath,
  [
    "--input-type=module",
    "-e",
    `import WebSocket from "ws";
     setInterval(() => {}, 1000); // a paused socket alone does not keep the process alive
     const ws = new WebSocket(${JSON.stringify(url)});
     ws.on("message", (d) => {
       if (!d.toString().startsWith("0{")) return;
       ws.send("40");
       if (${!reading}) ws._socket.pause();
     });`,
  ],
  { cwd: new URL("..", import.meta.url), stdio: "inherit" },
);
const socket = await new Promise((resolve) => io.once("connection", resolve));
await new Promise((r) => setTimeout(r, 100));
globalThis.gc();
const before = snapshot();
const peak = { ...before };
let buffered = 0;
let reason = "still connected";
socket.on("disconnect", (r) => (reason = r));
const payload = "p".repeat(size);
for (let sent = 0; sent < (50 * 1024 * 1024) / size && socket.connected; sent += 512) {
  for (let i = 0; i < 512; i++) {
    if (broadcast) io.emit("data", payload);
    else socket.emit("data", payload);
  }
  buffered = Math.max(buffered, socket.conn.bufferedAmount);
  await new Promise((r) => setImmediate(r));
  const now = snapshot();
  for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], now[key]);
}
const growth = (m, key) => `+${mb(m[key] - before[key])}`;
const line = (label, m) =>
  `${label}: rss ${growth(m, "rss")} MB (V8 young ${growth(m, "young")}, old ${growth(m, "old")}; ` +
  `outside the heap ${growth(m, "external")})`;
console.log(
  `maxSendBufferBytes ${mb(max)} MB, ${reading ? "reading" : "stalled"} client` +
    `${broadcast ? " (broadcasts)" : ""}, ${size} B messages: ${reason}; ` +
    `largest bufferedAmount ${mb(buffered)} MB`,
);
console.log(line("peak", peak));
client.kill();
await new Promise((r) => setTimeout(r, 500));
// two collections: a Buffer's memory outside the heap is freed by the one after the collection that found it dead
for (let i = 0; i < 2; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 50));
}
const after = snapshot();
console.log(
  line("after the client left (GC)", after) + `, heap used ${growth(after, "heapUsed")} MB`,
);
await io.close();
process.exit(0);
