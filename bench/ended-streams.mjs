// Counts, on the server side, the `end()` calls on streams that had already finished or been destroyed: each one
// builds an Error with its stack (ERR_STREAM_ALREADY_FINISHED / ERR_STREAM_DESTROYED) that nobody reads. A count
// per handshake does not depend on the machine's load, unlike the CPU time those errors take in a profile.
//
//   node bench/ended-streams.mjs --impl switchyard|socket.io [--n 200]
//
// It runs N handshakes the way the `handshakes` scenario does (open, "40", "41", client closes) against a server
// in this process, and prints each distinct caller with its count.
import http from "node:http";
import { createRequire } from "node:module";
import stream from "node:stream";

const require = createRequire(import.meta.url);
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const impl = argValue("--impl", "switchyard");
const n = Number(argValue("--n", "200"));

const counts = new Map();
let inside = false; // one count per outermost end() (net.Socket's end() goes through Duplex's)
function watch(proto) {
  const end = proto.end;
  proto.end = function (...args) {
    if (inside) return end.apply(this, args);
    const state = this._writableState;
    // Server side only: accepted sockets have `server`, ws receivers know which side they are on.
    const serverSide = Boolean(this._server) || this._isServer === true;
    if (serverSide && state !== undefined && (state.finished || state.destroyed)) {
      // The first caller outside Node's own stream code.
      const frames = (new Error().stack ?? "").split("\n").slice(2);
      const caller = frames.find((frame) => !frame.includes("(node:"))?.trim() ?? "?";
      const key = `${this.constructor.name}.end() ${caller.replace(/\(.*node_modules\//, "(")}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    inside = true;
    try {
      return end.apply(this, args);
    } finally {
      inside = false;
    }
  };
}
watch(stream.Duplex.prototype);
watch(stream.Writable.prototype);

const { Server } = impl === "socket.io" ? require("socket.io") : require("switchyard");
const WebSocket = require("ws");
const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });
await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const url = `ws://127.0.0.1:${httpServer.address().port}/socket.io/?EIO=4&transport=websocket`;

for (let i = 0; i < n; i++) {
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith("0{")) ws.send("40");
      else if (text.startsWith("40")) {
        ws.send("41");
        ws.close();
      }
    });
    ws.once("close", resolve);
    ws.once("error", reject);
  });
}
// Let the server see the last close.
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(`${impl}: ${n} handshakes`);
for (const [key, count] of counts) console.log(`  ${(count / n).toFixed(2)} per handshake  ${key}`);
io.close();
httpServer.close();
