// What a Redis outage costs a node's memory on the Redis Streams adapter while its clients keep joining and
// leaving rooms (each join / leave saves the socket's session in the background).
//
//   npm run build && node --expose-gc bench/streams-outage-memory.mjs [--client redis|ioredis] [--n 200]
//     [--rate 10] [--seconds 20] [--outage kill|pause] [--dist ../dist]
//
// One Switchyard node (this process) with connection state recovery on; --n socket.io-client sockets in a child
// process (so that their memory is not counted), each alternating a join and a leave of a room --rate times a
// second. A private redis-server (no persistence) is killed for --seconds, then started again (--outage pause:
// `CLIENT PAUSE` for --seconds instead: connections stay open and nothing is answered). The node's V8 heap
// (after a full GC) is sampled every second. The Redis client is created with its defaults, as an application
// would. --dist points at another build (e.g. one of the commit before a change) to compare.
import { execFile, fork } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { startPrivateRedis } from "./cluster-redis.mjs";

const require = createRequire(import.meta.url);
const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv.includes("--clients")) await clients();
else await main();

/** The child: --n sockets, each alternating join / leave every 1000 / --rate ms; reports how many it sent. */
async function clients() {
  const { io: connect } = require("socket.io-client");
  const url = argValue("--clients", "");
  const n = Number(argValue("--n", "200"));
  const rate = Number(argValue("--rate", "10"));
  const sockets = [];
  await Promise.all(
    Array.from({ length: n }, async () => {
      const s = connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
      sockets.push(s);
      await once(s, "connect");
    }),
  );
  let sent = 0;
  let timers = [];
  process.on("message", (msg) => {
    if (msg === "start")
      timers = sockets.map((s, i) => {
        let joined = false;
        return setInterval(() => {
          s.emit(joined ? "leave" : "join", `room-${i % 10}`);
          joined = !joined;
          sent++;
        }, 1000 / rate);
      });
    else if (msg === "count") process.send({ sent });
    else if (msg === "stop") {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.disconnect();
      process.send({ sent });
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.send("ready");
}

function heapMB() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1e6;
}

async function main() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const kind = argValue("--client", "redis");
  const n = Number(argValue("--n", "200"));
  const rate = Number(argValue("--rate", "10"));
  const seconds = Number(argValue("--seconds", "20"));
  const outage = argValue("--outage", "kill");
  const dist = path.resolve(
    path.dirname(new URL(import.meta.url).pathname),
    argValue("--dist", "../dist"),
  );
  const { Server } = require(path.join(dist, "index.js"));
  const { createAdapter } = require(path.join(dist, "adapters/redis-streams/index.js"));

  let redis = await startPrivateRedis();
  const port = redis.port;
  let client;
  if (kind === "ioredis") {
    const { Redis } = require("ioredis");
    client = new Redis({ host: "127.0.0.1", port });
    await once(client, "ready");
  } else {
    const { createClient } = require("redis");
    client = createClient({ url: `redis://127.0.0.1:${port}` });
    await client.connect();
  }
  client.on("error", () => {});

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(client),
    connectionStateRecovery: {},
  });
  const adapterErrors = new Map();
  io.of("/").adapter.on("error", (err) => {
    const first = String(err.message).split(":")[0].slice(0, 60);
    adapterErrors.set(first, (adapterErrors.get(first) ?? 0) + 1);
  });
  io.on("connection", (socket) => {
    socket.data = { user: `user-${socket.id.slice(0, 5)}`, n: 1 };
    socket.on("join", (room) => socket.join(room));
    socket.on("leave", (room) => socket.leave(room));
  });
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");

  const child = fork(
    new URL(import.meta.url).pathname,
    [
      "--clients",
      `http://127.0.0.1:${httpServer.address().port}`,
      "--n",
      String(n),
      "--rate",
      String(rate),
    ],
    { stdio: "inherit" },
  );
  const [ready] = await once(child, "message");
  if (ready !== "ready") throw new Error("clients not ready");
  const ask = async (msg) => {
    child.send(msg);
    const [reply] = await once(child, "message");
    return reply.sent;
  };
  const pending = () => io.of("/").adapter.pendingSessionSaves ?? "n/a";

  child.send("start");
  await sleep(3000);
  const before = heapMB();
  const sentBefore = await ask("count");
  console.log(
    `${kind}, ${n} sockets, ${rate} join-or-leave/s each, outage (${outage}) ${seconds} s; build ${path.relative(process.cwd(), dist) || "."}`,
  );
  console.log(`t=0 (outage starts): heap ${before.toFixed(1)} MB`);
  if (outage === "pause")
    await new Promise((resolve, reject) =>
      execFile(
        "redis-cli",
        ["-p", String(port), "CLIENT", "PAUSE", String(seconds * 1000), "ALL"],
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  else await redis.kill();
  let peak = before;
  for (let s = 1; s <= seconds; s++) {
    await sleep(1000);
    const heap = heapMB();
    peak = Math.max(peak, heap);
    if (s % 5 === 0 || s === seconds)
      console.log(`t=${s}s: heap ${heap.toFixed(1)} MB, pending saves in the adapter ${pending()}`);
  }
  const end = heapMB();
  const sentDuring = (await ask("count")) - sentBefore;
  if (outage !== "pause") redis = await startPrivateRedis(port);
  const restartedAt = Date.now();
  // back: until the backlog is written (heap back near its level before the outage)
  let after = heapMB();
  for (let i = 0; i < 60 && after > before + 1; i++) {
    await sleep(500);
    after = heapMB();
  }
  console.log(
    `joins/leaves during the outage: ${sentDuring}; heap growth during the outage: +${(end - before).toFixed(1)} MB ` +
      `(peak +${(peak - before).toFixed(1)} MB); after Redis came back (${Date.now() - restartedAt} ms): ` +
      `${after.toFixed(1)} MB (${after - before >= 0 ? "+" : ""}${(after - before).toFixed(1)} MB)`,
  );
  console.log(`adapter errors: ${JSON.stringify(Object.fromEntries(adapterErrors))}`);
  await ask("stop");
  await new Promise((resolve) => io.close(() => resolve()));
  if (client.destroy) client.destroy();
  else client.disconnect();
  await redis.kill();
  process.exit(0);
}
