// A stalled reader's cost (docs/limits.md):
//   node --expose-gc bench/stalled-reader.mjs [maxSendBufferBytes] [--reading] [--broadcast] [--size BYTES]
//        [--polling | --deflate]
// Emits 50 MB (1 kB messages unless --size, 512 per event-loop turn) to one client, in a child process, that stopped
// reading (or, with --reading, that reads: the control, showing what the emitting alone costs). Prints the server
// process's memory before, at the peak and after the client is gone, split into V8 heap (young and old
// generations) and memory outside the heap (Buffers), next to what the session counted as buffered. --broadcast
// sends io.emit() broadcasts instead of socket.emit(): their frames are shared by all targets. The control waits
// for `drain` whenever the buffer is past sendBufferHighWaterMark (emit() returned false).
// The client is a raw Engine.IO client:
// - default: a WebSocket without compression, which pauses its socket;
// - --deflate: the server has perMessageDeflate on and the client's WebSocket negotiates it, then pauses its
//   socket. The messages are drawn from 64 random 1 kB strings (more than deflate's 32 KiB window apart), so that
//   compression does not make the stream a hundred times smaller than the messages (the bound counts messages);
// - --polling: HTTP long-polling. Stalled, it sends its next GET and never reads the response: what a frozen
//   client or a dead network looks like from the server (a polling client always holds a GET open, and the
//   server answers it, then queues the rest while no GET comes). Reading, it polls again as soon as a response
//   is read.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import v8 from "node:v8";
import { Server } from "../dist/index.js";

const args = process.argv.slice(2);
const reading = args.includes("--reading");
const broadcast = args.includes("--broadcast");
const polling = args.includes("--polling");
const deflate = args.includes("--deflate");
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
const io = new Server(http, { maxSendBufferBytes: max, perMessageDeflate: deflate });
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const port = http.address().port;
const path = "/socket.io/?EIO=4&transport=";
// the WebSocket client: answers the open packet with a CONNECT, then stops reading unless --reading
const wsClient = `import WebSocket from "ws";
  setInterval(() => {}, 1000); // a paused socket alone does not keep the process alive
  const ws = new WebSocket("ws://127.0.0.1:${port}${path}websocket", { perMessageDeflate: ${deflate} });
  ws.on("message", (d) => {
    if (!d.toString().startsWith("0{")) return;
    ws.send("40");
    if (${!reading}) ws._socket.pause();
  });`;
// the polling client: handshake, CONNECT, the CONNECT's answer; then, stalled, one more GET whose response it never
// reads (a raw socket, paused); reading, a GET after every response until the session ends
const pollingClient = `import http from "node:http";
  import net from "node:net";
  setInterval(() => {}, 1000);
  const agent = new http.Agent({ keepAlive: true });
  const request = (method, path, body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: ${port}, path, method, agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString()));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  const open = await request("GET", "${path}polling");
  const sid = JSON.parse(open.slice(1)).sid;
  const session = "${path}polling&sid=" + sid;
  await request("POST", session, "40");
  await request("GET", session);
  if (${reading}) {
    for (;;) {
      const body = await request("GET", session).catch(() => "1");
      if (body.split("\x1e").includes("1")) break;
    }
  } else {
    const raw = net.connect(${port}, "127.0.0.1", () => {
      raw.write("GET " + session + " HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n");
      raw.pause();
    });
  }`;
const client = spawn(
  process.execPath,
  ["--input-type=module", "-e", polling ? pollingClient : wsClient],
  {
    cwd: new URL("..", import.meta.url),
    stdio: "inherit",
  },
);
const socket = await new Promise((resolve) => io.once("connection", resolve));
await new Promise((r) => setTimeout(r, 100));
globalThis.gc();
const before = snapshot();
const peak = { ...before };
let buffered = 0;
let reason = "still connected";
socket.on("disconnect", (r) => (reason = r));
// with deflate, 64 different random messages (a message recurs 64 kB later, beyond deflate's window)
const payloads = Array.from({ length: deflate ? 64 : 1 }, () =>
  deflate ? randomBytes((size * 3) / 4).toString("base64") : "p".repeat(size),
);
for (let sent = 0; sent < (50 * 1024 * 1024) / size && socket.connected; sent += 512) {
  for (let i = 0; i < 512; i++) {
    const payload = payloads[(sent + i) % payloads.length];
    if (broadcast) io.emit("data", payload);
    else socket.emit("data", payload);
  }
  buffered = Math.max(buffered, socket.conn.bufferedAmount);
  await new Promise((r) => setImmediate(r));
  // the control honours backpressure (as an application that checks emit()'s result): with perMessageDeflate the
  // server compresses more slowly than this loop emits, and a reading client would meet the bound too
  if (reading && socket.conn.needsDrain) await new Promise((r) => socket.once("drain", r));
  const now = snapshot();
  for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], now[key]);
}
const growth = (m, key) => `+${mb(m[key] - before[key])}`;
const line = (label, m) =>
  `${label}: rss ${growth(m, "rss")} MB (V8 young ${growth(m, "young")}, old ${growth(m, "old")}; ` +
  `outside the heap ${growth(m, "external")})`;
console.log(
  `maxSendBufferBytes ${mb(max)} MB, ${reading ? "reading" : "stalled"} ` +
    `${polling ? "polling" : deflate ? "WebSocket (perMessageDeflate)" : "WebSocket"} client` +
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
