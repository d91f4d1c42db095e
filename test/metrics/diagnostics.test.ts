/**
 * The diagnostics channels: a subscriber gets the documented messages; without one, nothing is published.
 */
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { get } from "node:http";
import { after, before, test } from "node:test";
import { ChannelName } from "../../src/diagnostics";
import { next, type Running, start, until } from "../support/io";

let server: Running;

before(async () => {
  server = await start();
  server.io.on("connection", (socket) => {
    socket.on("hello", (ack: (answer: string) => void) => ack("hi"));
  });
});

after(() => server.close());

/** One session: a websocket client, an event with an ack each way, a broadcast, a disconnect, a refusal. */
async function session(): Promise<void> {
  const client = server.client("/", { transports: ["websocket"] });
  await next(client, "connect");
  client.on("ping?", (ack: (answer: string) => void) => ack("pong!"));
  assert.equal(await client.emitWithAck("hello"), "hi");
  const socket = server.io.of("/").sockets.get(client.id as string);
  assert.ok(socket);
  assert.equal(await socket.emitWithAck("ping?"), "pong!");
  const news = next(client, "news");
  server.io.emit("news", 1);
  await news;
  const gone = next(socket, "disconnect");
  client.disconnect();
  await gone;
  await new Promise<void>((resolve, reject) =>
    get(`${server.url}/socket.io/?EIO=4&transport=bogus`, (res) => {
      res.resume();
      res.on("end", resolve);
    }).on("error", reject),
  );
  await until(() => server.io.engine.clientsCount === 0);
}

test("a subscriber receives the documented messages", async () => {
  const seen = new Map<string, Array<Record<string, unknown>>>();
  const subscribers = Object.values(ChannelName).map((name) => {
    const fn = (message: unknown) => {
      const list = seen.get(name) ?? [];
      list.push(message as Record<string, unknown>);
      seen.set(name, list);
    };
    diagnostics.subscribe(name, fn);
    return [name, fn] as const;
  });
  try {
    await session();
  } finally {
    for (const [name, fn] of subscribers) diagnostics.unsubscribe(name, fn);
  }
  const one = (name: string) => {
    const list = seen.get(name);
    assert.ok(list && list.length > 0, `a message on ${name}`);
    return list[0] as Record<string, unknown>;
  };
  const open = one(ChannelName.ENGINE_OPEN);
  assert.equal(open.transport, "websocket");
  const engineSocket = open.socket as { id: string };
  assert.equal(typeof engineSocket.id, "string");
  const connection = one(ChannelName.CONNECTION);
  const socket = connection.socket as { id: string; conn: unknown; nsp: { name: string } };
  assert.equal(socket.conn, engineSocket);
  assert.equal(socket.nsp.name, "/");

  const eventIn = one(ChannelName.EVENT_IN);
  assert.deepEqual(
    { ...eventIn, socket: undefined },
    { socket: undefined, event: "hello", args: [], ackId: 0 },
  );
  const eventOut = seen.get(ChannelName.EVENT_OUT)?.find((m) => m.event === "ping?");
  assert.ok(eventOut);
  assert.equal(eventOut.socket, socket);
  assert.deepEqual(eventOut.args, []);
  assert.equal(typeof eventOut.ackId, "number");
  const ack = one(ChannelName.ACK);
  assert.equal(ack.event, "ping?");
  assert.equal(ack.timedOut, false);
  assert.ok((ack.durationMs as number) >= 0);

  const broadcast = one(ChannelName.BROADCAST);
  assert.equal(broadcast.namespace, "/");
  assert.equal(broadcast.recipients, 1);
  assert.deepEqual((broadcast.packet as { data: unknown }).data, ["news", 1]);
  assert.equal(broadcast.adapter, server.io.of("/").adapter);

  assert.deepEqual(one(ChannelName.DISCONNECT), { socket, reason: "client namespace disconnect" });
  const close = one(ChannelName.ENGINE_CLOSE);
  assert.deepEqual(close, {
    socket: engineSocket,
    reason: "transport close",
    transport: "websocket",
  });
  const refused = one(ChannelName.ENGINE_REFUSED);
  assert.equal(refused.code, 0);
  assert.equal(refused.message, "Transport unknown");
  assert.equal(refused.server, server.io.engine);

  const packetIn = seen.get(ChannelName.ENGINE_PACKET_IN) ?? [];
  assert.ok(packetIn.some((m) => (m.packet as { data?: unknown }).data === '20["hello"]'));
  const packetOut = seen.get(ChannelName.ENGINE_PACKET_OUT) ?? [];
  assert.equal((packetOut[0]?.packets as Array<{ type: string }>)[0]?.type, "open");
});

test("without a subscriber, nothing is published", async () => {
  const channels = Object.values(ChannelName).map((name) => diagnostics.channel(name));
  let published = 0;
  for (const channel of channels) {
    assert.equal(channel.hasSubscribers, false);
    channel.publish = () => {
      published++;
    };
  }
  try {
    await session();
  } finally {
    for (const channel of channels) delete (channel as { publish?: unknown }).publish;
  }
  assert.equal(published, 0);
});
