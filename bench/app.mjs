// The benchmark application, written once against the socket.io Server API and run unchanged on
// socket.io 4.8 and on Switchyard. Started by bench/run.mjs in a fresh process per run:
//
//   node --expose-gc bench/app.mjs --impl socket.io|switchyard
//
// It listens on an ephemeral port and reports it on the IPC channel ({ type: "listening", port })
// when started with one, and on stdout ("LISTENING <port>") otherwise.
//
// The application:
// - every socket joins the room "all", except the load generator's control socket
//   (handshake auth { control: true });
// - `echo` answers its argument through the ack;
// - `stats` answers { memory: process.memoryUsage(), cpu: process.cpuUsage(), ... }, after a forced
//   GC when asked ({ gc: true }; needs --expose-gc), writing a heap snapshot to
//   bench/results/profiles/ when asked ({ snapshot: true });
// - `fanout` ({ on: true, clients, window }) starts or stops a loop broadcasting a ~100-byte JSON
//   event "tick" to "all" as fast as the receivers keep up: `progress` (the number of ticks the
//   load generator has received since it turned the loop on, summed over its clients) keeps at most `window` broadcasts in
//   flight, so that the server's buffers stay bounded and every message counted was delivered.
// - with BENCH_DROP_REQUEST=1 in the environment, it drops each connection's request (see below).
//
// As a cluster node (`--adapter classic|sharded|dynamic --redis <url> --key <prefix>`, started so by
// run.mjs's cluster-* scenarios) it also:
// - joins the rooms listed in the handshake auth ({ rooms: [...] });
// - `burst` ({ room, count }) broadcasts `count` ticks to `room` at once;
// - `requests` ({ kind: "fetchSockets"|"serverSideEmit", durationMs }) runs that cross-node request
//   in a closed loop and answers its count and latency p50/p99; every node answers the
//   server-side event "bench-ping" through its ack.
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";

const require = createRequire(import.meta.url);

function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i !== -1 && i + 1 < process.argv.length) return process.argv[i + 1];
  return fallback;
}

const impl = argValue("--impl", process.env.BENCH_IMPL ?? "socket.io");

function loadServerClass(name) {
  if (name === "socket.io") return require("socket.io").Server;
  // The package's self-reference: /work/main is the "switchyard" package, built into dist/.
  if (name === "switchyard" || name === "switchyard+metrics") return require("switchyard").Server;
  // Another build of Switchyard (a worktree of an older commit), to measure a change before and after.
  if (path.isAbsolute(name)) return require(name).Server;
  throw new Error(
    `unknown --impl ${name} (expected socket.io, switchyard, switchyard+metrics or an absolute path)`,
  );
}

// A cluster node (bench/run.mjs's cluster-* scenarios): --adapter classic|sharded|dynamic --redis
// <url> --key <prefix>. Switchyard runs with its own Redis adapter, socket.io with the official
// @socket.io/redis-adapter 8; both over the `redis` client, both in the same mode.
const adapterMode = argValue("--adapter", null);
const redisUrl = argValue("--redis", "redis://127.0.0.1:6379");
const clusterKey = argValue("--key", "switchyard-bench");

async function redisAdapter() {
  if (!adapterMode) return null;
  // another build (an absolute path, --baseline/--candidate) brings its own adapter
  const lib = require(
    impl === "socket.io"
      ? "@socket.io/redis-adapter"
      : path.isAbsolute(impl)
        ? path.join(impl, "dist/adapters/redis/index.js")
        : "switchyard/redis-adapter",
  );
  const { createClient } = require("redis");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  // A node that loses Redis ends the run (its figures would be wrong), instead of crashing unexplained.
  for (const c of [pub, sub]) c.on("error", (e) => console.error(`redis client: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  if (adapterMode === "classic") return lib.createAdapter(pub, sub, { key: clusterKey });
  if (adapterMode === "sharded" || adapterMode === "dynamic")
    return lib.createShardedAdapter(pub, sub, {
      channelPrefix: clusterKey,
      subscriptionMode: adapterMode === "sharded" ? "static" : "dynamic",
    });
  throw new Error(`unknown --adapter ${adapterMode} (expected classic, sharded or dynamic)`);
}

const Server = loadServerClass(impl);
const httpServer = http.createServer();
const adapter = await redisAdapter();
const io = new Server(httpServer, {
  // Generous limits so that the load, not the defaults, decides what happens.
  pingInterval: 25000,
  pingTimeout: 20000,
  serveClient: false,
  ...(adapter ? { adapter } : {}),
});
// switchyard+metrics: the same server with switchyard/metrics collecting, served at /metrics
if (impl === "switchyard+metrics")
  require("switchyard/metrics").collectMetrics(io).attach(httpServer);

function socketCount() {
  try {
    return io.of("/").sockets.size;
  } catch {
    return null;
  }
}

function stats(opts) {
  if (opts && opts.gc && typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
  }
  let snapshot = null;
  if (opts && opts.snapshot) {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results", "profiles");
    snapshot = v8.writeHeapSnapshot(
      path.join(dir, `${impl}-${process.pid}-${socketCount()}sockets.heapsnapshot`),
    );
  }
  return {
    impl,
    pid: process.pid,
    snapshot,
    memory: process.memoryUsage(),
    cpu: process.cpuUsage(),
    hrtime: Number(process.hrtime.bigint()) / 1e3, // µs
    sockets: socketCount(),
    broadcasts: fanout.sent,
  };
}

// ~100 bytes on the wire once framed: 42["tick",{"seq":123,"t":1700000000000,"pad":"....."}]
const PAD = "x".repeat(48);
const fanout = {
  on: false,
  sent: 0, // broadcasts emitted since the process started
  base: 0, // `sent` when the current fan-out started
  delivered: 0, // messages received by the load generator (sum over clients)
  clients: 1,
  window: 50, // broadcasts in flight at most
  scheduled: false,
};

function fanoutLoop() {
  fanout.scheduled = false;
  if (!fanout.on) return;
  // Emit until `window` broadcasts are in flight, in bounded batches so the loop yields.
  let budget = 64;
  while (
    budget-- > 0 &&
    fanout.sent - fanout.base - fanout.delivered / fanout.clients < fanout.window
  ) {
    fanout.sent++;
    io.to("all").emit("tick", { seq: fanout.sent, t: Date.now(), pad: PAD });
  }
  scheduleFanout();
}

function scheduleFanout() {
  if (fanout.on && !fanout.scheduled) {
    fanout.scheduled = true;
    setImmediate(fanoutLoop);
  }
}

// BENCH_DROP_REQUEST=1: the application drops the engine's request on connection, as socket.io's documentation
// advises to save memory, so that the memory per connection can be reported both ways (same on both servers).
if (process.env.BENCH_DROP_REQUEST === "1") {
  io.engine.on("connection", (raw) => {
    raw.request = null;
  });
}

io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  const control = Boolean(auth.control);
  if (!control) socket.join("all");
  // cluster-traffic: some clients are members of a room that not every node has
  if (Array.isArray(auth.rooms)) for (const room of auth.rooms) socket.join(String(room));

  socket.on("echo", (msg, ack) => {
    if (typeof ack === "function") ack(msg);
  });

  socket.on("stats", (opts, ack) => {
    if (typeof opts === "function") {
      ack = opts;
      opts = {};
    }
    if (typeof ack === "function") ack(stats(opts));
  });

  socket.on("fanout", (opts, ack) => {
    fanout.on = Boolean(opts && opts.on);
    if (opts && opts.clients > 0) fanout.clients = opts.clients;
    if (opts && opts.window > 0) fanout.window = opts.window;
    fanout.base = fanout.sent;
    fanout.delivered = 0;
    scheduleFanout();
    if (typeof ack === "function") ack({ sent: fanout.sent });
  });

  // cluster-traffic: `count` broadcasts of "tick" to `room`, emitted at once (the caller waits for
  // their delivery before counting Redis's traffic).
  socket.on("burst", (opts, ack) => {
    for (let i = 0; i < opts.count; i++) {
      fanout.sent++;
      io.to(opts.room).emit("tick", { seq: fanout.sent, t: Date.now(), pad: PAD });
    }
    if (typeof ack === "function") ack({ sent: fanout.sent });
  });

  // cluster-requests: a closed loop of one cross-node request kind for `durationMs`; answers the
  // count and the latencies' p50/p99 (ms).
  socket.on("requests", (opts, ack) => {
    void requestLoop(opts).then(ack, (err) => ack({ error: String(err && err.message) }));
  });

  socket.on("progress", (delivered) => {
    if (typeof delivered === "number") {
      fanout.delivered = delivered;
      scheduleFanout();
    }
  });
});

// The other nodes answer serverSideEmit("bench-ping") through its ack.
io.of("/").on("bench-ping", (n, ack) => {
  if (typeof ack === "function") ack(n);
});

const REQUESTS = {
  fetchSockets: () => io.fetchSockets(),
  serverSideEmit: (n) => io.serverSideEmitWithAck("bench-ping", n),
};

async function requestLoop({ kind, durationMs }) {
  const request = REQUESTS[kind];
  if (!request) throw new Error(`unknown request kind ${kind}`);
  const latencies = [];
  let n = 0;
  let expected = null;
  const end = performance.now() + durationMs;
  const cpu0 = process.cpuUsage();
  while (performance.now() < end) {
    const t = performance.now();
    const answer = await request(n++);
    latencies.push(performance.now() - t);
    // every round must hear from every node: the same count of sockets or of answers each time
    const size = answer.length;
    if (expected === null) expected = size;
    else if (size !== expected) throw new Error(`${kind}: ${expected} answers, then ${size}`);
  }
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
  return {
    count: latencies.length,
    answers: expected,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requesterCpuUs: cpu.user + cpu.system,
  };
}

// The runner may also ask over IPC (it does not use a socket for that, so nothing is perturbed).
process.on("message", (msg) => {
  if (msg && msg.type === "stats") process.send({ type: "stats", id: msg.id, stats: stats(msg) });
});

function shutdown() {
  fanout.on = false;
  io.close();
  httpServer.close();
  // Do not wait for slow clients: the runner wants a fresh process for the next run.
  setTimeout(() => process.exit(0), 200).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.on("disconnect", shutdown);

httpServer.listen(0, "127.0.0.1", () => {
  const { port } = httpServer.address();
  if (process.send) process.send({ type: "listening", port, impl, pid: process.pid });
  else process.stdout.write(`LISTENING ${port}\n`);
});
