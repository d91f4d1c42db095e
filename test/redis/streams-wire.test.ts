/**
 * Redis Streams, in one process: an official socket.io node (@socket.io/redis-streams-adapter 0.3.1) and
 * Switchyard nodes (switchyard/redis-streams-adapter), each with its own node-redis client.
 * - streamCount 2: a namespace with a negative hash (`/notifications`, written to `<streamName>--1` by the
 *   official naming, which the official readers never read) and one with a positive hash (`/chat`).
 * - The stream entries (XRANGE) Switchyard writes for broadcasts equal the official adapter's, uids aside.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { createAdapter as officialCreateAdapter } from "@socket.io/redis-streams-adapter";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Server as SioServer } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { createAdapter, hashCode, streamFor } from "../../src/adapters/redis-streams";
import { type AdapterConstructor, Server as SwitchyardServer } from "../../src/index";
import { REDIS_URL, connected, record, uniqueKey, until } from "./cluster";

type Client = ReturnType<typeof createClient>;
type AnyFactory = Parameters<SioServer["adapter"]>[0];

const redisClients: Client[] = [];
const servers: SioServer[] = [];
const sockets: ClientSocket[] = [];
after(async () => {
  for (const s of sockets) s.disconnect();
  for (const io of servers) await new Promise<void>((resolve) => io.close(() => resolve()));
  await Promise.allSettled(redisClients.map((c) => c.quit()));
});

async function redis(): Promise<Client> {
  const c = createClient({ url: REDIS_URL });
  c.on("error", () => {});
  await c.connect();
  redisClients.push(c);
  return c;
}

interface Node {
  io: SioServer;
  port: number;
}

/** A server (official or Switchyard) on an ephemeral port, its adapter on its own Redis client. */
async function node(official: boolean, opts: Record<string, unknown>): Promise<Node> {
  const client = await redis();
  const http: HttpServer = createServer();
  const io = official
    ? new SioServer(http, { adapter: officialCreateAdapter(client, opts) as AnyFactory })
    : (new SwitchyardServer(http, {
        adapter: createAdapter(client, opts) as AdapterConstructor,
      }) as unknown as SioServer);
  servers.push(io);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { io, port: (http.address() as AddressInfo).port };
}

async function clientOf(n: Node, nsp: string): Promise<ClientSocket> {
  const s = connect(`http://127.0.0.1:${n.port}${nsp}`, { transports: ["websocket"] });
  sockets.push(s);
  await connected(s, "a client");
  return s;
}

/**
 * Broadcasts `probe` from `from` until `to` has one: the readers start at `$` (new entries only), so this waits
 * until the receiving node's XREAD is in place.
 */
async function ready(from: Node, nsp: string, to: ClientSocket, what: string): Promise<void> {
  const probes = record(to, "probe");
  await until(() => {
    if (probes.length > 0) return true;
    from.io.of(nsp).emit("probe");
    return false;
  }, `${what} to be listening`);
}

test("streamCount 2: a namespace with a negative hash and one with a positive hash, official ↔ Switchyard", async () => {
  const key = uniqueKey("streams-negative-hash");
  const opts = {
    streamName: `${key}-s`,
    streamCount: 2,
    channelPrefix: `${key}-ch`,
    blockTimeInMs: 500,
  };
  assert.ok(hashCode("/notifications") < 0 && hashCode("/chat") > 0);
  assert.equal(streamFor("/notifications", opts.streamName, 2), `${opts.streamName}--1`);
  assert.equal(streamFor("/chat", opts.streamName, 2), `${opts.streamName}-1`);

  const O = await node(true, opts);
  const S = await node(false, opts);
  const S2 = await node(false, opts);
  for (const n of [O, S, S2]) for (const nsp of ["/notifications", "/chat"]) n.io.of(nsp);
  const oChat = await clientOf(O, "/chat");
  const sChat = await clientOf(S, "/chat");
  const sNote = await clientOf(S, "/notifications");
  const s2Note = await clientOf(S2, "/notifications");

  // positive hash: both directions
  await ready(O, "/chat", sChat, "S on /chat");
  await ready(S, "/chat", oChat, "O on /chat");
  const onOChat = record(oChat, "ev");
  const onSChat = record(sChat, "ev");
  O.io.of("/chat").emit("ev", "from-official");
  S.io.of("/chat").emit("ev", "from-switchyard");
  await until(() => onSChat.some((a) => a[0] === "from-official"), "/chat official → Switchyard");
  await until(() => onOChat.some((a) => a[0] === "from-switchyard"), "/chat Switchyard → official");

  // negative hash: the official node writes to `--1`, and a Switchyard node reads it
  await ready(O, "/notifications", sNote, "S on /notifications");
  const onSNote = record(sNote, "ev");
  O.io.of("/notifications").emit("ev", "from-official");
  await until(
    () => onSNote.some((a) => a[0] === "from-official"),
    "/notifications official → Switchyard",
  );
  // and Switchyard writes there too (the same naming), where the other Switchyard node reads it
  await ready(S, "/notifications", s2Note, "S2 on /notifications");
  const onS2Note = record(s2Note, "ev");
  S.io.of("/notifications").emit("ev", "from-switchyard");
  await until(
    () => onS2Note.some((a) => a[0] === "from-switchyard"),
    "/notifications Switchyard → Switchyard",
  );

  const check = await redis();
  const entries = await check.xRange(`${opts.streamName}--1`, "-", "+");
  const sent = entries.map((e) => e.message.data ?? "");
  assert.ok(
    sent.some((d) => d.includes('"from-official"')),
    "the official entry is in --1",
  );
  assert.ok(
    sent.some((d) => d.includes('"from-switchyard"')),
    "the Switchyard entry is in --1",
  );
  assert.ok(entries.every((e) => e.message.nsp === "/notifications"));
  assert.equal(await check.exists(`${opts.streamName}-0`), 0, "nothing else was routed to -0");
  // each node got each broadcast once
  assert.equal(onSNote.filter((a) => a[0] === "from-official").length, 1);
  assert.equal(onS2Note.filter((a) => a[0] === "from-switchyard").length, 1);
});

/** The entries of a stream as `[uid, nsp, type, data]` field lists in Redis order, the adapter's uid replaced. */
async function entriesOf(stream: string, uid: string): Promise<string[][]> {
  const check = await redis();
  const raw = (await check.sendCommand(["XRANGE", stream, "-", "+"])) as Array<[string, string[]]>;
  return raw.map(([, fields]) => fields.map((f) => f.split(uid).join("<uid>")));
}

test("stream entries: Switchyard writes what the official adapter writes (all, room with except, binary)", async () => {
  const key = uniqueKey("streams-wire");
  const written: string[][][] = [];
  for (const official of [true, false]) {
    const streamName = `${key}-${official ? "o" : "s"}`;
    // a short BLOCK: the official adapter's close() waits for its XREAD to return before it disconnects
    // (the process would otherwise stay up to 5 s after the tests)
    const n = await node(official, { streamName, channelPrefix: `${key}-ch`, blockTimeInMs: 500 });
    n.io.emit("hello", "world", 1);
    n.io.to("roomX").except("roomY").emit("roomed", "x");
    n.io.emit("bin", Buffer.from([1, 2, 3]), { a: 1 });
    n.io
      .of("/chat")
      .to(["r1", "r2"])
      .emit("chat", { deep: [null, true, "é"] });
    const check = await redis();
    await until(async () => (await check.xLen(streamName)) >= 4, `four entries in ${streamName}`);
    const uid = (n.io.of("/").adapter as unknown as { uid: string }).uid;
    const chatUid = (n.io.of("/chat").adapter as unknown as { uid: string }).uid;
    written.push(
      (await entriesOf(streamName, uid)).map((f) => f.map((v) => v.split(chatUid).join("<uid>"))),
    );
  }
  const [official, switchyard] = written;
  assert.equal(official?.length, 4);
  // the binary broadcast went as base64 msgpack, not JSON, on both
  assert.ok(official?.[2]?.[7] !== undefined && !official[2][7].startsWith("{"));
  assert.deepEqual(switchyard, official);
});

/** The connections Redis has for the client name `name`, with the command each one runs. */
async function connectionsNamed(check: Client, name: string): Promise<string[]> {
  const list = String(await check.sendCommand(["CLIENT", "LIST"]));
  return list
    .split("\n")
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /cmd=(\S+)/.exec(line)?.[1] ?? "?");
}

for (const kind of ["redis", "ioredis"] as const) {
  test(`close() ends the adapter's connections at once, a blocked XREAD included (${kind})`, async () => {
    const name = uniqueKey(`streams-close-${kind}`);
    const url = new URL(REDIS_URL);
    // the adapter's duplicates inherit the client's name, so Redis tells which connections are the adapter's
    const own =
      kind === "redis"
        ? createClient({ url: REDIS_URL, name })
        : new Redis({ host: url.hostname, port: Number(url.port), connectionName: name });
    own.on("error", () => {});
    if (kind === "redis") await (own as Client).connect();
    const check = await redis();
    try {
      const http = createServer();
      // BLOCK far longer than the test's deadlines: only closing the connection can end that XREAD in time
      const io = new SwitchyardServer(http, {
        adapter: createAdapter(own, {
          streamName: `${name}-s`,
          channelPrefix: `${name}-ch`,
          blockTimeInMs: 60000,
        }) as AdapterConstructor,
        connectionStateRecovery: {},
      });
      io.of("/other");
      await until(
        async () => (await connectionsNamed(check, name)).includes("xread"),
        "the adapter's XREAD to block",
      );
      // the client's own connection, the pub/sub connection and the reader
      assert.equal((await connectionsNamed(check, name)).length, 3);
      const closing = Date.now();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await until(
        async () => (await connectionsNamed(check, name)).length === 1,
        "only the client's own connection to remain",
      );
      // well before the XREAD's own timeout, and the client passed in is left open (it is the caller's)
      assert.ok(Date.now() - closing < 15000);
      const pong = kind === "redis" ? (own as Client).ping() : (own as Redis).ping();
      assert.equal(await pong, "PONG");
    } finally {
      if (kind === "redis") await (own as Client).quit();
      else await (own as Redis).quit();
    }
  });
}
