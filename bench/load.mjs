// The load generator: a cheap client speaking Engine.IO v4 + Socket.IO v5 directly over `ws`
// (and over plain HTTP for long-polling), so that it costs little per connection and per message
// and the figures are the server's, not the client's.
//
// Started by bench/run.mjs with an IPC channel: it receives one { type: "run", scenario, port,
// params } message, runs that scenario against the server, replies { type: "result", result }
// and exits. Standalone (for debugging):
//
//   node bench/load.mjs --port 3000 --scenario echo-closed [--duration 3] [--clients 50] ...
//
// Every scenario is bounded in time and count and the process ends by itself (a hard deadline
// kills it if something hangs). Server figures come from the application's `stats` event, asked
// over a separate "control" socket that does not join the room "all".
import fs from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import { pollingRequest } from "./polling-request.mjs";

const EIO_PATH = "/socket.io/";

// ---------------------------------------------------------------------------------------------
// WebSocket client

function wsUrl(port) {
  return `ws://127.0.0.1:${port}${EIO_PATH}?EIO=4&transport=websocket`;
}

// Opens an Engine.IO session over WebSocket and connects to the main namespace. Resolves with the
// `ws` once "40{...}" arrives. Pings ("2") are answered ("3"); every other Socket.IO packet goes
// to `onPacket(ws, data)` with `data` the raw Buffer.
function connectSio(port, { auth, onPacket, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(port), { perMessageDeflate: false });
    let connected = false;
    const timer = setTimeout(() => {
      if (!connected) {
        ws.terminate();
        reject(new Error("timed out connecting"));
      }
    }, timeoutMs);
    ws.on("message", (data) => {
      const c0 = data[0];
      if (c0 === 0x32 /* "2" ping */) {
        ws.send("3");
        return;
      }
      if (c0 === 0x34 /* "4" message */) {
        if (!connected) {
          if (data[1] === 0x30 /* "0" connect */) {
            connected = true;
            clearTimeout(timer);
            resolve(ws);
          } else if (data[1] === 0x34 /* "4" connect_error */) {
            clearTimeout(timer);
            ws.terminate();
            reject(new Error(`connect_error ${data.toString()}`));
          }
          return;
        }
        if (onPacket) onPacket(ws, data);
        return;
      }
      if (c0 === 0x30 /* "0" open */) {
        ws.send(auth ? `40${JSON.stringify(auth)}` : "40");
      }
    });
    ws.on("error", (err) => {
      if (!connected) {
        clearTimeout(timer);
        reject(err);
      }
    });
    ws.on("close", () => {
      if (!connected) {
        clearTimeout(timer);
        reject(new Error("closed before connecting"));
      }
    });
  });
}

// Parses "43<id>[...]" (a Buffer): returns the id, and the payload's JSON text.
function parseAck(data) {
  let i = 2;
  let id = 0;
  while (i < data.length && data[i] >= 0x30 && data[i] <= 0x39) {
    id = id * 10 + (data[i] - 0x30);
    i++;
  }
  return { id, rest: i };
}

// The control socket: asks the server for `stats` and drives the fan-out loop.
async function controlSocket(port) {
  const pending = new Map();
  let nextId = 0;
  const ws = await connectSio(port, {
    auth: { control: true },
    onPacket(_ws, data) {
      if (data[1] !== 0x33 /* "3" ack */) return;
      const { id, rest } = parseAck(data);
      const cb = pending.get(id);
      if (cb) {
        pending.delete(id);
        cb(JSON.parse(data.toString("utf8", rest)));
      }
    },
  });
  function call(event, arg) {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no answer to ${event}`));
      }, 30000);
      pending.set(id, (args) => {
        clearTimeout(timer);
        resolve(args[0]);
      });
      ws.send(`42${id}${JSON.stringify([event, arg])}`);
    });
  }
  return {
    ws,
    stats: (gc = false, snapshot = false) => call("stats", { gc, snapshot }),
    call,
    emit: (event, arg) => ws.send(`42${JSON.stringify([event, arg])}`),
    close: () => ws.terminate(),
  };
}

async function openMany(n, concurrency, factory) {
  const out = new Array(n);
  let next = 0;
  let errors = 0;
  let firstError;
  async function worker() {
    while (next < n) {
      const i = next++;
      try {
        out[i] = await factory(i);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (errors > 0) {
    throw new Error(`${errors} of ${n} connections failed: ${firstError && firstError.message}`);
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Busy and total jiffies per CPU from /proc/stat (Linux; null elsewhere).
function cpuTimes() {
  try {
    const out = [];
    for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const f = m[2].split(/\s+/).map(Number);
      const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (counted in user)
      out[Number(m[1])] = { busy: total - idle, total };
    }
    return out;
  } catch {
    return null;
  }
}

// Starts a measured window: our CPU time and the machine's per-CPU times.
function windowStart() {
  return { cpu: process.cpuUsage(), times: cpuTimes() };
}

// The server's CPU time (µs) and our own over a window, from two `stats` answers; with pinning,
// how busy the two pinned CPUs were in all, so that the share other processes took (noise from
// the rest of the machine) shows next to each figure.
function windowFigures(s0, s1, wallMs, w0, p) {
  const serverCpuUs = s1.cpu.user + s1.cpu.system - (s0.cpu.user + s0.cpu.system);
  const load1 = process.cpuUsage(w0.cpu);
  // The server's own clock between its two answers: the CPU time is measured between those.
  const serverWallMs = (s1.hrtime - s0.hrtime) / 1000;
  const serverCpuPct = (100 * serverCpuUs) / (serverWallMs * 1000);
  const loadCpuPct = (100 * (load1.user + load1.system)) / (wallMs * 1000);
  const out = {
    wallMs,
    serverWallMs,
    serverCpuUs,
    serverCpuPct,
    loadCpuPct,
    serverRss: s1.memory.rss,
    serverHeapUsed: s1.memory.heapUsed,
  };
  const t1 = cpuTimes();
  const busyPct = (i) => {
    const a = w0.times && w0.times[i];
    const b = t1 && t1[i];
    if (!a || !b || b.total === a.total) return null;
    return (100 * (b.busy - a.busy)) / (b.total - a.total);
  };
  if (p.serverCpu != null) {
    const b = busyPct(p.serverCpu);
    if (b != null) out.otherOnServerCpuPct = Math.max(0, b - serverCpuPct);
  }
  if (p.loadCpu != null) {
    const b = busyPct(p.loadCpu);
    if (b != null) out.otherOnLoadCpuPct = Math.max(0, b - loadCpuPct);
  }
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function latencySummary(samples, n) {
  const s = Float64Array.from(samples.subarray(0, n)).sort();
  return { p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: n ? s[n - 1] : null };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

// Idle connections: heap and RSS per connection (after a forced GC), connections/s during ramp-up.
async function idle(port, p) {
  const ctl = await controlSocket(port);
  await sleep(300);
  const s0 = await ctl.stats(true);
  const t0 = performance.now();
  const sockets = await openMany(p.count, p.concurrency, () => connectSio(port));
  const rampMs = performance.now() - t0;
  const sRamp = await ctl.stats(false);
  await sleep(p.settleMs);
  const s1 = await ctl.stats(true);
  // Taken after the measurement: a snapshot costs time and memory of its own.
  const snap = p.snapshot ? await ctl.stats(true, true) : null;
  const n = p.count;
  const result = {
    connections: n,
    serverSockets: s1.sockets,
    rampMs,
    connectionsPerSec: (n * 1000) / rampMs,
    cpuUsPerConnection: (sRamp.cpu.user + sRamp.cpu.system - (s0.cpu.user + s0.cpu.system)) / n,
    heapPerConnection: (s1.memory.heapUsed - s0.memory.heapUsed) / n,
    rssPerConnection: (s1.memory.rss - s0.memory.rss) / n,
    externalPerConnection: (s1.memory.external - s0.memory.external) / n,
    before: s0.memory,
    after: s1.memory,
    snapshot: snap && snap.snapshot,
  };
  for (const ws of sockets) ws.terminate();
  ctl.close();
  return result;
}

// Fan-out: `clients` sockets in "all"; the server broadcasts ~100-byte "tick" events as fast as
// they are received. Delivered messages/s and server CPU per delivered message.
async function fanout(port, p) {
  let delivered = 0;
  const onPacket = (_ws, data) => {
    if (data[1] === 0x32 /* "2" event */) delivered++;
  };
  const ctl = await controlSocket(port);
  const sockets = await openMany(p.clients, p.concurrency, () => connectSio(port, { onPacket }));
  const on = await ctl.call("fanout", { on: true, clients: p.clients, window: p.window });
  const progress = setInterval(() => ctl.emit("progress", delivered), 5);
  await sleep(p.warmupMs);
  const s0 = await ctl.stats();
  const l0 = windowStart();
  const d0 = delivered;
  const t0 = performance.now();
  await sleep(p.durationMs);
  const s1 = await ctl.stats();
  const d1 = delivered;
  const wallMs = performance.now() - t0;
  const w = windowFigures(s0, s1, wallMs, l0, p);
  clearInterval(progress);
  const off = await ctl.call("fanout", { on: false });
  // Every broadcast must reach every client: wait (bounded) for the last ones, count the missing.
  const expected = (off.sent - on.sent) * p.clients;
  const until = performance.now() + 3000;
  while (delivered < expected && performance.now() < until) await sleep(10);
  // Work and CPU time both counted by the server between its two answers (the load generator's
  // count lags by up to `window` broadcasts); the delivered count is there to check against.
  const messages = (s1.broadcasts - s0.broadcasts) * p.clients;
  const result = {
    clients: p.clients,
    messages,
    messagesPerSec: (messages * 1000) / w.serverWallMs,
    broadcastsPerSec: ((s1.broadcasts - s0.broadcasts) * 1000) / w.serverWallMs,
    deliveredPerSec: ((d1 - d0) * 1000) / wallMs,
    undelivered: expected - delivered,
    cpuUsPerMessage: w.serverCpuUs / messages,
    ...w,
  };
  for (const ws of sockets) ws.terminate();
  ctl.close();
  return result;
}

// Echo with ack. Open loop at a fixed rate (p.rate > 0) or closed loop (each client keeps one
// echo outstanding). Latency from the send to the ack; server CPU per echo.
async function echo(port, p) {
  const payload = JSON.stringify("hello from the load generator, 48 bytes of text");
  const maxSamples = 2_000_000;
  const samples = new Float64Array(maxSamples);
  let nSamples = 0;
  let measuring = false;
  let acked = 0;
  let outstanding = 0;
  let running = true;
  const clients = [];

  function send(c) {
    const id = c.nextId++;
    c.pending.set(id, performance.now());
    outstanding++;
    c.ws.send(`42${id}["echo",${payload}]`);
  }

  function onAck(c, data) {
    const { id } = parseAck(data);
    const t = c.pending.get(id);
    if (t === undefined) return;
    c.pending.delete(id);
    outstanding--;
    acked++;
    if (measuring && nSamples < maxSamples) samples[nSamples++] = performance.now() - t;
    if (p.rate === 0 && running) send(c);
  }

  const ctl = await controlSocket(port);
  await openMany(p.clients, p.concurrency, async (i) => {
    const c = { ws: null, nextId: 0, pending: new Map() };
    clients[i] = c;
    c.ws = await connectSio(port, {
      onPacket(_ws, data) {
        if (data[1] === 0x33 /* "3" ack */) onAck(c, data);
      },
    });
  });

  let pacer = null;
  let shed = 0;
  if (p.rate > 0) {
    // Open loop: every millisecond, send what the schedule says is due, round-robin over the
    // clients; refuse to pile up more than `maxOutstanding` (counted as shed, reported).
    const start = performance.now();
    let due = 0;
    let rr = 0;
    pacer = setInterval(() => {
      const target = Math.floor(((performance.now() - start) * p.rate) / 1000);
      while (due < target) {
        due++;
        if (outstanding >= p.maxOutstanding) {
          shed++;
          continue;
        }
        send(clients[rr]);
        rr = (rr + 1) % clients.length;
      }
    }, 1);
  } else {
    for (const c of clients) send(c);
  }

  await sleep(p.warmupMs);
  const s0 = await ctl.stats();
  const l0 = windowStart();
  const a0 = acked;
  const shed0 = shed;
  measuring = true;
  const t0 = performance.now();
  await sleep(p.durationMs);
  const s1 = await ctl.stats();
  measuring = false;
  const a1 = acked;
  const wallMs = performance.now() - t0;
  const w = windowFigures(s0, s1, wallMs, l0, p);
  running = false;
  if (pacer) clearInterval(pacer);
  const echoes = a1 - a0;
  const result = {
    mode: p.rate > 0 ? "rate" : "closed",
    clients: p.clients,
    targetRate: p.rate,
    echoes,
    echoesPerSec: (echoes * 1000) / wallMs,
    shed: shed - shed0,
    cpuUsPerEcho: w.serverCpuUs / echoes,
    ...latencySummary(samples, nSamples),
    ...w,
  };
  // Let what is in flight drain (bounded), then leave.
  const drainUntil = performance.now() + 2000;
  while (outstanding > 0 && performance.now() < drainUntil) await sleep(20);
  for (const c of clients) c.ws.terminate();
  ctl.close();
  return result;
}

// Handshakes: `concurrency` loops, each opening a WebSocket session, connecting to "/" (joining
// "all"), disconnecting ("41") and closing, then again. Open+close per second, CPU per handshake.
async function handshakes(port, p) {
  const ctl = await controlSocket(port);
  let running = true;
  let done = 0;
  let errors = 0;
  async function loop() {
    while (running) {
      try {
        const ws = await connectSio(port);
        await new Promise((resolve) => {
          ws.once("close", resolve);
          ws.send("41");
          ws.close();
        });
        done++;
      } catch {
        errors++;
        await sleep(10);
      }
    }
  }
  const loops = Array.from({ length: p.concurrency }, loop);
  await sleep(p.warmupMs);
  const s0 = await ctl.stats();
  const l0 = windowStart();
  const d0 = done;
  const e0 = errors;
  const t0 = performance.now();
  await sleep(p.durationMs);
  const s1 = await ctl.stats();
  const d1 = done;
  const wallMs = performance.now() - t0;
  const w = windowFigures(s0, s1, wallMs, l0, p);
  running = false;
  await Promise.race([Promise.all(loops), sleep(5000)]);
  ctl.close();
  const n = d1 - d0;
  return {
    concurrency: p.concurrency,
    handshakes: n,
    handshakesPerSec: (n * 1000) / wallMs,
    errors: errors - e0,
    cpuUsPerHandshake: w.serverCpuUs / n,
    ...w,
  };
}

// HTTP long-polling: `clients` sessions, each keeping one GET pending and POSTing an echo with
// ack once the previous ack came back on the GET. A round trip = one POST + one GET.
async function polling(port, p) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: p.clients * 2 + 4 });
  const payload = JSON.stringify("hello from the load generator, 48 bytes of text");
  let running = true;
  let measuring = false;
  let trips = 0;
  let errors = 0;
  const samples = new Float64Array(2_000_000);
  let nSamples = 0;

  const request = (method, sid, body) => pollingRequest(agent, port, method, sid, body);

  async function session() {
    const open = await request("GET", null);
    if (open[0] !== "0") throw new Error(`unexpected open packet ${open}`);
    const sid = JSON.parse(open.slice(1)).sid;
    await request("POST", sid, "40");
    // POSTs are serialized (the server refuses overlapping ones); queued bodies go together.
    let posting = false;
    const queue = [];
    function post(packet) {
      queue.push(packet);
      if (posting) return;
      posting = true;
      (async () => {
        while (queue.length > 0) {
          const body = queue.splice(0).join("\x1e");
          await request("POST", sid, body);
        }
        posting = false;
      })().catch(() => {
        errors++;
        posting = false;
      });
    }
    let nextId = 0;
    let sentAt = 0;
    let connected = false;
    const sendEcho = () => {
      sentAt = performance.now();
      post(`42${nextId++}["echo",${payload}]`);
    };
    while (running) {
      const text = await request("GET", sid);
      for (const packet of text.split("\x1e")) {
        if (packet === "2") post("3");
        else if (packet.startsWith("40")) {
          connected = true;
          sendEcho();
        } else if (packet.startsWith("43")) {
          trips++;
          if (measuring) samples[nSamples++] = performance.now() - sentAt;
          if (running) sendEcho();
        } else if (packet === "1") return;
      }
      if (!connected) throw new Error("no connect packet");
    }
    // Leave the session: the server closes it on "1".
    post("1");
  }

  const ctl = await controlSocket(port);
  const sessions = Array.from({ length: p.clients }, () =>
    session().catch(() => {
      errors++;
    }),
  );
  await sleep(p.warmupMs);
  const s0 = await ctl.stats();
  const l0 = windowStart();
  const r0 = trips;
  const e0 = errors;
  measuring = true;
  const t0 = performance.now();
  await sleep(p.durationMs);
  const s1 = await ctl.stats();
  measuring = false;
  const r1 = trips;
  const wallMs = performance.now() - t0;
  const w = windowFigures(s0, s1, wallMs, l0, p);
  running = false;
  await Promise.race([Promise.all(sessions), sleep(3000)]);
  agent.destroy();
  ctl.close();
  const n = r1 - r0;
  return {
    clients: p.clients,
    roundTrips: n,
    roundTripsPerSec: (n * 1000) / wallMs,
    errors: errors - e0,
    cpuUsPerRoundTrip: w.serverCpuUs / n,
    ...latencySummary(samples, nSamples),
    ...w,
  };
}

// ---------------------------------------------------------------------------------------------
// Cluster scenarios: several server processes on one Redis (p.ports, the first one is where
// broadcasts and requests start); a control socket on each node for its figures.

// Opens `total` clients spread round-robin over the nodes; `options(node)` gives each node's
// connect options. Returns the sockets and how many landed on each node.
async function openSpread(ports, total, concurrency, options) {
  const perNode = ports.map(
    (_, i) => Math.floor(total / ports.length) + (i < total % ports.length),
  );
  const sockets = await openMany(total, concurrency, (i) =>
    connectSio(ports[i % ports.length], options(i % ports.length)),
  );
  return { sockets, perNode };
}

const statsAll = (ctls) => Promise.all(ctls.map((c) => c.stats()));
const cpuOf = (s) => s.cpu.user + s.cpu.system;

// Fan-out across nodes: clients spread over the nodes, the first node broadcasts "tick" to "all"
// as fast as they are received (the same flow control as `fanout`, over the sum of all clients).
// Delivered messages/s; server CPU per delivered message, on each node and over all of them.
async function clusterFanout(_port, p) {
  const ports = p.ports;
  let delivered = 0;
  const onPacket = (_ws, data) => {
    if (data[1] === 0x32 /* "2" event */) delivered++;
  };
  const ctls = await Promise.all(ports.map((port) => controlSocket(port)));
  const { sockets, perNode } = await openSpread(ports, p.clients, p.concurrency, () => ({
    onPacket,
  }));
  const on = await ctls[0].call("fanout", { on: true, clients: p.clients, window: p.window });
  const progress = setInterval(() => ctls[0].emit("progress", delivered), 5);
  await sleep(p.warmupMs);
  const s0 = await statsAll(ctls);
  const l0 = windowStart();
  const t0 = performance.now();
  await sleep(p.durationMs);
  const s1 = await statsAll(ctls);
  const wallMs = performance.now() - t0;
  const w = windowFigures(s0[0], s1[0], wallMs, l0, {});
  clearInterval(progress);
  const off = await ctls[0].call("fanout", { on: false });
  const expected = (off.sent - on.sent) * p.clients;
  const until = performance.now() + 5000;
  while (delivered < expected && performance.now() < until) await sleep(10);
  const broadcasts = s1[0].broadcasts - s0[0].broadcasts;
  const messages = broadcasts * p.clients;
  const result = {
    nodes: ports.length,
    clients: p.clients,
    clientsPerNode: perNode,
    broadcasts,
    messages,
    messagesPerSec: (messages * 1000) / w.serverWallMs,
    undelivered: expected - delivered,
    ...w,
  };
  let cpuAll = 0;
  const pcts = [];
  ports.forEach((_, i) => {
    const cpu = cpuOf(s1[i]) - cpuOf(s0[i]);
    cpuAll += cpu;
    // node 1 broadcasts; every node's CPU is divided by what its own clients received
    result[`cpuUsPerMessageNode${i + 1}`] = cpu / (broadcasts * perNode[i]);
    pcts.push((100 * cpu) / (s1[i].hrtime - s0[i].hrtime || 1));
  });
  result.cpuUsPerMessage = cpuAll / messages;
  result.serverCpuUs = cpuAll;
  result.serverCpuPct = pcts.reduce((a, b) => a + b, 0);
  result.nodeCpuPct = pcts;
  for (const ws of sockets) ws.terminate();
  for (const c of ctls) c.close();
  return result;
}

// Cross-node requests from the first node, each kind in a closed loop (one request at a time):
// latency p50/p99 and the CPU of all nodes per request.
async function clusterRequests(_port, p) {
  const ports = p.ports;
  const ctls = await Promise.all(ports.map((port) => controlSocket(port)));
  const { sockets } = await openSpread(ports, p.clients, p.concurrency, () => ({}));
  const l0 = windowStart();
  const t0 = performance.now();
  const result = { nodes: ports.length, clients: p.clients };
  let cpuAll = 0;
  let serverWallMs = 0;
  for (const kind of ["fetchSockets", "serverSideEmit"]) {
    const warm = await ctls[0].call("requests", { kind, durationMs: p.warmupMs });
    if (warm.error) throw new Error(warm.error);
    const s0 = await statsAll(ctls);
    const r = await ctls[0].call("requests", { kind, durationMs: p.durationMs });
    const s1 = await statsAll(ctls);
    if (r.error) throw new Error(r.error);
    const cpu = s1.reduce((sum, s, i) => sum + cpuOf(s) - cpuOf(s0[i]), 0);
    cpuAll += cpu;
    serverWallMs += (s1[0].hrtime - s0[0].hrtime) / 1000;
    Object.assign(result, {
      [`${kind}P50Ms`]: r.p50Ms,
      [`${kind}P99Ms`]: r.p99Ms,
      [`${kind}PerSec`]: (r.count * 1000) / p.durationMs,
      [`${kind}CpuUs`]: cpu / r.count,
      [`${kind}Answers`]: r.answers,
    });
  }
  const wallMs = performance.now() - t0;
  result.serverCpuPct = (100 * cpuAll) / (serverWallMs * 1000);
  result.loadCpuPct = (100 * cpuUsage(l0)) / (wallMs * 1000);
  for (const ws of sockets) ws.terminate();
  for (const c of ctls) c.close();
  return result;
}

const cpuUsage = (w0) => {
  const c = process.cpuUsage(w0.cpu);
  return c.user + c.system;
};

// Asks the runner (which owns the private Redis and the counting proxies) for Redis's counters.
let probeId = 0;
const probeWaiters = new Map();
function redisProbe(channels = false) {
  return new Promise((resolve, reject) => {
    const id = ++probeId;
    const timer = setTimeout(() => reject(new Error("no answer to the Redis probe")), 10000);
    probeWaiters.set(id, (data) => {
      clearTimeout(timer);
      resolve(data);
    });
    process.send({ type: "probe", id, channels });
  });
}
process.on("message", (msg) => {
  if (msg && msg.type === "probe" && probeWaiters.has(msg.id)) {
    const done = probeWaiters.get(msg.id);
    probeWaiters.delete(msg.id);
    done(msg.data);
  }
});

// Redis traffic per room broadcast: p.clients spread over the nodes; the clients of the nodes in
// p.roomNodes join the room "r1", so the other nodes have no member of it. The first node
// broadcasts p.broadcasts ticks to "r1"; Redis's own counters (commands, bytes in and out) and
// the bytes each node's Redis connections received (through the runner's counting proxies) are
// compared before and after. With p.mustSkip, a node without members that received anything is
// an error.
async function clusterTraffic(_port, p) {
  const ports = p.ports;
  const ticks = ports.map(() => 0);
  const ctls = await Promise.all(ports.map((port) => controlSocket(port)));
  const inRoom = (node) => p.roomNodes.includes(node);
  const { sockets, perNode } = await openSpread(ports, p.clients, p.concurrency, (node) => ({
    auth: inRoom(node) ? { rooms: ["r1"] } : undefined,
    onPacket(_ws, data) {
      if (data[1] === 0x32 /* "2" event */) ticks[node]++;
    },
  }));
  const members = perNode.reduce((sum, n, node) => sum + (inRoom(node) ? n : 0), 0);
  const received = () => ticks.reduce((a, b) => a + b, 0);
  // Subscriptions to the room's channel (dynamic mode) are made as sockets join: wait until a
  // broadcast reaches every member, then until nothing more is in flight.
  const ready = performance.now() + 15000;
  for (;;) {
    const before = received();
    await ctls[0].call("burst", { room: "r1", count: 1 });
    const until = performance.now() + 500;
    while (received() < before + members && performance.now() < until) await sleep(5);
    if (received() === before + members) break;
    if (performance.now() > ready) throw new Error("the room's members never all got a broadcast");
  }
  await sleep(300);
  const s0 = await statsAll(ctls);
  const r0 = await redisProbe();
  const t0 = ticks.slice();
  const expected = received() + p.broadcasts * members;
  await ctls[0].call("burst", { room: "r1", count: p.broadcasts });
  const until = performance.now() + 30000;
  while (received() < expected && performance.now() < until) await sleep(10);
  if (received() < expected)
    throw new Error(
      `${expected - received()} of ${p.broadcasts * members} messages not delivered ` +
        `(received per node: ${ticks.map((x, i) => x - t0[i]).join(", ")}; clients per node: ${perNode.join(", ")})`,
    );
  // what would reach the nodes without members has had time to arrive
  await sleep(300);
  const r1 = await redisProbe(true);
  const s1 = await statsAll(ctls);
  const b = p.broadcasts;
  const cpuPerBroadcast = ctls.map((_, i) => (cpuOf(s1[i]) - cpuOf(s0[i])) / p.broadcasts);
  const toNode = r1.toNode.map((x, i) => x - r0.toNode[i]);
  const fromNode = r1.fromNode.map((x, i) => x - r0.fromNode[i]);
  const skipped = ports.map((_, i) => i).filter((i) => !inRoom(i));
  const bytesToNonMembers = skipped.reduce((sum, i) => sum + toNode[i], 0);
  const result = {
    nodes: ports.length,
    clientsPerNode: perNode,
    roomNodes: p.roomNodes,
    broadcasts: b,
    redisCommandsPerBroadcast: (r1.commands - r0.commands - 1) / b,
    commandsByName: Object.fromEntries(
      Object.entries(r1.byCommand)
        .map(([k, v]) => [k, (v - (r0.byCommand[k] ?? 0) - (k === "info" ? 1 : 0)) / b])
        .filter(([, v]) => v > 0),
    ),
    redisBytesInPerBroadcast: (r1.netIn - r0.netIn - r1.requestBytes) / b,
    redisBytesOutPerBroadcast: (r1.netOut - r0.netOut - r0.replyBytes) / b,
    bytesToNodePerBroadcast: toNode.map((x) => x / b),
    bytesFromNodePerBroadcast: fromNode.map((x) => x / b),
    // a node counts as reached when Redis sent it at least one byte per broadcast
    nodesReached: toNode.filter((x) => x >= b).length,
    bytesToNonMembersPerBroadcast: bytesToNonMembers / b,
    redisCpuUsPerBroadcast: (r1.cpuUs - r0.cpuUs) / b,
    cpuUsPerBroadcastPerNode: cpuPerBroadcast,
    // what a node without members pays for each broadcast it is sent anyway (decode, drop)
    nonMemberCpuUsPerBroadcast:
      skipped.reduce((sum, i) => sum + cpuPerBroadcast[i], 0) / (skipped.length || 1),
    ticksPerNode: ticks.map((x, i) => x - t0[i]),
    subscribers: r1.subscribers,
  };
  if (p.mustSkip && bytesToNonMembers > 0)
    throw new Error(
      `a room broadcast reached a node without members of the room: ${JSON.stringify(result)}`,
    );
  for (const ws of sockets) ws.terminate();
  for (const c of ctls) c.close();
  return result;
}

export const SCENARIOS = {
  "cluster-fanout": clusterFanout,
  "cluster-requests": clusterRequests,
  "cluster-traffic": clusterTraffic,
  idle,
  fanout,
  "echo-rate": echo,
  "echo-closed": echo,
  handshakes,
  polling,
};

// ---------------------------------------------------------------------------------------------
// Process entry

async function runOne(msg) {
  const deadline = setTimeout(() => {
    const error = `load generator deadline (${msg.params.deadlineMs} ms) passed`;
    if (process.send) process.send({ type: "result", error }, () => process.exit(2));
    else {
      console.error(error);
      process.exit(2);
    }
  }, msg.params.deadlineMs ?? 120000);
  deadline.unref();
  const fn = SCENARIOS[msg.scenario];
  if (!fn) throw new Error(`unknown scenario ${msg.scenario}`);
  return fn(msg.port, msg.params);
}

function finish(reply) {
  if (process.send) process.send(reply, () => process.exit(reply.error ? 1 : 0));
  else {
    console.log(JSON.stringify(reply, null, 2));
    process.exit(reply.error ? 1 : 0);
  }
}

function cliArg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

if (process.send) {
  process.once("message", (msg) => {
    runOne(msg).then(
      (result) => finish({ type: "result", result }),
      (err) => finish({ type: "result", error: String((err && err.stack) || err) }),
    );
  });
} else if (cliArg("port")) {
  const num = (name, dflt) => (cliArg(name) !== undefined ? Number(cliArg(name)) : dflt);
  const params = {
    count: num("count", 1000),
    concurrency: num("concurrency", 50),
    clients: num("clients", 50),
    rate: num("rate", cliArg("scenario") === "echo-rate" ? 20000 : 0),
    maxOutstanding: num("max-outstanding", 20000),
    window: num("window", 50),
    warmupMs: num("warmup", 1) * 1000,
    durationMs: num("duration", 3) * 1000,
    settleMs: num("settle", 1) * 1000,
    snapshot: process.argv.includes("--snapshot"),
  };
  runOne({ scenario: cliArg("scenario"), port: Number(cliArg("port")), params }).then(
    (result) => finish({ type: "result", result }),
    (err) => finish({ type: "result", error: String((err && err.stack) || err) }),
  );
}
