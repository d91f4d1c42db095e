// What a Redis outage costs a node's memory while it keeps broadcasting, on the three Redis adapters: every
// broadcast is a PUBLISH (classic), SPUBLISH (sharded) or XADD (streams) handed to the Redis client, which holds
// it (node-redis's offline queue, ioredis's command queue) for as long as Redis does not answer.
//
//   npm run build && node --expose-gc bench/redis-outage-publish-memory.mjs [--adapter classic|sharded|streams]
//     [--client redis|ioredis] [--rate 1000] [--size 100] [--seconds 20] [--outage kill|pause] [--dist ../dist]
//
// One Switchyard node (this process) with one local socket.io-client client (in a child process, so that its
// memory is not counted) that counts what it receives; the node broadcasts --rate times a second (in batches
// every 10 ms) an event carrying --size bytes. A private redis-server (no persistence) is killed for --seconds,
// then started again (--outage pause: `CLIENT PAUSE … ALL` instead: connections open, nothing answered). The
// node's V8 heap (after a full GC) is sampled every second. The Redis clients have their default options, as an
// application would have them. --dist points at another build (e.g. of the commit before a change) to compare.
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

if (process.argv.includes("--client-of")) await localClient();
else await main();

/** The child: one client counting the broadcasts it receives. */
async function localClient() {
  const { io: connect } = require("socket.io-client");
  const s = connect(argValue("--client-of", ""), {
    transports: ["websocket"],
    reconnection: false,
  });
  let received = 0;
  s.on("tick", () => received++);
  await once(s, "connect");
  process.on("message", (msg) => {
    if (msg === "count") process.send({ received });
    else if (msg === "stop") {
      s.disconnect();
      process.send({ received });
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

async function redisClient(kind, port) {
  if (kind === "ioredis") {
    const { Redis } = require("ioredis");
    const client = new Redis({ host: "127.0.0.1", port });
    client.on("error", () => {});
    await once(client, "ready");
    return client;
  }
  const { createClient } = require("redis");
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function main() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const mode = argValue("--adapter", "classic");
  const kind = argValue("--client", "redis");
  const rate = Number(argValue("--rate", "1000"));
  const size = Number(argValue("--size", "100"));
  const seconds = Number(argValue("--seconds", "20"));
  const outage = argValue("--outage", "kill");
  const dist = path.resolve(
    path.dirname(new URL(import.meta.url).pathname),
    argValue("--dist", "../dist"),
  );
  const { Server } = require(path.join(dist, "index.js"));

  let redis = await startPrivateRedis();
  const port = redis.port;
  const clients = [await redisClient(kind, port)];
  let adapter;
  if (mode === "streams") {
    const { createAdapter } = require(path.join(dist, "adapters/redis-streams/index.js"));
    adapter = createAdapter(clients[0]);
  } else {
    const lib = require(path.join(dist, "adapters/redis/index.js"));
    clients.push(
      kind === "ioredis" ? clients[0].duplicate() : await clients[0].duplicate().connect(),
    );
    clients[1].on("error", () => {});
    adapter =
      mode === "sharded"
        ? lib.createShardedAdapter(clients[0], clients[1])
        : lib.createAdapter(clients[0], clients[1]);
  }

  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter });
  const adapterErrors = new Map();
  io.of("/").adapter.on("error", (err) => {
    const first = String(err.message).split(":")[0].slice(0, 60);
    adapterErrors.set(first, (adapterErrors.get(first) ?? 0) + 1);
  });
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  const child = fork(
    new URL(import.meta.url).pathname,
    ["--client-of", `http://127.0.0.1:${httpServer.address().port}`],
    { stdio: "inherit" },
  );
  const [ready] = await once(child, "message");
  if (ready !== "ready") throw new Error("client not ready");
  const ask = async (msg) => {
    child.send(msg);
    const [reply] = await once(child, "message");
    return reply.received;
  };
  const pending = () => {
    const p = io.of("/").adapter.publishes;
    return p === undefined
      ? "n/a"
      : `${p.pending} (${(p.pendingBytes / 1e6).toFixed(1)} MB), dropped ${p.dropped}`;
  };

  const payload = "x".repeat(size);
  let sent = 0;
  const perTick = rate / 100;
  let owed = 0;
  const ticker = setInterval(() => {
    owed += perTick;
    for (; owed >= 1; owed--) {
      io.emit("tick", payload);
      sent++;
    }
  }, 10);
  await sleep(3000);
  const before = heapMB();
  const sentBefore = sent;
  const receivedBefore = await ask("count");
  console.log(
    `${mode} adapter, ${kind}, ${rate} broadcasts/s of ${size} B, outage (${outage}) ${seconds} s; build ${path.relative(process.cwd(), dist) || "."}`,
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
      console.log(`t=${s}s: heap ${heap.toFixed(1)} MB, publishes pending ${pending()}`);
  }
  const end = heapMB();
  const sentDuring = sent - sentBefore;
  const receivedDuring = (await ask("count")) - receivedBefore;
  if (outage !== "pause") redis = await startPrivateRedis(port);
  const restartedAt = Date.now();
  let after = heapMB();
  for (let i = 0; i < 60 && after > before + 1; i++) {
    await sleep(500);
    after = heapMB();
  }
  console.log(
    `broadcasts during the outage: ${sentDuring}, received by the local client: ${receivedDuring}; ` +
      `heap growth during the outage: +${(end - before).toFixed(1)} MB (peak +${(peak - before).toFixed(1)} MB); ` +
      `after Redis came back (${Date.now() - restartedAt} ms): ${after.toFixed(1)} MB ` +
      `(${after - before >= 0 ? "+" : ""}${(after - before).toFixed(1)} MB), publishes pending ${pending()}`,
  );
  console.log(`adapter errors: ${JSON.stringify(Object.fromEntries(adapterErrors))}`);
  clearInterval(ticker);
  await ask("stop");
  await Promise.race([new Promise((resolve) => io.close(() => resolve())), sleep(5000)]);
  for (const c of clients) {
    if (c.destroy) c.destroy();
    else c.disconnect();
  }
  await redis.kill();
  process.exit(0);
}
