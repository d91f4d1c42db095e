/**
 * Byte-level wire checks: the same operation run on a socket.io server with the official adapter and on a
 * Switchyard server with the Switchyard adapter must publish the same bytes on the same channels (ids aside).
 * (Our adapters deliver through the namespace boundary of Switchyard's server, which socket.io's lacks.)
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  createAdapter as officialCreateAdapter,
  createShardedAdapter as officialSharded,
} from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server as SioServer } from "socket.io";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import { type AdapterConstructor, Server as SwitchyardServer } from "../../src/index";
import { REDIS_URL, uniqueKey, until } from "./cluster";

type Client = ReturnType<typeof createClient>;
const clients: Client[] = [];
async function client(): Promise<Client> {
  const c = createClient({ url: REDIS_URL });
  c.on("error", () => {});
  await c.connect();
  clients.push(c);
  return c;
}

interface Captured {
  channel: string;
  payload: Buffer;
}

interface Side {
  io: SioServer;
  /** Publishes `payload` on the node's own publishing connection, on a channel the test's spy captures. */
  publishMarker(payload: string): Promise<unknown>;
  key: string;
  uid(): string;
  captured: Captured[];
}

const servers: SioServer[] = [];
after(async () => {
  for (const io of servers) await io.of("/").adapter.close();
  await Promise.allSettled(clients.map((c) => c.quit()));
});

type AnyFactory = Parameters<SioServer["adapter"]>[0];

/** The official adapters run on socket.io, ours on Switchyard (typed as socket.io's Server for the ops). */
async function side(
  factory: (pub: Client, sub: Client, key: string) => unknown,
  key: string,
  official: boolean,
  markerChannel = `${key}-test-marker`,
  sharded = false,
): Promise<Side> {
  const pub = await client();
  const sub = await client();
  const io = official
    ? new SioServer({ adapter: factory(pub, sub, key) as AnyFactory })
    : (new SwitchyardServer({
        adapter: factory(pub, sub, key) as AdapterConstructor,
      }) as unknown as SioServer);
  servers.push(io);
  const adapter = io.of("/").adapter as unknown as { uid: string; init(): unknown };
  await adapter.init();
  io.on("hello", (...args: unknown[]) => {
    const last = args[args.length - 1];
    if (typeof last === "function") (last as (v: unknown) => void)("answer");
  });
  return {
    io,
    publishMarker: (payload) =>
      sharded ? pub.sPublish(markerChannel, payload) : pub.publish(markerChannel, payload),
    key,
    uid: () => (io.of("/").adapter as unknown as { uid: string }).uid,
    captured: [],
  };
}

/** Replaces the adapter uid and every request id by fixed placeholders, in JSON and in msgpack. */
function normalize(side: Side, c: Captured): { channel: string; payload: string } {
  let payload = c.payload.toString("latin1");
  payload = payload.split(side.uid()).join("<uid>");
  payload = payload.replace(/"requestId":"[^"]+"/g, '"requestId":"<rid>"');
  // msgpack: the fixstr "requestId" followed by a fixstr id (header 0xa0 | length)
  const tag = "\xa9requestId";
  for (let at = payload.indexOf(tag); at >= 0; at = payload.indexOf(tag, at + 1)) {
    const start = at + tag.length;
    const len = payload.charCodeAt(start) & 0x1f;
    payload = payload.slice(0, start) + "<rid>" + payload.slice(start + 1 + len);
  }
  return { channel: c.channel.replace(side.key, "<key>"), payload };
}

/**
 * Publishes a marker on the side's own publishing connection and waits until the spy has it, then drops it: the
 * publishes the operation made before it have all been captured by then (one connection, in order).
 */
async function marker(side: Side, label: string): Promise<void> {
  const payload = `test-marker ${label}`;
  const isMarker = (c: Captured) => c.payload.toString() === payload;
  await side.publishMarker(payload);
  await until(() => side.captured.some(isMarker), `${label}: marker`);
  side.captured.splice(side.captured.findIndex(isMarker), 1);
}

async function compare(
  label: string,
  official: Side,
  ours: Side,
  op: (io: SioServer) => unknown,
): Promise<void> {
  official.captured.length = 0;
  ours.captured.length = 0;
  op(official.io);
  await until(() => official.captured.length > 0, `${label}: official publish`);
  await marker(official, label);
  op(ours.io);
  await until(() => ours.captured.length > 0, `${label}: Switchyard publish`);
  await marker(ours, label);
  const a = official.captured.map((c) => normalize(official, c));
  const b = ours.captured.map((c) => normalize(ours, c));
  if (process.env.WIRE_DUMP) console.log(label, JSON.stringify(a), JSON.stringify(b));
  assert.deepEqual(b, a, `${label}: Switchyard published differently`);
}

const ops: Array<[string, (io: SioServer) => unknown]> = [
  [
    "emit to all with binary",
    (io) => io.emit("ev", 1, "two", { a: [true, null, 1.5] }, Buffer.from([1, 2, 255])),
  ],
  ["emit to one room", (io) => io.to("r1").emit("ev", 3)],
  ["emit to a numeric room", (io) => io.to(5 as unknown as string).emit("num")],
  [
    "emit to rooms with except and flags",
    (io) => io.to(["r1", "r2"]).except("r3").volatile.compress(false).emit("e"),
  ],
  ["socketsJoin", (io) => io.in("r").socketsJoin(["a", "b"])],
  ["socketsLeave", (io) => io.except("e").socketsLeave("y")],
  ["disconnectSockets", (io) => io.in("r").disconnectSockets(true)],
  ["serverSideEmit", (io) => io.serverSideEmit("hello", 1, { x: [2] })],
];

/** Ops that are requests: they need a second subscriber on the request channel, or nothing is sent. */
const requestOps: Array<[string, (io: SioServer) => unknown]> = [
  ["serverSideEmit with ack", (io) => io.serverSideEmit("hello", 1, () => {})],
  [
    "fetchSockets",
    (io) =>
      io
        .in("r1")
        .except("r2")
        .fetchSockets()
        .catch(() => {}),
  ],
  [
    "emit with ack",
    (io) =>
      io
        .to("r1")
        .timeout(200)
        .emit("ev", "x", () => {}),
  ],
];

test("classic adapter: same channels and bytes as @socket.io/redis-adapter", async () => {
  const keyO = uniqueKey("wire-o");
  const keyS = uniqueKey("wire-s");
  const official = await side(
    (p, s, key) => officialCreateAdapter(p, s, { key, requestsTimeout: 300 }),
    keyO,
    true,
  );
  const ours = await side(
    (p, s, key) => createAdapter(p, s, { key, requestsTimeout: 300 }),
    keyS,
    false,
  );
  const spy = await client();
  await spy.pSubscribe(
    [`${keyO}*`, `${keyS}*`],
    (payload: Buffer, channel: Buffer) => {
      const ch = channel.toString();
      (ch.startsWith(keyO) ? official : ours).captured.push({ channel: ch, payload });
    },
    true,
  );
  for (const [label, op] of ops) await compare(label, official, ours, op);
  // a third subscriber of the request channels makes both nodes believe in a second node
  const ghost = await client();
  await ghost.subscribe([`${keyO}-request#/#`, `${keyS}-request#/#`], () => {});
  for (const [label, op] of requestOps) await compare(label, official, ours, op);
});

test("classic adapter: answers requests as the official one does", async () => {
  const keyO = uniqueKey("wire-ro");
  const keyS = uniqueKey("wire-rs");
  const official = await side(
    (p, s, key) => officialCreateAdapter(p, s, { key }),
    keyO,
    true,
    `${keyO}-response-test-marker`,
  );
  const ours = await side(
    (p, s, key) => createAdapter(p, s, { key }),
    keyS,
    false,
    `${keyS}-response-test-marker`,
  );
  const spy = await client();
  await spy.pSubscribe(
    [`${keyO}-response*`, `${keyS}-response*`],
    (payload: Buffer, channel: Buffer) => {
      const ch = channel.toString();
      (ch.startsWith(keyO) ? official : ours).captured.push({ channel: ch, payload });
    },
    true,
  );
  const pub = await client();
  const requests: Array<[string, string]> = [
    [
      "fetch",
      JSON.stringify({
        uid: "zzzzzz",
        requestId: "abcdef",
        type: 5,
        opts: { rooms: [], except: [] },
      }),
    ],
    ["all rooms", JSON.stringify({ uid: "zzzzzz", requestId: "abcdef", type: 1 })],
    ["sockets", JSON.stringify({ uid: "zzzzzz", requestId: "abcdef", type: 0, rooms: [] })],
    [
      "server-side emit",
      JSON.stringify({ uid: "zzzzzz", requestId: "abcdef", type: 6, data: ["hello", 1] }),
    ],
  ];
  for (const [label, request] of requests) {
    await compare(label, official, ours, (io) =>
      pub.publish(`${io === official.io ? keyO : keyS}-request#/#`, request),
    );
  }
});

test("sharded adapter: same channels and bytes as the official createShardedAdapter", async () => {
  const keyO = uniqueKey("wire-so");
  const keyS = uniqueKey("wire-ss");
  // markers go to the channel of room 5, which the spy watches and no node subscribes to (no local member)
  const official = await side(
    (p, s, key) => officialSharded(p, s, { channelPrefix: key }),
    keyO,
    true,
    `${keyO}#/#5#`,
    true,
  );
  const ours = await side(
    (p, s, key) => createShardedAdapter(p, s, { channelPrefix: key, requestsTimeout: 300 }),
    keyS,
    false,
    `${keyS}#/#5#`,
    true,
  );
  const spy = await client();
  for (const key of [keyO, keyS]) {
    for (const suffix of ["", "r1#", "5#"]) {
      await spy.sSubscribe(
        `${key}#/#${suffix}`,
        (payload: Buffer, channel: Buffer) => {
          const ch = channel.toString();
          (ch.startsWith(keyO) ? official : ours).captured.push({ channel: ch, payload });
        },
        true,
      );
    }
  }
  for (const [label, op] of ops) await compare(label, official, ours, op);
  // the spy is a second subscriber of the main channel: both nodes count two servers
  for (const [label, op] of requestOps) await compare(label, official, ours, op);
});
