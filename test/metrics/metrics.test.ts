/**
 * switchyard/metrics after a scripted session: connections over both transports and an upgrade, events with
 * acks, broadcasts, refused handshakes, disconnects for several reasons, and cluster requests (Redis adapter)
 * with a node that never answers. The scraped text has the expected values and passes `promtool check metrics`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { get } from "node:http";
import { after, before, test } from "node:test";
import { Registry } from "prom-client";
import { createClient } from "redis";
import { createAdapter } from "../../src/adapters/redis";
import { collectMetrics, type Metrics } from "../../src/metrics";
import { next, type Running, start, until } from "../support/io";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The value of the sample `name{labels}` in the exposition text (labels in any order), or undefined. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1] as string] = pair[2] as string;
    }
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v)) {
      return Number(match[3]);
    }
  }
  return undefined;
}

function httpGet(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers["content-type"]) }),
      );
    }).on("error", reject);
  });
}

const redisClients: Array<ReturnType<typeof createClient>> = [];
let nodeA: Running;
let nodeB: Running;
let metrics: Metrics;
const key = `metrics-${randomBytes(4).toString("hex")}`;

before(async () => {
  const node = async () => {
    const pubClient = createClient({ url: REDIS_URL });
    const subClient = pubClient.duplicate();
    redisClients.push(pubClient, subClient);
    await Promise.all([pubClient.connect(), subClient.connect()]);
    return start({ adapter: createAdapter(pubClient, subClient, { key, requestsTimeout: 600 }) });
  };
  nodeA = await node();
  nodeB = await node();
  metrics = collectMetrics(nodeA.io, { registry: new Registry(), maxEventNames: 4 });
  metrics.attach(nodeA.httpServer);
});

after(async () => {
  metrics.close();
  await nodeA.close();
  await nodeB.close();
  await Promise.all(redisClients.map((client) => client.quit()));
});

test("a scripted session shows in the scraped metrics, which promtool accepts", async () => {
  const { io } = nodeA;
  io.on("connection", (socket) => {
    socket.on("hello", (_arg: unknown, ack: (answer: string) => void) => ack("hi"));
    socket.on("kick", () => socket.disconnect());
  });
  nodeB.io.on("connection", () => {});
  nodeB.io.on("question", (ack: (answer: string) => void) => ack("from B"));

  // connections: websocket only, polling only, and polling upgraded to websocket
  const ws = nodeA.client("/", { transports: ["websocket"] });
  const polling = nodeA.client("/", { transports: ["polling"] });
  const upgrading = nodeA.client("/");
  const upgraded = next(upgrading.io.engine, "upgrade");
  await Promise.all([next(ws, "connect"), next(polling, "connect"), next(upgrading, "connect")]);
  await upgraded;
  const onB = nodeB.client("/", { transports: ["websocket"] }); // another server: not counted
  await next(onB, "connect");

  // events with acks, both ways; more event names than the cap of 4
  assert.equal(await ws.emitWithAck("hello", 1), "hi");
  assert.equal(await polling.emitWithAck("hello", 2), "hi");
  const wsSocket = [...io.of("/").sockets.values()].find((s) => s.id === ws.id);
  assert.ok(wsSocket);
  const lastOfFour = next(wsSocket, "d");
  for (const name of ["a", "b", "c", "d"]) ws.emit(name);
  await lastOfFour; // the names in, in order, before any name out
  ws.on("question", (ack: (answer: string) => void) => ack("yes"));
  assert.equal(await wsSocket.emitWithAck("question"), "yes");
  await assert.rejects(wsSocket.timeout(50).emitWithAck("unanswered"));

  // broadcasts: to all three sockets of node A, then to one room
  const news = Promise.all([next(ws, "news"), next(polling, "news"), next(upgrading, "news")]);
  io.local.emit("news", 1);
  await news;
  wsSocket.join("room");
  const roomNews = next(ws, "room-news");
  io.local.to("room").emit("room-news");
  await roomNews;

  // refused handshakes: an unknown transport (code 0) and an unsupported protocol (code 5)
  assert.equal(
    (await httpGet(`${nodeA.url}/socket.io/?EIO=4&transport=carrier-pigeon`)).status,
    400,
  );
  assert.equal((await httpGet(`${nodeA.url}/socket.io/?EIO=3&transport=polling`)).status, 400);

  // a cluster with a node that never answers: a plain subscriber of the request channel counts as a node
  const silent = createClient({ url: REDIS_URL });
  redisClients.push(silent);
  await silent.connect();
  await silent.subscribe(`${key}-request#/#`, () => {});
  while ((await io.of("/").adapter.serverCount()) !== 3)
    await new Promise((r) => setTimeout(r, 10));
  const answers = await new Promise<[Error | null, unknown[]]>((resolve) =>
    io.serverSideEmit("question", (err: Error | null, responses: unknown[]) =>
      resolve([err, responses]),
    ),
  );
  assert.ok(answers[0], "the silent node makes the request time out");
  assert.deepEqual(answers[1], ["from B"]);
  await io.fetchSockets().then(
    () => assert.fail("fetchSockets should time out"),
    (err: Error) => assert.match(err.message, /timeout/),
  );
  await silent.unsubscribe();

  // disconnects: by the client, by the server, by a closed transport
  const disconnects: string[] = [];
  io.of("/").sockets.forEach((s) => s.on("disconnect", (reason) => disconnects.push(reason)));
  ws.disconnect();
  polling.emit("kick");
  await next(polling, "disconnect");
  upgrading.io.engine.close();
  await until(() => disconnects.length === 3 && io.engine.clientsCount === 0);

  const scraped = await httpGet(`${nodeA.url}/metrics`);
  assert.equal(scraped.status, 200);
  assert.match(scraped.type, /^text\/plain; version=0\.0\.4/);
  const text = scraped.body;
  const value = (name: string, labels?: Record<string, string>) =>
    sample(text, `switchyard_${name}`, labels);

  assert.equal(value("engine_handshakes_total", { transport: "websocket" }), 1);
  assert.equal(value("engine_handshakes_total", { transport: "polling" }), 2);
  assert.equal(value("engine_upgrades_total", { from: "polling", to: "websocket" }), 1);
  assert.equal(value("engine_upgrade_delay_seconds_count"), 1);
  assert.equal(value("engine_connection_errors_total", { code: "0" }), 1);
  assert.equal(value("engine_connection_errors_total", { code: "5" }), 1);
  assert.equal(value("connections_total", { namespace: "/" }), 3);
  assert.equal(value("sockets_connected", { namespace: "/", transport: "websocket" }), undefined);
  for (const reason of [
    "client namespace disconnect",
    "server namespace disconnect",
    "transport close",
  ]) {
    assert.equal(value("disconnects_total", { namespace: "/", reason }), 1, reason);
  }
  assert.equal(
    value("engine_closes_total", { reason: "transport close", transport: "websocket" }),
    2,
  );
  assert.equal(
    value("engine_closes_total", { reason: "transport close", transport: "polling" }),
    1,
  );
  // events: hello twice, then a b c d with a cap of 4 names (hello, a, b, c): d and kick are "other"
  assert.equal(value("events_received_total", { event: "hello" }), 2);
  assert.equal(value("events_received_total", { event: "c" }), 1);
  assert.equal(value("events_received_total", { event: "other" }), 2);
  assert.equal(value("events_sent_total", { event: "other" }), 4); // question, unanswered, news, room-news
  assert.equal(value("ack_duration_seconds_count"), 1);
  assert.equal(value("ack_timeouts_total", { event: "other" }), 1);
  assert.equal(value("broadcasts_total", { namespace: "/" }), 2);
  assert.equal(value("broadcast_recipients_total", { namespace: "/" }), 4);
  // the cluster requests: both timed out with one of two answers
  assert.equal(
    value("adapter_requests_total", { type: "server_side_emit", outcome: "timeout" }),
    1,
  );
  assert.equal(value("adapter_requests_total", { type: "remote_fetch", outcome: "timeout" }), 1);
  assert.equal(value("adapter_request_partial_total", { type: "server_side_emit" }), 1);
  assert.equal(value("adapter_request_duration_seconds_count", { type: "remote_fetch" }), 1);
  // packets and bytes: every event and ack went as an engine message; the counts are at least those
  const wsIn =
    value("engine_packets_received_total", { transport: "websocket", type: "message" }) ?? 0;
  const pollIn =
    value("engine_packets_received_total", { transport: "polling", type: "message" }) ?? 0;
  assert.ok(wsIn >= 7 && pollIn >= 2, `messages in: ${wsIn} websocket, ${pollIn} polling`);
  assert.ok((value("engine_received_bytes_total", { transport: "websocket" }) ?? 0) > wsIn);
  assert.ok((value("engine_sent_bytes_total", { transport: "polling" }) ?? 0) > 0);
  assert.ok(
    (value("engine_packets_sent_total", { transport: "websocket", type: "open" }) ?? 0) >= 1,
  );

  execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: text });
});

test("the gauges count the sockets connected now, per namespace and transport", async () => {
  nodeA.io.of("/admin");
  const before = await metrics.text();
  const a = nodeA.client("/", { transports: ["websocket"] });
  const b = nodeA.client("/admin", { transports: ["polling"] });
  await Promise.all([next(a, "connect"), next(b, "connect")]);
  const text = await metrics.text();
  assert.equal(
    sample(before, "switchyard_sockets_connected", { namespace: "/", transport: "websocket" }),
    undefined,
  );
  assert.equal(
    sample(text, "switchyard_sockets_connected", { namespace: "/", transport: "websocket" }),
    1,
  );
  assert.equal(
    sample(text, "switchyard_sockets_connected", { namespace: "/admin", transport: "polling" }),
    1,
  );
  assert.equal(sample(text, "switchyard_engine_sessions", { transport: "polling" }), 1);
  a.disconnect();
  b.disconnect();
});

test("packets and bytes are exact: a broadcast counts once per target and transport, an echo both ways", async () => {
  const node = await start();
  const own = collectMetrics(node.io, { registry: new Registry() });
  // a second collector on the same server counts through the diagnostics channels instead: the same numbers
  const second = collectMetrics(node.io, { registry: new Registry() });
  try {
    node.io.on("connection", (socket) => {
      socket.on("echo", (arg: unknown, ack: (answer: unknown) => void) => ack(arg));
    });
    const ws = [0, 1].map(() => node.client("/", { transports: ["websocket"] }));
    const polling = node.client("/", { transports: ["polling"] });
    await Promise.all([...ws, polling].map((c) => next(c, "connect")));
    const count = async (metrics = own) => {
      const text = await metrics.text();
      const read = (name: string, labels: Record<string, string>) =>
        sample(text, `switchyard_${name}`, labels) ?? 0;
      const out = (transport: string) => ({
        messages: read("engine_packets_sent_total", { transport, type: "message" }),
        bytes: read("engine_sent_bytes_total", { transport }),
      });
      return {
        websocket: out("websocket"),
        polling: out("polling"),
        messagesIn: read("engine_packets_received_total", {
          transport: "websocket",
          type: "message",
        }),
        bytesIn: read("engine_received_bytes_total", { transport: "websocket" }),
        echoes: read("events_received_total", { event: "echo" }),
      };
    };

    // a broadcast with a non-ASCII character: bytes, not characters; 2 WebSocket targets and 1 polling
    const before = await count();
    const payload = { text: "été ✓" };
    const received = Promise.all([...ws, polling].map((c) => next(c, "news")));
    node.io.emit("news", payload);
    await received;
    const encoded = `2${JSON.stringify(["news", payload])}`; // Socket.IO EVENT in an engine message
    const size = 1 + Buffer.byteLength(encoded);
    const after = await count();
    assert.deepEqual(
      { websocket: after.websocket, polling: after.polling },
      {
        websocket: {
          messages: before.websocket.messages + 2,
          bytes: before.websocket.bytes + 2 * size,
        },
        polling: { messages: before.polling.messages + 1, bytes: before.polling.bytes + size },
      },
    );

    // an echo: one message in, one ack out, on the same transport
    const first = ws[0] as (typeof ws)[number];
    assert.deepEqual(await first.emitWithAck("echo", "ñ"), "ñ");
    const echoed = await count();
    assert.equal(echoed.echoes, before.echoes + 1);
    assert.equal(echoed.messagesIn, after.messagesIn + 1);
    assert.equal(
      echoed.bytesIn,
      after.bytesIn + 1 + Buffer.byteLength(`20${JSON.stringify(["echo", "ñ"])}`),
    );
    assert.equal(echoed.websocket.messages, after.websocket.messages + 1);
    assert.equal(
      echoed.websocket.bytes,
      after.websocket.bytes + 1 + Buffer.byteLength(`30${JSON.stringify(["ñ"])}`),
    );
    assert.deepEqual(await count(second), echoed);
  } finally {
    second.close();
    own.close();
    await node.close();
  }
});
