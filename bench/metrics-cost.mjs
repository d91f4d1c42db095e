// The server's instructions per message on a fixed workload, with and without switchyard/metrics: what the
// metrics cost, counted by callgrind instead of timed (CPU time on the shared, loaded machine is noise).
//
//   npm run build && node bench/metrics-cost.mjs [--load echo|fanout|both] [--reps 3] [--no-valgrind]
//
// For each repetition and load, the two servers (bench/app.mjs with --impl switchyard and switchyard+metrics,
// the JIT on as in production) run under `valgrind --tool=callgrind --instr-atstart=no`, one after the other,
// alternating who goes first. This process drives them over raw `ws` WebSockets (Engine.IO 4, Socket.IO 5,
// no compression, as bench/load.mjs): a warm-up, then instrumentation on (`callgrind_control -i on`), a second
// warm-up, counters zeroed (`-z`), the measured part, and a dump (`-d`). The figure is the dump's instruction
// total divided by the messages of the measured part:
// - echo: ECHO_CLIENTS clients, each sending `echo` with an ack ECHO_ROUNDS times, one at a time; per echo.
// - fanout: FANOUT_CLIENTS clients in the room "all"; BURSTS times, the app broadcasts BURST "tick" events in
//   one tick (the `burst` event of bench/app.mjs, to the room "all") and every client receives them before the next burst; per
//   delivered message (broadcasts x clients).
// The workload does not depend on the machine's speed (no rate, no deadline), so the counts repeat.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const loads = opt("load", "both") === "both" ? ["echo", "fanout"] : [opt("load")];
const reps = Number(opt("reps", 3));
const valgrind = !argv.includes("--no-valgrind");
// --keep DIR: keep the callgrind dumps there (callgrind_annotate them to see where the difference goes)
const keep = opt("keep", null);

const ECHO_CLIENTS = 50;
const ECHO_ROUNDS = Number(opt("echo-rounds", 200)); // measured: 10,000 echoes
const ECHO_WARMUP = 200;
const FANOUT_CLIENTS = 200;
const BURST = 10;
const BURSTS = Number(opt("bursts", 25)); // measured: 250 broadcasts, 50,000 deliveries
const FANOUT_WARMUP = 60;
const ECHO_PAYLOAD = JSON.stringify({ seq: 0, pad: "x".repeat(48) });

function startServer(impl, outFile) {
  const app = [path.join(here, "app.mjs"), "--impl", impl];
  const child = valgrind
    ? spawn(
        "valgrind",
        [
          "--tool=callgrind",
          "--instr-atstart=no",
          "--separate-threads=yes",
          `--callgrind-out-file=${outFile}`,
          process.execPath,
          ...app,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      )
    : spawn(process.execPath, app, { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const port = new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}): ${err.slice(-2000)}`)));
  });
  return { child, port };
}

/** An Engine.IO 4 + Socket.IO 5 client over `ws`: resolves once connected to "/"; answers pings. */
function connect(port, auth, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
    });
    let connected = false;
    ws.on("message", (data) => {
      const s = data.toString();
      if (s === "2") return ws.send("3");
      if (s.startsWith("0")) return ws.send(auth ? `40${JSON.stringify(auth)}` : "40");
      if (!connected && s.startsWith("40")) {
        connected = true;
        return resolve(ws);
      }
      if (connected) onMessage(s);
    });
    ws.on("error", reject);
  });
}

async function echoLoad(port) {
  const clients = [];
  for (let i = 0; i < ECHO_CLIENTS; i++) {
    const c = { pending: null };
    c.ws = await connect(port, null, (s) => {
      if (s.startsWith("43") && c.pending) {
        const done = c.pending;
        c.pending = null;
        done();
      }
    });
    clients.push(c);
  }
  const echo = (c, id) =>
    new Promise((resolve) => {
      c.pending = resolve;
      c.ws.send(`42${id}["echo",${ECHO_PAYLOAD}]`);
    });
  const rounds = (n) =>
    Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < n; i++) await echo(c, i);
      }),
    );
  return {
    clients,
    warmup: () => rounds(ECHO_WARMUP),
    measured: () => rounds(ECHO_ROUNDS),
    messages: ECHO_CLIENTS * ECHO_ROUNDS,
  };
}

async function fanoutLoad(port) {
  let received = 0;
  let waiter = null;
  const onTick = (s) => {
    if (!s.startsWith('42["tick"')) return;
    received++;
    if (waiter && received >= waiter.until) {
      const w = waiter;
      waiter = null;
      w.resolve();
    }
  };
  const clients = [];
  for (let i = 0; i < FANOUT_CLIENTS; i++) clients.push({ ws: await connect(port, null, onTick) });
  const control = await connect(port, { control: true }, () => {});
  clients.push({ ws: control });
  const bursts = async (n) => {
    for (let i = 0; i < n; i++) {
      const target = received + BURST * FANOUT_CLIENTS;
      const all = new Promise((resolve) => (waiter = { until: target, resolve }));
      control.send(`42["burst",{"count":${BURST},"room":"all"}]`);
      await all;
    }
  };
  return {
    clients,
    warmup: () => bursts(FANOUT_WARMUP),
    measured: () => bursts(BURSTS),
    messages: BURSTS * BURST * FANOUT_CLIENTS,
  };
}

function control(pid, ...args) {
  execFileSync("callgrind_control", [...args, String(pid)], { stdio: "ignore" });
}

/**
 * The instructions of the measured part: the dump of `callgrind_control -d`, one file per thread
 * (<file>.<part>-<thread>), thread 01 being the main thread (JavaScript, the event loop, most of the GC); the
 * other threads are V8's compiler and GC helpers and libuv's pool. Their total moves with when TurboFan
 * happens to recompile something, by up to a third of a fan-out's figure between identical runs, so the
 * main thread's count is the figure; the total is reported beside it.
 */
function instructions(file) {
  const dir = path.dirname(file);
  const dumps = fs
    .readdirSync(dir)
    .map((f) => ({
      f,
      m: new RegExp(`^${path.basename(file).replace(/[+.]/g, "\\$&")}\\.(\\d+)-(\\d+)$`).exec(f),
    }))
    .filter((d) => d.m)
    .map((d) => ({ f: d.f, part: Number(d.m[1]), thread: Number(d.m[2]) }));
  const last = Math.max(...dumps.map((d) => d.part));
  let main = 0;
  let total = 0;
  for (const d of dumps.filter((x) => x.part === last)) {
    const text = fs.readFileSync(path.join(dir, d.f), "utf8");
    const m = /^(?:summary|totals): (\d+)/m.exec(text);
    if (!m) throw new Error(`no total in ${d.f}`);
    total += Number(m[1]);
    if (d.thread === 1) main = Number(m[1]);
  }
  return { main, total };
}

async function measure(load, impl, rep) {
  const out = path.join(os.tmpdir(), `metrics-cost-${process.pid}-${load}-${impl}-${rep}.out`);
  const { child, port } = startServer(impl, out);
  const exited = new Promise((r) => child.on("exit", r));
  try {
    const workload = await (load === "echo" ? echoLoad : fanoutLoad)(await port);
    await workload.warmup();
    if (valgrind) control(child.pid, "-i", "on");
    await workload.warmup();
    if (valgrind) control(child.pid, "-z");
    const cpu0 = process.hrtime.bigint();
    await workload.measured();
    const ms = Number(process.hrtime.bigint() - cpu0) / 1e6;
    let perMessage = null;
    let allThreads = null;
    if (valgrind) {
      control(child.pid, "-d");
      const counted = instructions(out);
      perMessage = counted.main / workload.messages;
      allThreads = counted.total / workload.messages;
    }
    for (const c of workload.clients) c.ws.terminate();
    return { perMessage, allThreads, ms, messages: workload.messages };
  } finally {
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 20000).unref();
    await exited;
    for (const f of fs.readdirSync(os.tmpdir())) {
      if (!f.startsWith(path.basename(out))) continue;
      if (keep) fs.copyFileSync(path.join(os.tmpdir(), f), path.join(keep, f));
      fs.rmSync(path.join(os.tmpdir(), f));
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (let rep = 0; rep < reps; rep++) {
  for (const load of loads) {
    const order =
      rep % 2 === 0 ? ["switchyard", "switchyard+metrics"] : ["switchyard+metrics", "switchyard"];
    for (const impl of order) {
      const r = await measure(load, impl, rep);
      ((results[load] ??= {})[impl] ??= []).push(r.perMessage ?? r.ms);
      const counts =
        r.perMessage !== null
          ? `${Math.round(r.perMessage)} instructions per message on the main thread, ${Math.round(r.allThreads)} on all threads`
          : "";
      console.log(
        `[rep ${rep + 1}] ${load} ${impl}: ${counts} (${r.messages} messages, ${(r.ms / 1000).toFixed(1)} s)`,
      );
    }
  }
}
console.log("");
for (const load of loads) {
  const off = results[load]["switchyard"];
  const on = results[load]["switchyard+metrics"];
  const ratios = on.map((x, i) => x / off[i]);
  const unit = valgrind ? "main-thread instructions per message" : "ms";
  console.log(
    `${load}: off ${Math.round(median(off))} [${Math.round(Math.min(...off))}-${Math.round(Math.max(...off))}], ` +
      `on ${Math.round(median(on))} [${Math.round(Math.min(...on))}-${Math.round(Math.max(...on))}] ${unit}; ` +
      `on/off ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}]`,
  );
}
