// Server CPU per long-polling round trip when the session's owner serves every request, against the same when
// every request lands on another node and is forwarded to the owner (the engine's `forwarding` option).
//
//   node bench/forwarded-polling.mjs [--reps 5] [--trips 1000] [--sessions 10] [--json]
//
// The route is node:cluster's IPC: a primary (Switchyard's setupPrimary, which relays) and two workers on
// ports of their own (`exclusive`), the owner and the relay. Every process is measured (process.cpuUsage of
// the primary and both workers), so the figure holds the whole cost of a forwarded request: the relay's HTTP
// work, the two IPC hops through the primary, the owner's serving. (Over Redis the hops go through the Redis
// server instead, whose CPU a shared Redis does not let us isolate: not measured here.)
//
// A round trip: the client keeps one GET pending and POSTs `42<id>["echo",<n>]`; the ack `43<id>[<n>]` comes
// back on the GET; then the next. `sessions` sessions at a time, `trips` round trips in all per run. The runs
// alternate owner / forwarded, `reps` of each; medians with [min-max]. CPU time, not instruction counts
// (perf has no counters in this container): on a loaded machine read the ratio and its spread.
import cluster from "node:cluster";
import http from "node:http";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { pollingRequest } from "./polling-request.mjs";

const argv = process.argv.slice(2);
function opt(name, dflt) {
  const i = argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < argv.length ? Number(argv[i + 1]) : dflt;
}

/** The primary's process, once started (killed if the measurement fails). */
let primary;

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

if (cluster.isWorker) {
  // a worker: Switchyard with forwarding over IPC, the echo application, its own port
  const { Server, clusterForwarding } = await import("switchyard");
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    forwarding: clusterForwarding(),
    pingInterval: 60_000,
    pingTimeout: 60_000,
  });
  io.on("connection", (socket) => socket.on("echo", (value, ack) => ack(value)));
  process.on("message", (m) => {
    if (m === "cpu") process.send({ cpu: cpuNow() });
  });
  httpServer.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
    process.send({ port: httpServer.address().port });
  });
} else if (argv.includes("--primary")) {
  // the primary (a process of its own, so that the load generator's CPU is not counted)
  const { setupPrimary } = await import("switchyard/cluster-adapter");
  setupPrimary();
  cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), args: [] });
  const workers = [cluster.fork(), cluster.fork()];
  const ports = await Promise.all(
    workers.map((w) => new Promise((resolve) => w.on("message", (m) => m.port && resolve(m.port)))),
  );
  const askCpu = (w) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (typeof m?.cpu !== "number") return;
        w.off("message", on);
        resolve(m.cpu);
      };
      w.on("message", on);
      w.send("cpu");
    });
  process.on("message", async (m) => {
    if (m === "cpu") {
      const [owner, relay] = await Promise.all(workers.map(askCpu));
      process.send({ cpu: { primary: cpuNow(), owner, relay } });
    } else if (m === "stop") {
      for (const w of workers) w.kill();
      process.disconnect();
    }
  });
  // the load generator ended (or failed) without "stop": end the workers too
  process.on("disconnect", () => {
    for (const w of workers) if (w.isConnected()) w.kill();
  });
  process.send({ ports });
} else {
  await main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
    primary?.kill();
  });
}

/** One session opened on `ownerPort`, then `trips` round trips through `port`. */
async function session(ownerPort, port, trips) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  try {
    const open = await pollingRequest(agent, ownerPort, "GET", null);
    const sid = JSON.parse(open.slice(1)).sid;
    await pollingRequest(agent, port, "POST", sid, "40");
    const connect = await pollingRequest(agent, port, "GET", sid);
    if (!connect.startsWith("40")) throw new Error(`unexpected CONNECT answer ${connect}`);
    for (let n = 0; n < trips; n++) {
      const answer = pollingRequest(agent, port, "GET", sid);
      await pollingRequest(agent, port, "POST", sid, `42${n}["echo",${n}]`);
      const text = await answer;
      if (text !== `43${n}[${n}]`) throw new Error(`unexpected answer ${text} to ${n}`);
    }
    await pollingRequest(agent, port, "POST", sid, "1");
  } finally {
    agent.destroy();
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const reps = opt("reps", 5);
  const totalTrips = opt("trips", 1000);
  const sessions = opt("sessions", 10);
  const { fork } = await import("node:child_process");
  primary = fork(fileURLToPath(import.meta.url), ["--primary"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = (message, key) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m?.[key] === undefined) return;
        primary.off("message", on);
        resolve(m[key]);
      };
      primary.on("message", on);
      if (message) primary.send(message);
    });
  const [ownerPort, relayPort] = await ask(null, "ports");
  const total = (c) => c.primary + c.owner + c.relay;
  const runs = { owner: [], forwarded: [] };
  const perTrip = Math.ceil(totalTrips / sessions);
  const run = async (kind) => {
    const port = kind === "owner" ? ownerPort : relayPort;
    const before = await ask("cpu", "cpu");
    const t0 = performance.now();
    await Promise.all(Array.from({ length: sessions }, () => session(ownerPort, port, perTrip)));
    const wallMs = performance.now() - t0;
    const after = await ask("cpu", "cpu");
    const trips = perTrip * sessions;
    return {
      cpuUsPerRoundTrip: (total(after) - total(before)) / trips,
      ownerUs: (after.owner - before.owner) / trips,
      relayUs: (after.relay - before.relay) / trips,
      primaryUs: (after.primary - before.primary) / trips,
      roundTripsPerSec: (trips * 1000) / wallMs,
    };
  };
  await run("owner"); // warm-up, both paths
  await run("forwarded");
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 ? ["forwarded", "owner"] : ["owner", "forwarded"];
    for (const kind of order) runs[kind].push(await run(kind));
  }
  primary.send("stop");

  const summary = (rs, key) => {
    const v = rs.map((r) => r[key]);
    return { median: median(v), min: Math.min(...v), max: Math.max(...v) };
  };
  const ratios = runs.forwarded.map(
    (r, i) => r.cpuUsPerRoundTrip / runs.owner[i].cpuUsPerRoundTrip,
  );
  const result = {
    route: "node:cluster IPC",
    reps,
    roundTripsPerRun: perTrip * sessions,
    sessions,
    loadavg: os.loadavg(),
    owner: {
      cpuUsPerRoundTrip: summary(runs.owner, "cpuUsPerRoundTrip"),
      roundTripsPerSec: summary(runs.owner, "roundTripsPerSec"),
    },
    forwarded: {
      cpuUsPerRoundTrip: summary(runs.forwarded, "cpuUsPerRoundTrip"),
      relayUs: summary(runs.forwarded, "relayUs"),
      primaryUs: summary(runs.forwarded, "primaryUs"),
      ownerUs: summary(runs.forwarded, "ownerUs"),
      roundTripsPerSec: summary(runs.forwarded, "roundTripsPerSec"),
    },
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
  };
  if (argv.includes("--json")) {
    console.log(JSON.stringify(result));
    return;
  }
  const f = (s, d = 0) => `${s.median.toFixed(d)} [${s.min.toFixed(d)}-${s.max.toFixed(d)}]`;
  console.log(
    `forwarded-polling (${result.route}, ${reps} reps of ${result.roundTripsPerRun} round trips, ` +
      `${sessions} sessions; load average ${result.loadavg.map((x) => x.toFixed(1)).join(" ")})`,
  );
  console.log(
    `  on the owner:  server CPU per round trip ${f(result.owner.cpuUsPerRoundTrip)} µs, ${f(result.owner.roundTripsPerSec)} round trips/s`,
  );
  console.log(
    `  forwarded:     server CPU per round trip ${f(result.forwarded.cpuUsPerRoundTrip)} µs ` +
      `(relay ${f(result.forwarded.relayUs)}, primary ${f(result.forwarded.primaryUs)}, owner ${f(result.forwarded.ownerUs)}), ` +
      `${f(result.forwarded.roundTripsPerSec)} round trips/s`,
  );
  console.log(`  ratio forwarded / owner: ${f(result.ratio, 2)}`);
}
