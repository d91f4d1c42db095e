// Where the time of one cross-node request goes, hop by hop, on socket.io 4.8 with the official
// @socket.io/redis-adapter and on Switchyard with its classic Redis adapter (both over the `redis`
// client, on a private redis-server):
//
//   node bench/request-hops.mjs [--requests 200] [--gap 20] [--clients 100] [--reps 3]
//        [--impls socket.io,switchyard,/abs/path/to/another/worktree] [--kinds fetchSockets,serverSideEmit]
//        [--cpu-prof <dir>]
//
// Three nodes per implementation (both clusters up at once, each with its own key prefix), `--clients`
// socket.io-client connections on each. Node 1 sends `--requests` requests of each kind one at a time,
// `--gap` ms apart (low load: the figures are hops, not throughput), interleaving the implementations
// `--reps` times. Every node stamps, with the system-wide monotonic clock (process.hrtime), what happens
// to each request: its start and resolution (node 1), the PUBSUB NUMSUB command and its reply, every
// PUBLISH handed to the client and the moment its bytes are written to the socket, the moment bytes of a
// request or a response arrive on a socket and the moment the client hands the message to the adapter.
// The hooks wrap the `redis` client's methods and net.Socket's write/emit, the same for both. Each node's
// process CPU time over the measured requests is reported per request (it includes the hooks and, with
// --gap, the idle time between requests). --gap 0 runs a closed loop, as the cluster-requests scenario.
import { fork } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { startPrivateRedis } from "./cluster-redis.mjs";

const require = createRequire(import.meta.url);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs, CLOCK_MONOTONIC: the same in every process

// ------------------------------------------------------------------------------------------------
// A node: a server with the adapter of its implementation, the hooks, and (on node 1) the request loop.

async function runNode() {
  const impl = arg("--impl");
  const events = [];
  const idOf = (text) => /"requestId":"([^"]+)"/.exec(text)?.[1];
  const mark = (ev, extra) => events.push({ ev, t: now(), ...extra });

  // bytes leaving and arriving on sockets (the Redis ones carry "-request#"/"-response#" channels)
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (chunk, ...rest) {
    if (typeof chunk === "string" || Buffer.isBuffer(chunk)) {
      const text = chunk.toString();
      if (text.includes("PUBLISH"))
        mark("write", { id: idOf(text), response: text.includes("-response#") });
      else if (text.includes("NUMSUB")) mark("write-numsub");
    }
    return write.call(this, chunk, ...rest);
  };
  const emit = net.Socket.prototype.emit;
  net.Socket.prototype.emit = function (name, data, ...rest) {
    if (name === "data" && Buffer.isBuffer(data)) {
      const text = data.toString("latin1");
      if (text.includes("-request#") || text.includes("-response#")) {
        for (const m of text.matchAll(/"requestId":"([^"]+)"/g)) mark("data", { id: m[1] });
      }
    }
    return emit.call(this, name, data, ...rest);
  };

  const { createClient } = require("redis");
  const pub = createClient({ url: arg("--redis") });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const publish = pub.publish.bind(pub);
  pub.publish = (channel, message) => {
    mark("publish", { id: idOf(message.toString()), channel });
    return publish(channel, message);
  };
  const sendCommand = pub.sendCommand.bind(pub);
  pub.sendCommand = (args, ...rest) => {
    if (args[0] === "PUBSUB") {
      mark("numsub");
      return sendCommand(args, ...rest).then((reply) => {
        mark("numsub-reply");
        return reply;
      });
    }
    return sendCommand(args, ...rest);
  };
  for (const method of ["subscribe", "pSubscribe"]) {
    const original = sub[method].bind(sub);
    sub[method] = (channels, listener, buffers) =>
      original(
        channels,
        (message, channel) => {
          const ch = channel.toString();
          if (ch.includes("-request#") || ch.includes("-response#"))
            mark("listener", { id: idOf(message.toString()), response: ch.includes("-response#") });
          listener(message, channel);
        },
        buffers,
      );
  }

  const lib = require(
    impl === "socket.io"
      ? "@socket.io/redis-adapter"
      : impl === "switchyard"
        ? "switchyard/redis-adapter"
        : path.join(impl, "dist/adapters/redis/index.js"),
  );
  const { Server } = require(impl);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    serveClient: false,
    adapter: lib.createAdapter(pub, sub, { key: arg("--key") }),
  });
  io.of("/").on("bench-ping", (n, ack) => ack(n));
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));

  const kinds = {
    fetchSockets: () => io.fetchSockets(),
    serverSideEmit: (n) => io.serverSideEmitWithAck("bench-ping", n),
  };
  let cpuMark = process.cpuUsage();
  process.on("message", async (msg) => {
    if (msg.type === "run") {
      const runs = [];
      for (let i = 0; i < msg.requests; i++) {
        if (msg.gap > 0) await new Promise((resolve) => setTimeout(resolve, msg.gap));
        const start = now();
        const from = events.length;
        const answer = await kinds[msg.kind](i);
        const resolved = now();
        const id = events.slice(from).find((e) => e.ev === "publish" && e.id)?.id;
        runs.push({ id, start, resolved, answers: answer.length });
      }
      process.send({ type: "runs", runs });
    } else if (msg.type === "events") {
      // the CPU time since the previous "events" (the measured requests, when asked right after them)
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      process.send({ type: "events", events: events.splice(0), cpuUs: cpu.user + cpu.system });
    } else if (msg.type === "exit") {
      process.exit(0);
    }
  });
  process.send({ type: "listening", port: httpServer.address().port });
}

// ------------------------------------------------------------------------------------------------
// The parent: Redis, two clusters of three nodes, clients, the runs, the hop table.

function nextMessage(child, type) {
  return new Promise((resolve) => {
    const on = (msg) => {
      if (msg.type === type) {
        child.off("message", on);
        resolve(msg);
      }
    };
    child.on("message", on);
  });
}

// --cpu-prof <dir>: the nodes write a CPU profile each when the run ends (for bench/profile-summary.mjs)
const profileDir = arg("--cpu-prof", null);

async function startCluster(impl, redisUrl, clients) {
  const key = `hops-${Math.random().toString(36).slice(2, 8)}`;
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const child = fork(
      fileURLToPath(import.meta.url),
      ["--node", "--impl", impl, "--redis", redisUrl, "--key", key],
      profileDir
        ? {
            execArgv: [
              "--cpu-prof",
              `--cpu-prof-dir=${profileDir}`,
              `--cpu-prof-name=${impl.replaceAll("/", "_")}-node${i + 1}.cpuprofile`,
            ],
          }
        : {},
    );
    const { port } = await nextMessage(child, "listening");
    nodes.push({ child, port });
  }
  const { io } = require("socket.io-client");
  const sockets = [];
  for (const { port } of nodes) {
    for (let i = 0; i < clients; i++) {
      const s = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
      sockets.push(new Promise((resolve) => s.once("connect", () => resolve(s))));
    }
  }
  return { impl, nodes, sockets: await Promise.all(sockets) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN;
};

// The hops of one request from the events of the three nodes (node 0 asks, 1 and 2 answer).
function hopsOf(run, perNode) {
  const [req, ...others] = perNode;
  const inRun = (e) => e.t >= run.start && e.t <= run.resolved;
  const first = (events, pred) => events.find((e) => inRun(e) && pred(e));
  const h = {};
  const numsub = first(req, (e) => e.ev === "numsub");
  const numsubReply = first(req, (e) => e.ev === "numsub-reply");
  const publish = first(req, (e) => e.ev === "publish" && e.id === run.id);
  const write = first(req, (e) => e.ev === "write" && e.id === run.id && !e.response);
  if (!publish || !write) return null;
  if (numsub && numsubReply) {
    h["start → NUMSUB called"] = numsub.t - run.start;
    h["NUMSUB called → reply"] = numsubReply.t - numsub.t;
    h["NUMSUB reply → PUBLISH called"] = publish.t - numsubReply.t;
  } else h["start → PUBLISH called"] = publish.t - run.start;
  h["PUBLISH called → written"] = write.t - publish.t;
  // each answering node's hops; their answers reach node 1 in the order they were written
  const answers = [];
  for (const node of others) {
    const got = first(node, (e) => e.ev === "data" && e.id === run.id);
    const heard = first(node, (e) => e.ev === "listener" && e.id === run.id && !e.response);
    const answered = first(node, (e) => e.ev === "publish" && e.id === run.id);
    const written = first(node, (e) => e.ev === "write" && e.id === run.id && e.response);
    if (!got || !heard || !answered || !written) return null;
    answers.push({ got, heard, answered, written });
  }
  answers.sort((a, b) => a.written.t - b.written.t);
  const used = new Set();
  for (const [i, a] of answers.entries()) {
    const back = req.find(
      (e) => inRun(e) && e.ev === "data" && e.id === run.id && e.t >= a.written.t && !used.has(e),
    );
    if (!back) return null;
    used.add(back);
    a.backHeard = req.find(
      (e) =>
        inRun(e) &&
        e.ev === "listener" &&
        e.response &&
        e.id === run.id &&
        e.t >= back.t &&
        !used.has(e),
    );
    if (!a.backHeard) return null;
    used.add(a.backHeard);
    const n = i === 0 ? "1st answer" : "2nd answer";
    h[`${n}: written → responder socket data`] = a.got.t - write.t;
    h[`${n}: responder data → adapter hears`] = a.heard.t - a.got.t;
    h[`${n}: hears → answer PUBLISH called`] = a.answered.t - a.heard.t;
    h[`${n}: answer PUBLISH → written`] = a.written.t - a.answered.t;
    h[`${n}: answer written → node 1 data`] = back.t - a.written.t;
    h[`${n}: node 1 data → adapter hears`] = a.backHeard.t - back.t;
  }
  const lastHeard = Math.max(...answers.map((a) => a.backHeard.t));
  h["last answer heard → resolved"] = run.resolved - lastHeard;
  h["total"] = run.resolved - run.start;
  return h;
}

async function runParent() {
  const requests = Number(arg("--requests", 200));
  const gap = Number(arg("--gap", 20));
  const clients = Number(arg("--clients", 100));
  const reps = Number(arg("--reps", 3));
  const redis = await startPrivateRedis();
  const clusters = [];
  try {
    const impls = arg("--impls", "socket.io,switchyard").split(",");
    for (const impl of impls) clusters.push(await startCluster(impl, redis.url, clients));
    const table = {}; // kind → impl → hop → values
    const cpu = {}; // kind → impl → [per repetition: CPU µs per request on each node]
    for (let rep = 0; rep < reps; rep++) {
      const order = clusters.map((_, i) => clusters[(i + rep) % clusters.length]);
      for (const kind of arg("--kinds", "fetchSockets,serverSideEmit").split(",")) {
        for (const c of order) {
          const [first] = c.nodes;
          // warm-up, then the measured requests
          first.child.send({ type: "run", kind, requests: 20, gap });
          await nextMessage(first.child, "runs");
          for (const n of c.nodes) {
            n.child.send({ type: "events" });
            await nextMessage(n.child, "events");
          }
          first.child.send({ type: "run", kind, requests, gap });
          const { runs } = await nextMessage(first.child, "runs");
          const perNode = [];
          const cpuPerCall = [];
          for (const n of c.nodes) {
            n.child.send({ type: "events" });
            const { events, cpuUs } = await nextMessage(n.child, "events");
            perNode.push(events);
            cpuPerCall.push(cpuUs / requests);
          }
          ((cpu[kind] ??= {})[c.impl] ??= []).push(cpuPerCall);
          const byHop = ((table[kind] ??= {})[c.impl] ??= {});
          let skipped = 0;
          for (const run of runs) {
            const h = hopsOf(run, perNode);
            if (!h) {
              skipped++;
              continue;
            }
            for (const [hop, us] of Object.entries(h)) (byHop[hop] ??= []).push(us);
          }
          console.error(
            `rep ${rep + 1} ${kind} ${c.impl}: ${runs.length} requests, ${skipped} unmatched, answers ${runs[0].answers}`,
          );
        }
      }
    }
    for (const [kind, impls] of Object.entries(table)) {
      console.log(
        `\n${kind} (${requests * reps} requests each, one at a time, ${gap} ms apart; µs, median / p90)`,
      );
      const names = Object.keys(impls);
      const hops = Object.keys(impls[names[0]]);
      const label = (name) => (name.length > 16 ? `…${name.slice(-15)}` : name).padStart(16);
      console.log(`${"hop".padEnd(44)} ${names.map(label).join(" ")}`);
      for (const hop of hops) {
        const cell = (xs) =>
          (xs ? `${median(xs).toFixed(0)} / ${pct(xs, 0.9).toFixed(0)}` : "-").padStart(16);
        console.log(`${hop.padEnd(44)} ${names.map((n) => cell(impls[n][hop])).join(" ")}`);
      }
      for (const [impl, reps] of Object.entries(cpu[kind])) {
        const sums = reps.map((perNode) => perNode.reduce((a, b) => a + b, 0));
        const fmt = (perNode) => perNode.map((x) => x.toFixed(0)).join(" + ");
        console.log(
          `CPU per request (loaded machine), ${impl}: median ${median(sums).toFixed(0)} µs [${reps.map(fmt).join(" | ")}] (nodes 1 + 2 + 3, per repetition)`,
        );
      }
    }
  } finally {
    for (const c of clusters) {
      for (const s of c.sockets) s.close();
      for (const n of c.nodes) {
        // a clean exit, so that --cpu-prof writes its profile
        n.child.send({ type: "exit" });
        await new Promise((resolve) => n.child.once("exit", resolve));
      }
    }
    await redis.stop();
  }
}

if (process.argv.includes("--node")) await runNode();
else await runParent();
