/**
 * The Socket.IO layer's limits (docs/limits.md), over real sockets: the send buffer bound of a stalled reader,
 * emit() false and "drain", pending acks, one CONNECT per namespace, the namespace cap, dynamic namespaces left
 * behind by refused CONNECTs, middlewares that throw/reject/call next twice, io.close() with a hanging adapter,
 * and the packet rate limit.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import type { Socket as NetSocket } from "node:net";
import { test } from "node:test";
import { Manager } from "socket.io-client";
import { Adapter, type Socket } from "../../src";
import { request } from "../support/http";
import { next, sleep, start, until } from "../support/io";
import { openRaw, type RawPeer } from "../support/raw";

/** Stops reading the peer's socket: the server's writes pile up in the kernel, then in the server. */
function stall(peer: RawPeer): NetSocket {
  const raw = (peer.ws as unknown as { _socket: NetSocket })._socket;
  raw.pause();
  return raw;
}

/** Catches what would crash the process, so a test can assert there was none. */
function watchCrashes(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (err: unknown): void => void errors.push(err);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    errors,
    stop() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}

test("a stalled reader: emit() turns false past the high-water mark, then the connection closes with 'send buffer overflow'", async () => {
  const max = 1024 * 1024;
  const run = await start({ sendBufferHighWaterMark: 64 * 1024, maxSendBufferBytes: max });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const peer = await openRaw(run.port);
    await peer.connectMain();
    const [socket] = await connected;
    const raw = stall(peer);
    const payload = "x".repeat(1000);
    let sawFalse = false;
    let maxBuffered = 0;
    let reason: string | undefined;
    socket.on("disconnect", (r) => (reason = r));
    const deadline = Date.now() + 30000;
    while (reason === undefined && Date.now() < deadline) {
      for (let i = 0; i < 200 && socket.connected; i++) {
        if (!socket.emit("data", payload)) sawFalse = true;
        maxBuffered = Math.max(maxBuffered, socket.conn.bufferedAmount);
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(reason, "send buffer overflow");
    assert.ok(sawFalse, "emit() returned false before the overflow");
    assert.ok(maxBuffered > 64 * 1024, `bufferedAmount was readable (${maxBuffered})`);
    assert.ok(maxBuffered <= max + 2048, `never above the bound (${maxBuffered})`);
    raw.resume(); // a paused socket would never see the end of the connection
    await peer.closed;
    assert.equal(run.io.engine.clientsCount, 0);
  } finally {
    await run.close();
  }
});

test("emit() false, volatile packets dropped, then 'drain' once the reader catches up", async () => {
  const highWater = 64 * 1024;
  const run = await start({ sendBufferHighWaterMark: highWater });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const peer = await openRaw(run.port);
    await peer.connectMain();
    const [socket] = await connected;
    const raw = stall(peer);
    const payload = "y".repeat(1000);
    // emit until the buffer stays over the mark across a turn of the event loop (the kernel is full too)
    let sawFalse = false;
    for (let round = 0; round < 2000 && !socket.conn.needsDrain; round++) {
      for (let i = 0; i < 100; i++) if (!socket.emit("data", payload)) sawFalse = true;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(sawFalse && socket.conn.needsDrain, "emit() returned false");
    assert.equal(socket.emit("data", payload), false);
    const before = socket.conn.bufferedAmount;
    socket.volatile.emit("data", payload);
    assert.equal(socket.conn.bufferedAmount, before, "the volatile packet was dropped");
    const drained = next(socket, "drain");
    raw.resume();
    await drained;
    assert.ok(socket.conn.bufferedAmount <= highWater);
    assert.ok(socket.emit("data", "after"));
    assert.ok(socket.connected);
  } finally {
    await run.close();
  }
});

test("a lagging reader's frames, its own and broadcasts', are kept off-heap and reach it whole and in order once it reads again", async () => {
  const run = await start({ sendBufferHighWaterMark: 64 * 1024 });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const peer = await openRaw(run.port);
    await peer.connectMain();
    const [socket] = await connected;
    const raw = stall(peer);
    const count = 1000;
    // sizes from 0 to 30 kB (15 MB in all): frames end anywhere in the 16 KiB chunks, and some span several
    const sizeOf = (i: number): number => (i * 7919) % 30000;
    let acked = 0;
    let maxBuffered = 0;
    for (let i = 0; i < count; i++) {
      // every third one a broadcast: its frame is shared, and copied like the socket's own while it lags
      if (i % 3 === 0) run.io.emit("n", i, "z".repeat(sizeOf(i)));
      else socket.emit("n", i, "z".repeat(sizeOf(i)));
      if (i % 100 === 0) {
        maxBuffered = Math.max(maxBuffered, socket.conn.bufferedAmount);
        // the session queues no packets of its own: the transport holds their bytes
        assert.equal(socket.conn.writeBuffer.length, 0);
        await new Promise((r) => setImmediate(r));
      }
    }
    socket.conn.send("last", undefined, () => acked++);
    assert.ok(maxBuffered > 1024 * 1024, `the peer lagged (${maxBuffered} bytes buffered)`);
    const start = peer.received.length;
    raw.resume();
    await until(() => peer.received.length - start === count + 1, 30000);
    const got = peer.received.slice(start);
    for (let i = 0; i < count; i++) {
      assert.equal(got[i], `42${JSON.stringify(["n", i, "z".repeat(sizeOf(i))])}`, `message ${i}`);
    }
    assert.equal(got[count], "4last");
    await until(() => acked === 1);
    assert.ok(socket.connected);
  } finally {
    await run.close();
  }
});

test("pending acks are bounded per socket and freed when the socket goes", async () => {
  const run = await start({ maxPendingAcks: 5 });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const client = run.client("/", { transports: ["websocket"] });
    client.on("ask", () => {}); // never answers
    const [socket] = await connected;
    await next(client, "connect");
    for (let i = 0; i < 5; i++) assert.ok(socket.emit("ask", i, () => {}));
    const refused = new Promise<unknown>((resolve) => {
      assert.equal(
        socket.emit("ask", 5, (err: unknown) => resolve(err)),
        false,
      );
    });
    const err = (await refused) as Error;
    assert.equal(err.message, "too many pending acknowledgements");
    assert.equal(socket.acks.size, 5);
    const gone = next(socket, "disconnect");
    client.disconnect();
    await gone;
    assert.equal(socket.acks.size, 0, "the acks left with the socket");
  } finally {
    await run.close();
  }
});

test("broadcast acks count towards maxPendingAcks: a target at the bound is skipped, the others answer", async () => {
  const run = await start({ maxPendingAcks: 3 });
  try {
    const silent = run.client("/", { transports: ["websocket"] });
    const answering = run.client("/", { transports: ["websocket"] });
    let asksToSilent = 0;
    silent.on("ask", () => asksToSilent++); // never answers
    answering.on("ask", (n: number, answer: (v: string) => void) => answer(`ok ${n}`));
    await Promise.all([next(silent, "connect"), next(answering, "connect")]);
    await until(() => run.io.of("/").sockets.size === 2);
    const silentSocket = run.io.of("/").sockets.get(silent.id as string) as Socket;
    const broadcast = (n: number): Promise<[Error | null, unknown[]]> =>
      new Promise((resolve) =>
        run.io
          .timeout(5000)
          .emit("ask", n, (err: Error | null, answers: unknown[]) => resolve([err, answers])),
      );
    // three broadcasts fill the silent socket's bound (they wait for it until their timeout)
    const waiting = [broadcast(0), broadcast(1), broadcast(2)];
    const answeringSocket = run.io.of("/").sockets.get(answering.id as string) as Socket;
    await until(() => silentSocket.acks.size === 3 && answeringSocket.acks.size === 0);
    // past the bound the silent socket is left out: the broadcast completes with the other answer alone
    for (let n = 3; n < 200; n++) {
      const [err, answers] = await broadcast(n);
      assert.equal(err, null);
      assert.deepEqual(answers, [`ok ${n}`]);
    }
    assert.equal(
      silentSocket.acks.size,
      3,
      "the silent socket never awaited more than maxPendingAcks",
    );
    const marked = next(silent, "mark");
    run.io.emit("mark");
    await marked;
    assert.equal(asksToSilent, 3, "the broadcasts past the bound were not delivered to it");
    const gone = next(silentSocket, "disconnect");
    silent.disconnect();
    await gone;
    assert.equal(silentSocket.acks.size, 0, "the acks left with the socket");
    // the first three broadcasts end (at the latest at their timeout) with the answering socket's answers
    for (const [n, result] of waiting.entries()) {
      const [, answers] = await result;
      assert.deepEqual(answers, [`ok ${n}`]);
    }
  } finally {
    await run.close();
  }
});

/** Opens a polling session with raw HTTP; returns the session URL path. */
async function pollingSession(port: number): Promise<string> {
  const open = await request(port, "/socket.io/?EIO=4&transport=polling");
  const sid = (JSON.parse(open.body.toString().slice(1)) as { sid: string }).sid;
  return `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
}

test("100,000 CONNECTs in one polling POST give one connection, and the process lives", async () => {
  const run = await start();
  const crashes = watchCrashes();
  try {
    let connections = 0;
    let marker: (() => void) | undefined;
    const markerSeen = new Promise<void>((resolve) => (marker = resolve));
    run.io.on("connection", (socket: Socket) => {
      connections++;
      socket.on("marker", () => marker!());
    });
    const path = await pollingSession(run.port);
    const body = Array.from({ length: 100_000 }, () => "40").join("\x1e");
    const posted = await request(run.port, path, { method: "POST", body });
    assert.equal(posted.status, 200);
    await until(() => connections >= 1);
    // a later packet on the same connection, handled after every CONNECT: the count is final then
    await request(run.port, path, { method: "POST", body: '42["marker"]' });
    await markerSeen;
    assert.equal(connections, 1);
    assert.deepEqual(crashes.errors, []);
  } finally {
    crashes.stop();
    await run.close();
  }
});

test("a CONNECT while the same namespace is still in its middlewares is ignored", async () => {
  const run = await start();
  try {
    let connections = 0;
    const admin = run.io.of("/admin");
    admin.use((_socket, next) => void setTimeout(next, 50));
    admin.on("connection", () => connections++);
    const peer = await openRaw(run.port);
    for (let i = 0; i < 50; i++) peer.ws.send("40/admin,");
    await until(() => connections === 1);
    await peer.connectMain(); // a later CONNECT to "/" is answered: the earlier ones were all handled
    await until(() =>
      peer.received.some((m) => m === '40/admin,{"sid":' || String(m).startsWith("40/admin,")),
    );
    assert.equal(connections, 1);
    peer.ws.close();
  } finally {
    await run.close();
  }
});

test("a connection may join at most maxNamespacesPerConnection namespaces", async () => {
  const run = await start({ maxNamespacesPerConnection: 3 });
  try {
    run.io.of(/^\/n\d+$/);
    const manager = new Manager(run.url, { reconnection: false, transports: ["websocket"] });
    const sockets = ["/n1", "/n2", "/n3"].map((nsp) => manager.socket(nsp).connect());
    await Promise.all(sockets.map((s) => next(s, "connect")));
    const fourth = manager.socket("/n4").connect();
    const [err] = await next<[Error]>(fourth, "connect_error");
    assert.equal(err.message, "too many namespaces");
    assert.ok(
      sockets.every((s) => s.connected),
      "the others are untouched",
    );
    assert.equal(run.io._nsps.has("/n4"), false);
    sockets[0]!.disconnect();
    await until(() => run.io.of("/n1").sockets.size === 0);
    const again = manager.socket("/n5").connect();
    await next(again, "connect");
    manager.engine.close();
  } finally {
    await run.close();
  }
});

test("refused CONNECTs to a dynamic namespace leave no namespace or adapter behind", async () => {
  let adapters = 0;
  class CountingAdapter extends Adapter {
    constructor(nsp: ConstructorParameters<typeof Adapter>[0]) {
      super(nsp);
      adapters++;
    }
    override close(): void {
      adapters--;
    }
  }
  const run = await start({ adapter: CountingAdapter, maxNamespacesPerConnection: 1000 });
  try {
    const parent = run.io.of(/^\/dyn-\d+$/);
    parent.use((socket, next) => {
      if (socket.handshake.auth.token === "ok") next();
      else next(new Error("refused"));
    });
    const baseline = adapters;
    const peer = await openRaw(run.port);
    for (let i = 0; i < 200; i++) peer.ws.send(`40/dyn-${i},`);
    await until(() => peer.received.filter((m) => String(m).startsWith("44/dyn-")).length === 200);
    assert.deepEqual(
      [...run.io._nsps.keys()].filter((name) => name.startsWith("/dyn-")),
      [],
    );
    assert.equal((parent as unknown as { children: Set<unknown> }).children.size, 0);
    assert.equal(adapters, baseline, "every adapter created for a refused CONNECT was closed");
    // one that succeeds keeps its namespace
    peer.ws.send('40/dyn-7,{"token":"ok"}');
    await until(() => peer.received.some((m) => String(m).startsWith("40/dyn-7,")));
    assert.ok(run.io._nsps.has("/dyn-7"));
    peer.ws.close();
  } finally {
    await run.close();
  }
});

test("middlewares that throw, reject or call next twice: connect_error, one connection, the process lives", async () => {
  const run = await start();
  const crashes = watchCrashes();
  try {
    const counts: Record<string, number> = {};
    const cases: Array<[string, Parameters<ReturnType<typeof run.io.of>["use"]>[0]]> = [
      [
        "/throws",
        () => {
          throw new Error("thrown");
        },
      ],
      ["/rejects", () => Promise.reject(new Error("rejected")) as unknown as void],
      [
        "/twice",
        (_s, next) => {
          next();
          next();
        },
      ],
      [
        "/twice-error",
        (_s, next) => {
          next(new Error("first"));
          next();
        },
      ],
    ];
    for (const [name, fn] of cases) {
      counts[name] = 0;
      run.io.of(name).use(fn);
      run.io.of(name).on("connection", () => counts[name]!++);
    }
    for (const [name, expected] of [
      ["/throws", "thrown"],
      ["/rejects", "rejected"],
      ["/twice-error", "first"],
    ] as const) {
      const client = run.client(name);
      const [err] = await next<[Error]>(client, "connect_error");
      assert.equal(err.message, expected);
      assert.equal(counts[name], 0);
    }
    const twice = run.client("/twice");
    await next(twice, "connect");
    // a later connection to the same namespace proves every event of the first one was fired
    const later = run.client("/twice");
    await next(later, "connect");
    assert.equal(counts["/twice"], 2);
    assert.deepEqual(crashes.errors, []);
  } finally {
    crashes.stop();
    await run.close();
  }
});

test("io.close() finishes within closeTimeout when an adapter's backend hangs, and stops accepting first", async () => {
  class HangingAdapter extends Adapter {
    override close(): Promise<void> {
      return new Promise(() => {}); // a stalled backend: never settles
    }
  }
  const run = await start({ adapter: HangingAdapter, closeTimeout: 300 });
  const client = run.client("/", { transports: ["websocket"] });
  await next(client, "connect");
  const disconnected = next<[string]>(client, "disconnect");
  const started = Date.now();
  const closing = run.io.close();
  // the listening socket is closed synchronously: a new connection is refused
  const refused = await new Promise<string>((resolve) => {
    httpRequest(`${run.url}/socket.io/?EIO=4&transport=polling`, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    })
      .on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"))
      .end();
  });
  assert.equal(refused, "ECONNREFUSED");
  const timedOut = Symbol("timed out");
  const result = await Promise.race([closing, sleep(10000).then(() => timedOut)]);
  assert.notEqual(result, timedOut, "io.close() returned");
  assert.ok(Date.now() - started < 10000);
  await disconnected;
});

test("packetRateLimit: 'drop' ignores packets over the limit, 'disconnect' closes only the offender", async () => {
  for (const onLimit of ["drop", "disconnect"] as const) {
    const run = await start({ packetRateLimit: { rate: 20, burst: 10, onLimit } });
    try {
      let received = 0;
      let reason: string | undefined;
      run.io.on("connection", (socket: Socket) => {
        socket.on("spam", () => received++);
        socket.on("echo", (n: number, ack: (n: number) => void) => ack(n));
        socket.on("disconnect", (r) => (reason ??= r));
      });
      const good = run.client("/", { transports: ["websocket"] });
      await next(good, "connect");
      const peer = await openRaw(run.port);
      await peer.connectMain();
      for (let i = 0; i < 100; i++) peer.ws.send('42["spam"]');
      if (onLimit === "drop") {
        // the bucket refills: a later packet gets through, and the earlier ones were handled by then
        let marker = false;
        run.io.sockets.sockets.forEach((s) => s.on("marker", () => (marker = true)));
        await until(() => {
          if (peer.ws.readyState === peer.ws.OPEN) peer.ws.send('42["marker"]');
          return marker;
        });
        assert.ok(received <= 11, `at most the burst got through (${received})`);
        assert.equal(peer.ws.readyState, peer.ws.OPEN);
      } else {
        await peer.closed;
        assert.equal(reason, "rate limit exceeded");
        assert.ok(peer.received.includes("41"), "the client was told (DISCONNECT)");
      }
      assert.equal(await good.timeout(5000).emitWithAck("echo", 1), 1);
      assert.ok(good.connected);
    } finally {
      await run.close();
    }
  }
});
