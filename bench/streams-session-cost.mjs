// What saving the sessions of connected sockets costs on the Redis Streams adapter (`saveLiveSessions`, on by
// default with connection state recovery), against the same run with it off (the official adapter's behaviour).
//
//   npm run build && node bench/streams-session-cost.mjs [--n 200] [--client redis|ioredis] [--reps 3]
//
// A private redis-server (free port, no persistence) so that nobody else's commands are counted. The adapter
// reaches it through a counting TCP proxy that parses the RESP commands it sends: commands and bytes per phase
// are exact counts, whatever the machine's load. Redis's own time per command comes from INFO commandstats.
// Times measured in this process (round trip of an awaited save, CPU per save) depend on the machine's load;
// they are printed as the median and range over --reps repetitions.
import { once } from "node:events";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import { startPrivateRedis } from "./cluster-redis.mjs";

const require = createRequire(import.meta.url);
const { Server } = require("../dist/index.js");
const { createAdapter } = require("../dist/adapters/redis-streams/index.js");
const { io: connect } = require("socket.io-client");

const argValue = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const N = Number(argValue("--n", "200"));
const kind = argValue("--client", "redis");
const REPS = Number(argValue("--reps", "3"));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Counts what goes through: bytes each way, and the commands (RESP arrays) sent to Redis, by name. It runs in
 * a child process (this file with `--proxy <redis port>`), so that its CPU is not counted as the adapter's.
 */
function countingProxy(redisPort) {
  const totals = { toRedis: 0, fromRedis: 0, commands: new Map() };
  const server = net.createServer((down) => {
    const up = net.connect(redisPort, "127.0.0.1");
    let pending = Buffer.alloc(0);
    down.on("data", (chunk) => {
      totals.toRedis += chunk.length;
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseCommand(pending);
        if (!parsed) break;
        pending = pending.subarray(parsed.length);
        const entry = totals.commands.get(parsed.name) ?? { count: 0, bytes: 0 };
        entry.count++;
        entry.bytes += parsed.length;
        totals.commands.set(parsed.name, entry);
      }
      up.write(chunk);
    });
    up.on("data", (chunk) => {
      totals.fromRedis += chunk.length;
      down.write(chunk);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  return { server, totals };
}

/** One RESP command at the start of `buf` (`*n\r\n` then n bulk strings): its name and length, or null. */
function parseCommand(buf) {
  if (buf.length === 0 || buf[0] !== 0x2a /* * */) return null;
  let at = buf.indexOf("\r\n");
  if (at < 0) return null;
  const n = Number(buf.subarray(1, at).toString());
  let pos = at + 2;
  let name = "";
  for (let i = 0; i < n; i++) {
    at = buf.indexOf("\r\n", pos);
    if (at < 0) return null;
    const len = Number(buf.subarray(pos + 1, at).toString());
    const start = at + 2;
    if (buf.length < start + len + 2) return null;
    if (i === 0)
      name = buf
        .subarray(start, start + len)
        .toString()
        .toUpperCase();
    pos = start + len + 2;
  }
  return { name, length: pos };
}

async function startProxy(redisPort) {
  const { fork } = await import("node:child_process");
  const child = fork(new URL(import.meta.url).pathname, ["--proxy", String(redisPort)], {
    serialization: "advanced",
  });
  const [port] = await once(child, "message");
  let asked = 0;
  return {
    port,
    async totals() {
      const id = ++asked;
      child.send(id);
      for (;;) {
        const [reply] = await once(child, "message");
        if (reply.id === id) return reply.totals;
      }
    },
    stop: () => child.kill(),
  };
}

async function redisClient(port) {
  if (kind === "ioredis") {
    const { Redis } = require("ioredis");
    const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
    c.on("error", () => {});
    await c.connect();
    return c;
  }
  const { createClient } = require("redis");
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  c.on("error", () => {});
  await c.connect();
  return c;
}

async function commandStats(admin) {
  const raw = String(await admin.info("commandstats"));
  const stats = {};
  for (const m of raw.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g))
    stats[m[1].toUpperCase()] = { calls: Number(m[2]), usec: Number(m[3]) };
  return stats;
}

/** Waits until nothing has gone to Redis for 300 ms (saves are sent in the background); the totals then. */
async function settle(proxy) {
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    const totals = await proxy.totals();
    if (totals.toRedis !== last) {
      last = totals.toRedis;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 300) return totals;
    await sleep(25);
  }
}

function diff(before, after) {
  const commands = {};
  for (const [name, v] of after.commands) {
    const b = before.commands.get(name) ?? { count: 0, bytes: 0 };
    // the reader's XREAD is re-sent whenever its BLOCK times out, and the pub/sub connection's watchdog PINGs
    // every subscriberPingInterval: not costs of the phase
    if (v.count > b.count && name !== "XREAD" && name !== "PING")
      commands[name] = { count: v.count - b.count, bytes: v.bytes - b.bytes };
  }
  return {
    commands,
    toRedis: after.toRedis - before.toRedis,
    fromRedis: after.fromRedis - before.fromRedis,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function run(redisPort, saveLiveSessions) {
  const proxy = await startProxy(redisPort);
  const client = await redisClient(proxy.port);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(client, { saveLiveSessions, blockTimeInMs: 60000 }),
    connectionStateRecovery: {},
  });
  io.on("connection", (socket) => {
    socket.data = { user: `user-${socket.id.slice(0, 5)}`, n: 1 };
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb();
    });
    socket.on("join3", (rooms, cb) => {
      for (const room of rooms) socket.join(room);
      cb();
    });
    socket.on("leave", (room, cb) => {
      socket.leave(room);
      cb();
    });
  });
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  let totals = await settle(proxy);

  const phases = {};
  const phase = async (name, body) => {
    const before = totals;
    const cpu = process.cpuUsage();
    await body();
    const used = process.cpuUsage(cpu);
    totals = await settle(proxy);
    phases[name] = { ...diff(before, totals), cpuUs: used.user + used.system };
  };

  const sockets = [];
  await phase("connect", async () => {
    await Promise.all(
      Array.from({ length: N }, async () => {
        const s = connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
        sockets.push(s);
        await once(s, "connect");
      }),
    );
  });
  const ask = (event, arg) => Promise.all(sockets.map((s) => s.emitWithAck(event, arg)));
  await phase("join 1 room", () => ask("join", "room-a"));
  await phase("join 3 rooms in one handler", () => ask("join3", ["room-b", "room-c", "room-d"]));
  await phase("leave 1 room", () => ask("leave", "room-a"));

  // one periodic round (what `sessionSaveInterval` does for every connected socket), and the round trip of
  // an awaited save, one at a time
  const adapter = io.of("/").adapter;
  const ids = [...io.of("/").sockets.keys()];
  // (with saving off there is no periodic round; an explicit saveSession() would save even then)
  await phase("periodic save (all sockets)", async () => {
    if (saveLiveSessions) await Promise.all(ids.map((id) => adapter.saveSession(id)));
  });
  const roundTrips = [];
  if (saveLiveSessions)
    for (const id of ids) {
      const t = process.hrtime.bigint();
      await adapter.saveSession(id);
      roundTrips.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
  totals = await settle(proxy);

  await phase("client disconnect()", async () => {
    const gone = [...io.of("/").sockets.values()].map((s) => once(s, "disconnect"));
    for (const s of sockets) s.disconnect();
    await Promise.all(gone);
  });

  await new Promise((resolve) => io.close(() => resolve()));
  await (kind === "ioredis" ? client.quit() : client.quit()).catch(() => {});
  proxy.stop();
  return { phases, roundTrips };
}

if (process.argv.includes("--proxy")) {
  const { server, totals } = countingProxy(Number(argValue("--proxy", "0")));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  process.send(server.address().port);
  process.on("message", (id) => process.send({ id, totals }));
  process.on("disconnect", () => process.exit(0));
} else {
  await main();
}

async function main() {
  const redis = await startPrivateRedis();
  const admin = await redisClient(redis.port);
  try {
    const results = { off: [], on: [] };
    let redisTime;
    for (let rep = 0; rep < REPS; rep++) {
      for (const mode of ["off", "on"]) {
        const before = await commandStats(admin);
        results[mode].push(await run(redis.port, mode === "on"));
        if (mode === "on" && rep === 0) {
          const after = await commandStats(admin);
          const set = {
            calls: after.SET.calls - (before.SET?.calls ?? 0),
            usec: after.SET.usec - (before.SET?.usec ?? 0),
          };
          redisTime = set;
        }
      }
    }
    console.log(
      `Redis Streams adapter, live session saving: ${N} sockets, ${kind}, ${REPS} repetitions`,
    );
    console.log(
      `node ${process.version}, redis-server ${String(await admin.info("server")).match(/redis_version:(\S+)/)?.[1]}`,
    );
    const names = Object.keys(results.on[0].phases);
    for (const name of names) {
      const row = (mode) => results[mode][0].phases[name];
      const show = (mode) => {
        const p = row(mode);
        const cmds = Object.entries(p.commands)
          .map(([c, v]) => `${c} ${v.count} (${v.bytes} B)`)
          .join(", ");
        return `${cmds || "nothing"}; ${p.toRedis} B to Redis, ${p.fromRedis} B back`;
      };
      const cpu = (mode) => results[mode].map((r) => r.phases[name].cpuUs / N);
      const fmt = (xs) =>
        `${median(xs).toFixed(0)} µs [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
      console.log(`\n${name}`);
      console.log(`  off: ${show("off")}`);
      console.log(`  on:  ${show("on")}`);
      const extra = row("on").toRedis - row("off").toRedis;
      console.log(`  on - off: ${extra} B to Redis = ${(extra / N).toFixed(1)} B per socket`);
      if (name.startsWith("periodic"))
        console.log(`  CPU per save (adapter and Redis client only): ${fmt(cpu("on"))}`);
      else
        console.log(
          `  CPU per socket, server and clients together: off ${fmt(cpu("off"))}, on ${fmt(cpu("on"))}`,
        );
    }
    const trips = results.on.map((r) => r.roundTrips);
    const p50s = trips.map((t) => pct(t, 0.5));
    const p99s = trips.map((t) => pct(t, 0.99));
    console.log(
      `\nawaited saveSession() round trip: p50 ${median(p50s).toFixed(0)} µs [${Math.min(...p50s).toFixed(0)}–${Math.max(...p50s).toFixed(0)}], p99 ${median(p99s).toFixed(0)} µs [${Math.min(...p99s).toFixed(0)}–${Math.max(...p99s).toFixed(0)}]`,
    );
    if (redisTime)
      console.log(
        `Redis time per SET (INFO commandstats, first repetition with saving on): ${(redisTime.usec / redisTime.calls).toFixed(2)} µs over ${redisTime.calls} calls`,
      );
  } finally {
    await admin.quit().catch(() => {});
    await redis.stop();
  }
}
