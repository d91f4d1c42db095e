// The benchmark runner (`npm run bench`): every scenario on socket.io 4.8 and on Switchyard, each
// run in a fresh server process and a fresh load-generator process, the two implementations
// interleaved, N repetitions; medians and min-max; a table on stdout, a JSON record in
// bench/results/ and the chart bench/chart.svg.
//
//   node bench/run.mjs [--quick] [--reps N] [--only idle-10k,fanout,...]
//                      [--baseline socket.io] [--candidate switchyard] [--no-pin]
//                      [--profile] [--heap-snapshot] [--no-chart] [--no-cluster] [--out FILE]
//
// The cluster-* scenarios start a private redis-server (must be installed) on an ephemeral port;
// --no-cluster leaves them out.
// --metrics compares Switchyard with and without switchyard/metrics (the collector on, /metrics served);
// it leaves the published chart and table alone.
// --no-chart leaves bench/chart.svg and bench/latest.md (the published figures) as they are.
// --candidate socket.io runs an A/A comparison (socket.io against itself), which shows how much
// of a ratio is noise on this machine. --profile starts the servers with --cpu-prof and leaves
// the profiles in bench/results/profiles/; --heap-snapshot has the idle scenarios write a heap
// snapshot there once measured (bench/heap-summary.mjs reads it).
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeChart, writeMarkdown } from "./chart.mjs";
import {
  countingProxy,
  readRedisCounters,
  readSubscribers,
  respClient,
  startPrivateRedis,
} from "./cluster-redis.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
function opt(name, dflt) {
  const i = argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < argv.length ? argv[i + 1] : dflt;
}
const quick = flag("quick");
// --metrics: the cost of switchyard/metrics, Switchyard without it against Switchyard with it
const metricsOverhead = flag("metrics");
const options = {
  quick,
  reps: Number(opt("reps", quick ? 1 : 3)),
  baseline: opt("baseline", metricsOverhead ? "switchyard" : "socket.io"),
  candidate: opt(
    "candidate",
    metricsOverhead ? "switchyard+metrics" : (process.env.BENCH_CANDIDATE ?? "switchyard"),
  ),
  only: opt("only", null),
  pin: !flag("no-pin"),
  profile: flag("profile"),
  heapSnapshot: flag("heap-snapshot"),
  chart: !flag("no-chart") && !metricsOverhead,
  out: opt("out", null),
  // BENCH_DROP_REQUEST=1: both applications drop each connection's request (bench/app.mjs), recorded here.
  dropRequest: process.env.BENCH_DROP_REQUEST === "1",
};

// ---------------------------------------------------------------------------------------------
// Scenarios, figures and targets (targets: issue 17, ratios to socket.io, lower is better)

const W = quick ? { warmupMs: 1000, durationMs: 2000 } : { warmupMs: 2000, durationMs: 5000 };
// The cluster scenarios' windows: shorter, to keep the whole run well under 20 minutes.
const CW = quick ? { warmupMs: 500, durationMs: 1500 } : { warmupMs: 1000, durationMs: 3000 };

const SCENARIOS = [
  {
    name: "idle-2k",
    load: "idle",
    params: { count: 2000, concurrency: 50, settleMs: 1000 },
    figures: [
      { key: "heapPerConnection", label: "JS heap per connection", unit: "B" },
      { key: "rssPerConnection", label: "RSS per connection", unit: "B" },
      { key: "cpuUsPerConnection", label: "server CPU per connect", unit: "µs" },
      { key: "connectionsPerSec", label: "connections/s (ramp-up)", unit: "/s", higher: true },
    ],
  },
  {
    name: "idle-10k",
    load: "idle",
    params: { count: 10000, concurrency: 50, settleMs: 1500 },
    figures: [
      { key: "heapPerConnection", label: "JS heap per connection", unit: "B", target: 0.4 },
      { key: "rssPerConnection", label: "RSS per connection", unit: "B", target: 0.5 },
      { key: "cpuUsPerConnection", label: "server CPU per connect", unit: "µs" },
      { key: "connectionsPerSec", label: "connections/s (ramp-up)", unit: "/s", higher: true },
    ],
  },
  {
    name: "fanout",
    load: "fanout",
    params: { clients: 1000, concurrency: 50, window: 50, ...W },
    figures: [
      { key: "cpuUsPerMessage", label: "server CPU per delivered msg", unit: "µs", target: 0.15 },
      { key: "messagesPerSec", label: "delivered msgs/s", unit: "/s", higher: true },
    ],
  },
  {
    name: "echo-20k",
    load: "echo-rate",
    params: { clients: 100, concurrency: 50, rate: 20000, maxOutstanding: 20000, ...W },
    figures: [
      { key: "cpuUsPerEcho", label: "server CPU per echo", unit: "µs", target: 0.7 },
      { key: "echoesPerSec", label: "echoes/s achieved", unit: "/s", higher: true },
      { key: "p50Ms", label: "latency p50", unit: "ms" },
      // "no worse than socket.io"
      { key: "p99Ms", label: "latency p99", unit: "ms", target: 1 },
    ],
  },
  {
    name: "echo-closed",
    load: "echo-closed",
    params: { clients: 100, concurrency: 50, rate: 0, ...W },
    figures: [
      { key: "cpuUsPerEcho", label: "server CPU per echo", unit: "µs" },
      { key: "echoesPerSec", label: "echoes/s", unit: "/s", higher: true },
      { key: "p50Ms", label: "latency p50", unit: "ms" },
      { key: "p99Ms", label: "latency p99", unit: "ms" },
    ],
  },
  {
    name: "handshakes",
    load: "handshakes",
    params: { concurrency: 50, ...W },
    figures: [
      { key: "cpuUsPerHandshake", label: "server CPU per open+close", unit: "µs", target: 0.6 },
      { key: "handshakesPerSec", label: "open+close/s", unit: "/s", higher: true },
    ],
  },
  {
    name: "polling",
    load: "polling",
    params: { clients: 50, ...W },
    figures: [
      { key: "cpuUsPerRoundTrip", label: "server CPU per round trip", unit: "µs", target: 0.7 },
      { key: "roundTripsPerSec", label: "round trips/s", unit: "/s", higher: true },
      { key: "p50Ms", label: "latency p50", unit: "ms" },
    ],
  },
  // Cluster scenarios (issue 17): server processes on a private Redis; Switchyard with its Redis
  // adapter, socket.io with @socket.io/redis-adapter 8; not pinned to CPUs (more processes than
  // cores). `--no-cluster` leaves them out.
  ...[2, 3].map((nodes) => ({
    name: `cluster-fanout-${nodes}`,
    load: "cluster-fanout",
    cluster: { nodes, adapter: "classic" },
    params: { clients: 1000, concurrency: 50, window: 50, ...CW },
    figures: [
      { key: "cpuUsPerMessage", label: "server CPU per delivered msg, all nodes", unit: "µs" },
      ...Array.from({ length: nodes }, (_, i) => ({
        key: `cpuUsPerMessageNode${i + 1}`,
        label: `server CPU per delivered msg, node ${i + 1}${i === 0 ? " (broadcasts)" : ""}`,
        unit: "µs",
      })),
      { key: "messagesPerSec", label: "delivered msgs/s, all nodes", unit: "/s", higher: true },
    ],
  })),
  {
    name: "cluster-requests",
    load: "cluster-requests",
    cluster: { nodes: 3, adapter: "classic" },
    params: { clients: 300, concurrency: 50, ...CW },
    figures: [
      { key: "fetchSocketsP50Ms", label: "fetchSockets latency p50", unit: "ms" },
      { key: "fetchSocketsP99Ms", label: "fetchSockets latency p99", unit: "ms" },
      { key: "fetchSocketsCpuUs", label: "fetchSockets: CPU of all nodes per call", unit: "µs" },
      { key: "serverSideEmitP50Ms", label: "serverSideEmit+ack latency p50", unit: "ms" },
      { key: "serverSideEmitP99Ms", label: "serverSideEmit+ack latency p99", unit: "ms" },
      {
        key: "serverSideEmitCpuUs",
        label: "serverSideEmit+ack: CPU of all nodes per call",
        unit: "µs",
      },
    ],
  },
  ...["classic", "sharded", "dynamic"].map((adapter) => ({
    name: `cluster-traffic-${adapter}`,
    load: "cluster-traffic",
    cluster: { nodes: 3, adapter, countBytes: true },
    // nodes 1 and 2 have members of the room, node 3 has none
    params: {
      clients: 60,
      concurrency: 30,
      roomNodes: [0, 1],
      broadcasts: 2000,
      mustSkip: adapter === "dynamic",
    },
    figures: [
      {
        key: "redisCommandsPerBroadcast",
        label: "Redis commands per room broadcast",
        unit: "cmds",
        chart: false,
      },
      {
        key: "redisBytesInPerBroadcast",
        label: "bytes into Redis per room broadcast",
        unit: "bytes", // not "B": the table would round them to KiB
        chart: false,
      },
      {
        key: "redisBytesOutPerBroadcast",
        label: "bytes out of Redis per room broadcast",
        unit: "bytes",
        chart: false,
      },
      {
        key: "redisCpuUsPerBroadcast",
        label: "Redis CPU per room broadcast",
        unit: "µs",
        chart: false,
      },
      {
        key: "nonMemberCpuUsPerBroadcast",
        label: "CPU per room broadcast, node without members",
        unit: "µs",
        chart: false,
      },
      {
        key: "nodesReached",
        label: "nodes reached (of 3; 2 have members)",
        unit: "nodes",
        chart: false,
      },
    ],
  })),
];

// Not a comparison of two implementations: Switchyard's polling round trip on the session's owner against the
// same forwarded from another node (bench/forwarded-polling.mjs), one figure pair with its ratio.
const FORWARDED = "forwarded-polling";
const runForwarded = !options.only || options.only.split(",").includes(FORWARDED);

const selected = options.only
  ? SCENARIOS.filter((s) => options.only.split(",").includes(s.name))
  : SCENARIOS.filter((s) => !(s.cluster && flag("no-cluster")));
if (selected.length === 0 && !runForwarded) {
  console.error(`--only matched nothing; scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Machine and versions

function readVersion(pkgDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function gitCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
  } catch {
    return null;
  }
}

function machineInfo() {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  let nproc = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // keep os's figure
  }
  return {
    nproc,
    cpuModel,
    memTotalMB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    loadavgAtStart: os.loadavg(),
  };
}

const machine = machineInfo();
const versions = {
  node: process.version,
  "socket.io": readVersion(path.join(root, "node_modules/socket.io")),
  "engine.io": readVersion(path.join(root, "node_modules/engine.io")),
  ws: readVersion(path.join(root, "node_modules/ws")),
  switchyard: `${readVersion(root)}${gitCommit() ? ` (${gitCommit()})` : ""}`,
};

// The CPUs this process may run on, from `taskset -cp` ("0,1", "0-3,8"); null without taskset.
function allowedCpus() {
  try {
    const out = execFileSync("taskset", ["-cp", String(process.pid)], { encoding: "utf8" });
    const list = out.slice(out.lastIndexOf(":") + 1).trim();
    const cpus = [];
    for (const part of list.split(",")) {
      const [a, b] = part.split("-").map(Number);
      for (let c = a; c <= (Number.isFinite(b) ? b : a); c++) cpus.push(c);
    }
    return cpus;
  } catch {
    return null;
  }
}
const cpus = options.pin ? allowedCpus() : null;
const pin = Boolean(cpus && cpus.length >= 2);
// The server on the first allowed CPU, the load generator on the second.
const SERVER_CPU = pin ? String(cpus[0]) : "0";
const LOAD_CPU = pin ? String(cpus[1]) : "1";

// ---------------------------------------------------------------------------------------------
// Processes

// Spawns `node args...` with the open-files limit raised to the hard limit, pinned to `cpu` when
// pinning, with an IPC channel (bash and taskset exec, so the pid is node's).
function spawnNode(nodeArgs, cpu) {
  const cmd =
    pin && cpu != null
      ? ["taskset", "-c", cpu, process.execPath, ...nodeArgs]
      : [process.execPath, ...nodeArgs];
  const child = spawn(
    "bash",
    ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "bash", ...cmd],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, DEBUG: "" },
    },
  );
  child.output = "";
  const keep = (d) => {
    child.output = (child.output + d.toString()).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return child;
}

function waitMessage(child, type, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no "${type}" message within ${timeoutMs} ms\n${child.output}`));
    }, timeoutMs);
    const onMessage = (msg) => {
      if (msg && msg.type === type) {
        cleanup();
        resolve(msg);
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${what} exited (${code ?? signal}) before "${type}"\n${child.output}`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    }
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(t);
}

// The private Redis of the cluster scenarios (started by main when one is selected).
let privateRedis = null;

// A cluster scenario: `nodes` server processes on the private Redis with a key of their own, then
// the load generator with all their ports. With countBytes, each node reaches Redis through a
// counting proxy, and the load generator may ask ("probe") for Redis's counters and the proxies'.
async function runCluster(scenario, impl, rep, serverArgs) {
  const { nodes, adapter, countBytes } = scenario.cluster;
  // the same length for both implementations: the key is in every message's channel name
  const key = `sy-bench-${scenario.name}-${rep}-${randomBytes(6).toString("hex")}`;
  const proxies = countBytes
    ? await Promise.all(Array.from({ length: nodes }, () => countingProxy(privateRedis.port)))
    : [];
  const servers = [];
  let load = null;
  let counters = null;
  try {
    for (let i = 0; i < nodes; i++) {
      const url = countBytes ? `redis://127.0.0.1:${proxies[i].port}` : privateRedis.url;
      // one profile per node
      const own = serverArgs.map((a) => a.replace(/\.cpuprofile$/, `-node${i + 1}.cpuprofile`));
      const args = [...own, "--adapter", adapter, "--redis", url, "--key", key];
      servers.push(spawnNode(args, null));
    }
    const ready = await Promise.all(
      servers.map((s, i) => waitMessage(s, "listening", 20000, `${impl} node ${i + 1}`)),
    );
    if (countBytes) counters = await respClient(privateRedis.port);
    load = spawnNode([path.join(here, "load.mjs")], null);
    load.on("message", (msg) => {
      if (!msg || msg.type !== "probe") return;
      void (async () => {
        const data = await readRedisCounters(counters);
        data.toNode = proxies.map((p) => p.counts.toNode);
        data.fromNode = proxies.map((p) => p.counts.fromNode);
        if (msg.channels) data.subscribers = await readSubscribers(counters);
        load.send({ type: "probe", id: msg.id, data });
      })().catch((err) => load.send({ type: "probe", id: msg.id, data: { error: String(err) } }));
    });
    const deadlineMs = 90000;
    const ports = ready.map((r) => r.port);
    load.send({
      type: "run",
      scenario: scenario.load,
      port: ports[0],
      params: { ...scenario.params, ports, deadlineMs },
    });
    const reply = await waitMessage(load, "result", deadlineMs + 10000, "load generator");
    if (reply.error) throw new Error(reply.error);
    return {
      scenario: scenario.name,
      impl,
      rep,
      serverPids: ready.map((r) => r.pid),
      result: reply.result,
    };
  } catch (err) {
    return { scenario: scenario.name, impl, rep, error: String(err.message ?? err) };
  } finally {
    if (load) await stop(load);
    await Promise.all(servers.map((s) => stop(s, options.profile ? 10000 : 3000)));
    if (counters) counters.close();
    for (const p of proxies) p.close();
  }
}

async function runOnce(scenario, impl, rep) {
  const serverArgs = ["--expose-gc"];
  if (options.heapSnapshot)
    fs.mkdirSync(path.join(here, "results", "profiles"), { recursive: true });
  if (options.profile) {
    const dir = path.join(here, "results", "profiles");
    fs.mkdirSync(dir, { recursive: true });
    serverArgs.push(
      "--cpu-prof",
      "--cpu-prof-dir",
      dir,
      "--cpu-prof-name",
      `${scenario.name}-${impl}-${rep}.cpuprofile`,
    );
  }
  serverArgs.push(path.join(here, "app.mjs"), "--impl", impl);
  if (scenario.cluster) return runCluster(scenario, impl, rep, serverArgs);
  const server = spawnNode(serverArgs, SERVER_CPU);
  let load = null;
  try {
    const { port, pid } = await waitMessage(server, "listening", 20000, `${impl} server`);
    load = spawnNode([path.join(here, "load.mjs")], LOAD_CPU);
    const deadlineMs = 90000;
    load.send({
      type: "run",
      scenario: scenario.load,
      port,
      params: {
        ...scenario.params,
        deadlineMs,
        snapshot: options.heapSnapshot,
        serverCpu: pin ? Number(SERVER_CPU) : null,
        loadCpu: pin ? Number(LOAD_CPU) : null,
      },
    });
    const reply = await waitMessage(load, "result", deadlineMs + 10000, "load generator");
    if (reply.error) throw new Error(reply.error);
    return { scenario: scenario.name, impl, rep, serverPid: pid, result: reply.result };
  } catch (err) {
    return { scenario: scenario.name, impl, rep, error: String(err.message ?? err) };
  } finally {
    if (load) await stop(load);
    await stop(server, options.profile ? 10000 : 3000);
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(runs) {
  const rows = [];
  for (const sc of selected) {
    for (const fig of sc.figures) {
      const vals = (impl) =>
        runs
          .filter((r) => r.scenario === sc.name && r.impl === impl && r.result)
          .map((r) => ({ rep: r.rep, v: r.result[fig.key] }))
          .filter((x) => typeof x.v === "number" && Number.isFinite(x.v));
      const b = vals(options.baseline);
      const cc = vals(labelC);
      const stat = (xs) =>
        xs.length
          ? {
              median: median(xs.map((x) => x.v)),
              min: Math.min(...xs.map((x) => x.v)),
              max: Math.max(...xs.map((x) => x.v)),
              n: xs.length,
            }
          : null;
      const sb = stat(b);
      const sc2 = stat(cc);
      const ratio = sb && sc2 && sb.median !== 0 ? sc2.median / sb.median : null;
      const paired = [];
      for (const x of cc) {
        const y = b.find((z) => z.rep === x.rep);
        if (y && y.v !== 0) paired.push(x.v / y.v);
      }
      rows.push({
        scenario: sc.name,
        figure: fig.key,
        label: fig.label,
        unit: fig.unit,
        higherIsBetter: Boolean(fig.higher),
        chart: fig.chart !== false,
        target: fig.target ?? null,
        baseline: sb,
        candidate: sc2,
        ratio,
        ratioMin: paired.length ? Math.min(...paired) : null,
        ratioMax: paired.length ? Math.max(...paired) : null,
        met: fig.target != null && ratio != null ? ratio <= fig.target : null,
      });
    }
  }
  return rows;
}

function fmt(v, unit) {
  if (v == null) return "-";
  if (unit === "B") return v >= 1024 ? `${(v / 1024).toFixed(1)}k` : v.toFixed(0);
  if (unit === "/s")
    return v >= 10000
      ? `${(v / 1000).toFixed(0)}k`
      : v >= 1000
        ? `${(v / 1000).toFixed(1)}k`
        : v.toFixed(0);
  if (unit === "ms") return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

function cell(s, unit) {
  if (!s) return "n/a";
  if (s.n === 1) return fmt(s.median, unit);
  return `${fmt(s.median, unit)} [${fmt(s.min, unit)}-${fmt(s.max, unit)}]`;
}

function printTable(rows) {
  const head = ["scenario", "figure", "unit", options.baseline, labelC, "ratio", "target", ""];
  const body = rows.map((r) => [
    r.scenario,
    r.label,
    r.unit,
    cell(r.baseline, r.unit),
    cell(r.candidate, r.unit),
    r.ratio == null
      ? "-"
      : r.ratioMin != null && r.candidate.n > 1
        ? `${r.ratio.toFixed(2)} [${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)}]`
        : r.ratio.toFixed(2),
    r.target != null ? `<= ${r.target}` : r.higherIsBetter ? "(higher=better)" : "",
    r.met == null ? "" : r.met ? "met" : "NOT MET",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols) =>
    cols
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  let last = null;
  for (const b of body) {
    console.log(line(b[0] === last ? ["", ...b.slice(1)] : b));
    last = b[0];
  }
}

// Server and load-generator CPU use during each measured window, to tell which side saturated.
function printSaturation(runs) {
  const lines = [];
  for (const sc of selected) {
    for (const impl of implsInOrder) {
      const rs = runs.filter((r) => r.scenario === sc.name && r.impl === impl && r.result);
      if (!rs.length || rs[0].result.serverCpuPct == null) continue;
      const s = median(rs.map((r) => r.result.serverCpuPct));
      const l = median(rs.map((r) => r.result.loadCpuPct));
      const pct = (x) => `${x.toFixed(0).padStart(3)}%`;
      let other = "";
      if (rs.every((r) => r.result.otherOnServerCpuPct != null)) {
        const os_ = Math.max(...rs.map((r) => r.result.otherOnServerCpuPct));
        const ol = Math.max(...rs.map((r) => r.result.otherOnLoadCpuPct));
        other = `   other processes on them (max): ${pct(os_)} / ${pct(ol)}${Math.max(os_, ol) > 15 ? "  (noisy)" : ""}`;
      }
      lines.push(
        `  ${sc.name.padEnd(12)} ${impl.padEnd(12)} server ${pct(s)}  load generator ${pct(l)}${other}`,
      );
    }
  }
  if (lines.length) {
    console.log("\nCPU use during the measured windows (100% = one core saturated):");
    for (const l of lines) console.log(l);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

const labelC =
  options.candidate === options.baseline ? `${options.candidate}#2` : options.candidate;
const implsInOrder = [options.baseline, labelC];

async function checkLoadable(impl) {
  const probe = spawnNode(
    ["-e", `require(${JSON.stringify(impl.replace(/\+metrics$/, ""))}).Server`],
    SERVER_CPU,
  );
  const { code } = await probe.exited;
  if (code !== 0) {
    console.error(`Cannot load the "${impl}" implementation:\n${probe.output}`);
    if (impl === "switchyard") console.error("Build it first: npm run build");
    process.exit(2);
  }
}

/** Runs bench/forwarded-polling.mjs (Switchyard only) and prints its figure; its JSON for the record. */
async function forwardedPolling() {
  const args = [
    path.join(here, "forwarded-polling.mjs"),
    "--json",
    "--reps",
    String(Math.max(options.reps, 3)),
  ];
  if (quick) args.push("--trips", "300");
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => (out += chunk));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) {
    console.log(`\n${FORWARDED}: FAILED (exit ${code})`);
    process.exitCode = 1;
    return { error: `exit ${code}` };
  }
  const r = JSON.parse(out.trim().split("\n").pop());
  const f = (x, d = 0) => `${x.median.toFixed(d)} [${x.min.toFixed(d)}-${x.max.toFixed(d)}]`;
  console.log(
    `\n${FORWARDED} (Switchyard, ${r.route}, ${r.reps} reps of ${r.roundTripsPerRun} round trips): ` +
      `server CPU per long-polling round trip, all processes`,
  );
  console.log(`  on the session's owner      ${f(r.owner.cpuUsPerRoundTrip)} µs`);
  console.log(
    `  forwarded from another node ${f(r.forwarded.cpuUsPerRoundTrip)} µs ` +
      `(relay ${f(r.forwarded.relayUs)}, primary ${f(r.forwarded.primaryUs)}, owner ${f(r.forwarded.ownerUs)})`,
  );
  console.log(`  ratio forwarded / owner     ${f(r.ratio, 2)}`);
  return r;
}

async function main() {
  const started = Date.now();
  await checkLoadable(options.baseline);
  if (options.candidate !== options.baseline) await checkLoadable(options.candidate);

  console.log(
    `Switchyard benchmark: ${options.baseline} vs ${labelC}, ${options.reps} repetition(s)${quick ? " (quick)" : ""}`,
  );
  console.log(
    `machine: ${machine.nproc} cores, ${machine.cpuModel}, load average ${machine.loadavgAtStart.map((x) => x.toFixed(2)).join(" ")}; ` +
      `node ${versions.node}, socket.io ${versions["socket.io"]}, switchyard ${versions.switchyard}; ` +
      (pin
        ? `server pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOAD_CPU}`
        : "no CPU pinning"),
  );

  if (selected.some((s) => s.cluster)) {
    privateRedis = await startPrivateRedis();
    console.log(`cluster scenarios: a private redis-server on port ${privateRedis.port}`);
  }

  const runs = [];
  for (let rep = 0; rep < options.reps; rep++) {
    for (const sc of selected) {
      // Interleave, alternating who goes first, so that drift in the machine's load hits both.
      const pair = [
        [options.baseline, options.baseline],
        [options.candidate, labelC],
      ];
      if (rep % 2 === 1) pair.reverse();
      for (const [impl, label] of pair) {
        const t = Date.now();
        const r = await runOnce(sc, impl, rep);
        r.impl = label;
        runs.push(r);
        const took = ((Date.now() - t) / 1000).toFixed(1);
        if (r.error)
          console.log(
            `  [rep ${rep + 1}] ${sc.name} on ${label}: FAILED (${took} s)\n${r.error.split("\n").slice(0, 8).join("\n")}`,
          );
        else {
          const brief = sc.figures.map((f) => `${f.key}=${fmt(r.result[f.key], f.unit)}`).join(" ");
          console.log(`  [rep ${rep + 1}] ${sc.name} on ${label}: ${brief} (${took} s)`);
        }
      }
    }
  }

  if (privateRedis) await privateRedis.stop();

  const rows = summarize(runs);
  if (rows.length > 0) {
    console.log("");
    printTable(rows);
    printSaturation(runs);
    console.log(
      "\nratio = " +
        labelC +
        " / " +
        options.baseline +
        " (medians; [min-max] of the per-repetition ratios). " +
        "Lower is better except where marked higher=better.",
    );
  }
  const forwarded = runForwarded ? await forwardedPolling() : undefined;

  const date = new Date(started);
  const record = {
    date: date.toISOString(),
    durationSec: (Date.now() - started) / 1000,
    options,
    machine: { ...machine, loadavgAtEnd: os.loadavg() },
    pinned: pin,
    versions,
    baseline: options.baseline,
    candidate: labelC,
    scenarios: selected.map((s) => ({ name: s.name, load: s.load, params: s.params })),
    summary: rows,
    runs,
    ...(forwarded ? { forwardedPolling: forwarded } : {}),
  };
  const out =
    options.out ??
    path.join(
      here,
      "results",
      `${date.toISOString().replace(/[:]/g, "-").replace(/\..*$/, "")}${quick ? "-quick" : ""}.json`,
    );
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`\nJSON record: ${path.relative(process.cwd(), out)}`);
  if (options.chart && rows.length > 0) {
    const chartPath = path.join(here, "chart.svg");
    const mdPath = path.join(here, "latest.md");
    writeChart(chartPath, record);
    writeMarkdown(mdPath, record);
    console.log(
      `chart: ${path.relative(process.cwd(), chartPath)}, table: ${path.relative(process.cwd(), mdPath)}`,
    );
  }
  console.log(`total time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const failed = runs.filter((r) => r.error).length;
  if (failed) {
    console.log(`${failed} run(s) failed`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
