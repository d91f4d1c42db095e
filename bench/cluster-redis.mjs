// What the cluster scenarios of bench/run.mjs need around Redis: a private redis-server on an
// ephemeral port (its counters then hold only the benchmark's traffic, and nobody else's tests
// share it), a minimal RESP client to read those counters, and TCP proxies that count the bytes
// between Redis and each node.
import { spawn } from "node:child_process";
import net from "node:net";

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Starts `redis-server` (no persistence) on `port` (a free one by default: a restart passes the old one);
// resolves once it accepts connections.
export async function startPrivateRedis(port) {
  port ??= await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10000);
    child.stdout.on("data", (chunk) => {
      out += chunk.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-server could not be started (is it installed?): ${err.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  // a runner that fails (or is interrupted) leaves no redis-server behind
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.off("exit", killOnExit);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
    // a crash, as an outage
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.off("exit", killOnExit);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

// Parses one RESP reply from `buf` at `at`: [value, next offset], or null when incomplete.
function parseReply(buf, at) {
  const eol = buf.indexOf("\r\n", at);
  if (eol === -1) return null;
  const kind = String.fromCharCode(buf[at]);
  const line = buf.toString("utf8", at + 1, eol);
  if (kind === "+" || kind === "-") return [kind === "-" ? new Error(line) : line, eol + 2];
  if (kind === ":") return [Number(line), eol + 2];
  if (kind === "$") {
    const len = Number(line);
    if (len < 0) return [null, eol + 2];
    if (buf.length < eol + 2 + len + 2) return null;
    return [buf.toString("utf8", eol + 2, eol + 2 + len), eol + 2 + len + 2];
  }
  if (kind === "*") {
    const items = [];
    let next = eol + 2;
    for (let i = 0; i < Number(line); i++) {
      const r = parseReply(buf, next);
      if (!r) return null;
      items.push(r[0]);
      next = r[1];
    }
    return [items, next];
  }
  throw new Error(`unexpected RESP reply type ${kind}`);
}

// One connection, one command at a time. Each answer says how many bytes the request and the
// reply took on the wire, so that a reader of Redis's byte counters can leave its own out.
export async function respClient(port) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let buf = Buffer.alloc(0);
  let waiting = null;
  socket.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!waiting) return;
    const r = parseReply(buf, 0);
    if (!r) return;
    const w = waiting;
    waiting = null;
    const replyBytes = r[1];
    buf = buf.subarray(r[1]);
    if (r[0] instanceof Error) w.reject(r[0]);
    else w.resolve({ value: r[0], requestBytes: w.requestBytes, replyBytes });
  });
  return {
    command(...args) {
      if (waiting) throw new Error("one command at a time");
      const parts = [`*${args.length}\r\n`];
      for (const a of args) parts.push(`$${Buffer.byteLength(String(a))}\r\n${a}\r\n`);
      const request = parts.join("");
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject, requestBytes: Buffer.byteLength(request) };
        socket.write(request);
      });
    },
    close: () => socket.destroy(),
  };
}

// Redis's own counters: commands executed (per command name) and bytes in and out, from one
// `INFO stats commandstats cpu`. requestBytes / replyBytes: what that INFO itself added.
export async function readRedisCounters(client) {
  const { value, requestBytes, replyBytes } = await client.command(
    "INFO",
    "stats",
    "commandstats",
    "cpu",
  );
  const num = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(value)?.[1] ?? NaN);
  const byCommand = {};
  let commands = 0;
  for (const m of value.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    byCommand[m[1]] = Number(m[2]);
    commands += Number(m[2]);
  }
  return {
    commands,
    byCommand,
    netIn: num("total_net_input_bytes"),
    netOut: num("total_net_output_bytes"),
    // the main thread's CPU time (µs): pub/sub fan-out runs there
    cpuUs: (num("used_cpu_user_main_thread") + num("used_cpu_sys_main_thread")) * 1e6,
    requestBytes,
    replyBytes,
  };
}

// The channels with subscribers, and how many each has (classic and sharded pub/sub, patterns).
export async function readSubscribers(client) {
  const out = {};
  const channels = (await client.command("PUBSUB", "CHANNELS")).value;
  if (channels.length)
    (await client.command("PUBSUB", "NUMSUB", ...channels)).value.forEach((v, i, a) => {
      if (i % 2 === 0) out[v] = a[i + 1];
    });
  const shard = (await client.command("PUBSUB", "SHARDCHANNELS")).value;
  if (shard.length)
    (await client.command("PUBSUB", "SHARDNUMSUB", ...shard)).value.forEach((v, i, a) => {
      if (i % 2 === 0) out[`(shard) ${v}`] = a[i + 1];
    });
  out["(patterns)"] = (await client.command("PUBSUB", "NUMPAT")).value;
  return out;
}

// A TCP proxy to Redis that counts the bytes each way, for one node's connections.
export async function countingProxy(redisPort) {
  const counts = { toNode: 0, fromNode: 0 };
  const conns = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(redisPort, "127.0.0.1");
    conns.add(down).add(up);
    down.on("data", (d) => {
      counts.fromNode += d.length;
      up.write(d);
    });
    up.on("data", (d) => {
      counts.toNode += d.length;
      down.write(d);
    });
    const end = () => {
      down.destroy();
      up.destroy();
      conns.delete(down);
      conns.delete(up);
    };
    down.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    counts,
    close() {
      for (const c of conns) c.destroy();
      server.close();
    },
  };
}
