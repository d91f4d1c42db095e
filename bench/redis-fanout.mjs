// What one Redis pays to fan a published message out to N subscribers, for the 100-node model in
// bench/README.md: a private redis-server, N subscriber connections (plain channel SUBSCRIBE,
// PSUBSCRIBE as the classic adapter's nodes use for broadcasts, or SSUBSCRIBE as the sharded
// adapter), a publisher pipelining M messages of the size the adapters publish; Redis's
// main-thread CPU time per publish (INFO cpu) and bytes out per publish (INFO stats).
//
//   node bench/redis-fanout.mjs [--messages 20000] [--subscribers 1,10,50,100]
import net from "node:net";
import { readRedisCounters, respClient, startPrivateRedis } from "./cluster-redis.mjs";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i !== -1 ? argv[i + 1] : dflt;
};
const MESSAGES = Number(opt("messages", 20000));
const COUNTS = opt("subscribers", "1,10,50,100").split(",").map(Number);
const ROUNDS = 3;
// ~the classic adapter's broadcast of the bench's 100-byte tick (216 bytes into Redis with PUBLISH)
const PAYLOAD = "x".repeat(150);
const KINDS = {
  channel: { sub: "SUBSCRIBE", pub: "PUBLISH", channel: "bench#/#r1#", pattern: false },
  // every classic node psubscribes "<key>#/#*": each publish is matched against every pattern
  pattern: { sub: "PSUBSCRIBE", pub: "PUBLISH", channel: "bench#/#r1#", pattern: true },
  shard: { sub: "SSUBSCRIBE", pub: "SPUBLISH", channel: "bench#/#r1#", pattern: false },
};

const resp = (...args) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

// A subscriber that reads and drops what it is sent, counting the bytes.
async function subscriber(port, kind) {
  const socket = net.connect(port, "127.0.0.1");
  let bytes = 0;
  socket.on("data", (d) => (bytes += d.length));
  await new Promise((resolve) => socket.once("connect", resolve));
  const k = KINDS[kind];
  socket.write(resp(k.sub, k.pattern ? "bench#/#*" : k.channel));
  const t = Date.now();
  while (bytes === 0 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 5));
  return { socket, bytes: () => bytes };
}

// Publishes `n` messages pipelined in batches, waiting for each batch's replies.
async function publishAll(port, kind, n) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const k = KINDS[kind];
  const one = resp(k.pub, k.channel, PAYLOAD);
  let replies = 0;
  let waiting = null;
  socket.on("data", (d) => {
    for (const c of d) if (c === 0x0a) replies++;
    if (waiting && replies >= waiting.until) waiting.resolve();
  });
  const BATCH = 100;
  for (let sent = 0; sent < n; sent += BATCH) {
    const count = Math.min(BATCH, n - sent);
    socket.write(one.repeat(count));
    await new Promise((resolve) => {
      waiting = { until: sent + count, resolve };
      if (replies >= waiting.until) resolve();
    });
  }
  socket.destroy();
}

const redis = await startPrivateRedis();
const client = await respClient(redis.port);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `Redis fan-out cost: ${MESSAGES} publishes of ${PAYLOAD.length} bytes, median of ${ROUNDS} rounds (machine load average ${(await import("node:os")).loadavg()[0].toFixed(1)})`,
);
console.log("kind     subscribers  Redis CPU µs/publish  µs/delivery  bytes out/publish");
const rows = [];
try {
  for (const subscribers of COUNTS) {
    for (const kind of Object.keys(KINDS)) {
      const cpu = [];
      let out = 0;
      for (let r = 0; r < ROUNDS; r++) {
        const subs = await Promise.all(
          Array.from({ length: subscribers }, () => subscriber(redis.port, kind)),
        );
        const c0 = await readRedisCounters(client);
        const before = subs.map((s) => s.bytes());
        await publishAll(redis.port, kind, MESSAGES);
        const c1 = await readRedisCounters(client);
        // every subscriber got every message (Redis writes them before it answers the publisher)
        const until = Date.now() + 10000;
        const short = () =>
          subs.filter((s, i) => s.bytes() - before[i] < MESSAGES * PAYLOAD.length);
        while (short().length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        if (short().length) throw new Error(`${short().length} subscribers missed messages`);
        cpu.push((c1.cpuUs - c0.cpuUs) / MESSAGES);
        out = (c1.netOut - c0.netOut - c0.replyBytes) / MESSAGES;
        for (const s of subs) s.socket.destroy();
      }
      const perPublish = median(cpu);
      rows.push({ kind, subscribers, perPublish, out });
      console.log(
        `${kind.padEnd(8)} ${String(subscribers).padStart(11)}  ${perPublish.toFixed(2).padStart(20)}  ${(perPublish / subscribers).toFixed(3).padStart(11)}  ${out.toFixed(0).padStart(17)}`,
      );
    }
  }
} finally {
  client.close();
  await redis.stop();
}
