// Instructions per operation, counted by Valgrind (callgrind), of the server doing a fixed workload: a
// load-independent figure for the CPU cost of an echo, a handshake or a long-polling round trip, for a loaded
// machine where CPU timings are noise (perf counters are not available in every VM).
//
//   node bench/instructions.mjs --impl socket.io|switchyard|/abs/path/to/build --scenario echo|handshake|polling
//                               [--count 1000] [--windows 3] [--warmup 2000] [--concurrency 1] [--runs 1]
//                               [--keep DIR]
//
// The server is bench/app.mjs under `valgrind --tool=callgrind --instr-atstart=no`: the start-up and the
// warm-up (`--warmup` operations, so that V8 has compiled the hot paths) are not counted; counting is switched
// on (callgrind_control -i on), then the counters are dumped and read after each of `--windows` windows of
// `--count` operations. The
// operations are those of bench/load.mjs's scenarios, `--concurrency` of them in flight at a time (1: strictly
// one after the other, so no batching by the kernel or the server): an echo is `42<id>["echo","..."]` answered
// by its ack over WebSocket; a handshake opens a WebSocket session, connects to "/", sends "41" and closes; a
// polling round trip is one POST carrying an echo and the GET that brings its ack back. Every count includes
// the kernel-facing work done in user space (libuv, Node's streams and HTTP, V8 and its GC threads), not the
// kernel itself.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
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
const impl = opt("impl", "switchyard");
const scenario = opt("scenario", "echo");
const count = Number(opt("count", 1000));
const warmup = Number(opt("warmup", 2000));
const concurrency = Number(opt("concurrency", 1));
const runs = Number(opt("runs", 1));
const windows = Number(opt("windows", 3));
// --keep DIR: the callgrind files stay there (callgrind_annotate DIR/<file> shows where the instructions went)
const keep = opt("keep", null);
const PAYLOAD = JSON.stringify("hello from the load generator, 48 bytes of text");
const EIO = "/socket.io/?EIO=4";

function startServer(outFile) {
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--instr-atstart=no",
      `--callgrind-out-file=${outFile}`,
      process.execPath,
      "--expose-gc",
      path.join(here, "app.mjs"),
      "--impl",
      impl,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BENCH_IMPL: impl } },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
}

// ---- the operations ----

function openWs(port, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${EIO}&transport=websocket`, {
      perMessageDeflate: false,
    });
    ws.on("error", reject);
    ws.on("message", (data) => {
      const s = data.toString();
      if (s === "2") ws.send("3");
      else if (s.startsWith("0")) ws.send("40");
      else if (s.startsWith("40")) resolve(ws);
      else onMessage?.(s);
    });
  });
}

async function echoClient(port) {
  let waiting = null;
  const ws = await openWs(port, (s) => {
    if (s.startsWith("43") && waiting) {
      const w = waiting;
      waiting = null;
      w();
    }
  });
  let id = 0;
  return {
    op: () =>
      new Promise((resolve) => {
        waiting = resolve;
        ws.send(`42${id++}["echo",${PAYLOAD}]`);
      }),
    close: () => ws.close(),
  };
}

async function handshakeClient(port) {
  return {
    op: async () => {
      const ws = await openWs(port);
      await new Promise((resolve) => {
        ws.once("close", resolve);
        ws.send("41");
        ws.close();
      });
    },
    close() {},
  };
}

async function pollingClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const request = (method, sid, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          method,
          agent,
          path: `${EIO}&transport=polling${sid ? `&sid=${sid}` : ""}`,
          headers: body ? { "content-type": "text/plain;charset=UTF-8" } : {},
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks).toString()));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const open = await request("GET", null);
  const sid = JSON.parse(open.slice(1)).sid;
  await request("POST", sid, "40");
  const connected = await request("GET", sid);
  if (!connected.startsWith("40")) throw new Error(`no connect: ${connected}`);
  let id = 0;
  return {
    // one round trip: the GET waits while the POST carries the echo, the ack comes back on the GET
    op: async () => {
      const got = request("GET", sid);
      await request("POST", sid, `42${id++}["echo",${PAYLOAD}]`);
      let packets = (await got).split("\x1e");
      for (;;) {
        // a ping may come with the ack or alone: answered, or the session times out under valgrind's pace
        if (packets.includes("2")) await request("POST", sid, "3");
        if (packets.some((p) => p.startsWith("43"))) break;
        packets = (await request("GET", sid)).split("\x1e");
      }
    },
    close: () => agent.destroy(),
  };
}

const CLIENTS = { echo: echoClient, handshake: handshakeClient, polling: pollingClient };

async function runOps(clients, n) {
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < n) {
        next++;
        await c.op();
      }
    }),
  );
}

// callgrind_control waits for the server to run: an idle server is woken by a message on the side socket.
async function control(pid, args, wake) {
  const done = new Promise((resolve, reject) => {
    const p = spawn("callgrind_control", [...args, String(pid)], { stdio: "ignore" });
    p.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`callgrind_control ${args}`)),
    );
  });
  let settled = false;
  void done.then(() => (settled = true));
  while (!settled) {
    wake();
    await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
  }
  await done;
}

function totalInstructions(file) {
  const text = fs.readFileSync(file, "utf8");
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${file}`);
  return Number(m[1]);
}

async function once(run) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "instr-"));
  const outFile = path.join(dir, "callgrind.out");
  const { child, port } = await startServer(outFile);
  try {
    const side = await openWs(port);
    const wake = () => side.send("3");
    const clients = [];
    for (let i = 0; i < concurrency; i++) clients.push(await CLIENTS[scenario](port));
    await runOps(clients, warmup);
    await control(child.pid, ["-i", "on"], wake);
    // several windows of `count` operations, each dumped (and reset) on its own: a one-off cost (a GC, a
    // compilation finishing) shows as one window out of line; the median window is the figure
    const perWindow = [];
    for (let w = 0; w < windows; w++) {
      const before = new Set(fs.readdirSync(dir));
      await runOps(clients, count);
      await control(child.pid, ["-d"], wake);
      const dump = fs
        .readdirSync(dir)
        .find((f) => !before.has(f) && f.startsWith("callgrind.out."));
      if (!dump) throw new Error("no callgrind dump");
      perWindow.push(totalInstructions(path.join(dir, dump)) / count);
    }
    const ir = [...perWindow].sort((a, b) => a - b)[Math.floor(windows / 2)] * count;
    for (const c of clients) c.close();
    side.close();
    console.log(
      `${impl} ${scenario} run ${run}: per operation ${perWindow.map(Math.round).join(" / ")} in ${windows} windows of ${count} (concurrency ${concurrency})`,
    );
    return ir / count;
  } finally {
    child.kill("SIGKILL");
    if (keep) {
      fs.mkdirSync(keep, { recursive: true });
      for (const f of fs.readdirSync(dir))
        fs.renameSync(
          path.join(dir, f),
          path.join(keep, `${path.basename(impl)}-${scenario}-${run}-${f}`),
        );
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (let r = 1; r <= runs; r++) results.push(await once(r));
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)];
console.log(
  JSON.stringify({
    impl,
    scenario,
    count,
    warmup,
    concurrency,
    perOperation: Math.round(median),
    runs: results.map(Math.round),
  }),
);
process.exit(0);
