/**
 * Connection state recovery on the in-memory adapter, with the official socket.io-client 4.8 doing its part
 * (it sends `{ pid, offset }` when the same Socket object connects again).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  RECOVERABLE_DISCONNECT_REASONS,
  SessionAwareAdapter,
  type Socket,
  type SessionStoreStats,
} from "../../src";
import { TRANSPORTS, next, start, until } from "../support/io";
import { drop, pidOf, reconnect, record, withoutOffsets } from "./support";

const adapterOf = (io: { sockets: { adapter: unknown } }) =>
  io.sockets.adapter as SessionAwareAdapter;

describe("connectionStateRecovery option", () => {
  test("{} gets the defaults, written back into the options object the server keeps", async () => {
    const opts = { connectionStateRecovery: {} };
    const srv = await start(opts);
    try {
      assert.deepEqual(opts.connectionStateRecovery, {
        maxDisconnectionDuration: 120000,
        skipMiddlewares: true,
      });
      assert.equal(srv.io._opts.connectionStateRecovery, opts.connectionStateRecovery);
      assert.ok(srv.io.sockets.adapter instanceof SessionAwareAdapter);
    } finally {
      await srv.close();
    }
  });

  test("given fields are kept", async () => {
    const srv = await start({ connectionStateRecovery: { skipMiddlewares: false } });
    try {
      assert.deepEqual(srv.io._opts.connectionStateRecovery, {
        maxDisconnectionDuration: 120000,
        skipMiddlewares: false,
      });
    } finally {
      await srv.close();
    }
  });

  test("off: no pid, no offsets, the plain adapter", async () => {
    const srv = await start();
    try {
      assert.ok(!(srv.io.sockets.adapter instanceof SessionAwareAdapter));
      srv.io.on("connection", (socket) => {
        assert.equal(socket.pid, undefined);
        socket.emit("direct", 1);
        srv.io.emit("all", 2);
      });
      const client = srv.client();
      const events = record(client);
      await next(client, "all");
      assert.equal(pidOf(client), undefined);
      assert.deepEqual(events, [
        ["direct", 1],
        ["all", 2],
      ]);
    } finally {
      await srv.close();
    }
  });

  test("the recoverable reasons are exactly socket.io's six", () => {
    assert.deepEqual(
      [...RECOVERABLE_DISCONNECT_REASONS].sort(),
      [
        "forced close",
        "forced server close",
        "ping timeout",
        "server shutting down",
        "transport close",
        "transport error",
      ].sort(),
    );
  });
});

describe("offsets", () => {
  test("pid in CONNECT; events without ack carry an offset last; acks and volatile do not", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      let serverPid: string | undefined;
      const outgoing: unknown[][] = [];
      srv.io.on("connection", (socket) => {
        serverPid = socket.pid;
        socket.onAnyOutgoing((...args: unknown[]) => outgoing.push(args));
        socket.emit("direct", "a");
        socket.to("nobody").emit("not-for-me");
        srv.io.emit("all", { b: 1 });
        srv.io.volatile.emit("vol", 1);
        socket.emit("ask", 2, () => {});
        srv.io.emit("binary", Buffer.from([1, 2, 3]));
      });
      const client = srv.client();
      const events = record(client);
      client.on("ask", (_n: number, ack: () => void) => ack());
      await next(client, "binary");
      assert.equal(typeof pidOf(client), "string");
      assert.equal(pidOf(client), serverPid);
      const byName = new Map(events.map((e) => [e[0], e]));
      assert.equal(byName.get("direct")!.length, 3);
      assert.equal(typeof byName.get("direct")![2], "string");
      assert.equal(typeof byName.get("all")![2], "string");
      assert.equal(typeof byName.get("binary")![2], "string");
      // a volatile packet may be dropped on the way: what the server sent tells
      assert.deepEqual(
        outgoing.find((e) => e[0] === "vol"),
        ["vol", 1],
      );
      assert.equal(byName.get("ask")!.length, 3); // event, 2, the ack callback
      assert.equal(typeof byName.get("ask")![2], "function");
      // every offset is distinct
      const offsets = ["direct", "all", "binary"].map((e) => byName.get(e)!.at(-1));
      assert.equal(new Set(offsets).size, 3);
    } finally {
      await srv.close();
    }
  });
});

for (const transports of TRANSPORTS) {
  describe(`recovery over ${transports[0]}`, () => {
    test("same id, rooms and data, recovered, missed events in order before new ones, middlewares skipped", async () => {
      const srv = await start({ connectionStateRecovery: {}, transports: [...transports] });
      try {
        let middlewareCalls = 0;
        srv.io.use((_socket, nextFn) => {
          middlewareCalls++;
          nextFn();
        });
        const sockets: Socket[] = [];
        srv.io.on("connection", (socket) => {
          sockets.push(socket);
          if (!socket.recovered) {
            void socket.join(["room-a", "room-b"]);
            socket.data = { user: "ada", n: 1 };
          }
          socket.emit(socket.recovered ? "after" : "welcome", sockets.length);
        });
        const client = srv.client("/", { transports: [...transports] });
        const events = record(client);
        await next(client, "welcome");
        const first = sockets[0]!;
        const disconnected = next<[string]>(first, "disconnect");
        await drop(client, srv.io.sockets);
        assert.equal((await disconnected)[0], "transport close");

        srv.io.emit("m1", 1);
        srv.io.to("room-a").emit("m2", 2);
        srv.io.to("room-z").emit("not-in-room");
        srv.io.except("room-b").emit("excepted");
        srv.io.volatile.emit("volatile-missed");
        srv.io.timeout(50).emit("acked-missed", () => {});
        first.emit("m3", Buffer.from([7]));
        srv.io.to(first.id).emit("m4", { deep: [1] });

        const after = next(client, "after");
        await reconnect(client);
        await after;
        const second = sockets[1]!;
        assert.equal(client.recovered, true);
        assert.equal(second.recovered, true);
        assert.equal(second.id, first.id);
        assert.equal(client.id, first.id);
        assert.equal(second.pid, first.pid);
        assert.deepEqual([...second.rooms].sort(), [first.id, "room-a", "room-b"].sort());
        assert.deepEqual(second.data, { user: "ada", n: 1 });
        assert.equal(middlewareCalls, 1);
        const names = events.map((e) => e[0]);
        assert.deepEqual(names, ["welcome", "m1", "m2", "m3", "m4", "after"]);
        const m3 = events[3]!;
        assert.ok(Buffer.isBuffer(m3[1]) || m3[1] instanceof ArrayBuffer);
        assert.deepEqual(withoutOffsets(events.slice(1, 3)), [
          ["m1", 1],
          ["m2", 2],
        ]);
        assert.deepEqual(events[4]!.slice(0, 2), ["m4", { deep: [1] }]);
      } finally {
        await srv.close();
      }
    });
  });
}

describe("recovery rules", () => {
  test("skipMiddlewares: false runs the middlewares, which see socket.recovered", async () => {
    const srv = await start({ connectionStateRecovery: { skipMiddlewares: false } });
    try {
      const seen: boolean[] = [];
      srv.io.use((socket, nextFn) => {
        seen.push(socket.recovered);
        nextFn();
      });
      srv.io.on("connection", (socket) => socket.emit("hi"));
      const client = srv.client();
      await next(client, "hi");
      await drop(client, srv.io.sockets);
      await reconnect(client);
      assert.equal(client.recovered, true);
      assert.deepEqual(seen, [false, true]);
    } finally {
      await srv.close();
    }
  });

  test("a middleware refusing a recovered socket refuses it", async () => {
    const srv = await start({ connectionStateRecovery: { skipMiddlewares: false } });
    try {
      srv.io.use((socket, nextFn) => nextFn(socket.recovered ? new Error("no") : undefined));
      srv.io.on("connection", (socket) => socket.emit("hi"));
      const client = srv.client();
      await next(client, "hi");
      await drop(client, srv.io.sockets);
      const refused = next<[Error]>(client, "connect_error");
      client.connect();
      assert.equal((await refused)[0].message, "no");
    } finally {
      await srv.close();
    }
  });

  test("leaving on purpose keeps no session: client namespace disconnect, server namespace disconnect", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      const sockets: Socket[] = [];
      srv.io.on("connection", (socket) => {
        sockets.push(socket);
        socket.emit("hi");
      });
      const client = srv.client();
      await next(client, "hi");
      client.disconnect(); // client namespace disconnect
      const hi = next(client, "hi");
      await reconnect(client);
      await hi;
      assert.equal(client.recovered, false);
      assert.notEqual(sockets[1]!.id, sockets[0]!.id);

      const gone = next(client, "disconnect");
      sockets[1]!.disconnect(); // server namespace disconnect
      await gone;
      await reconnect(client);
      assert.equal(client.recovered, false);
      assert.equal(sockets[2]!.recovered, false);
      assert.notEqual(sockets[2]!.id, sockets[1]!.id);
    } finally {
      await srv.close();
    }
  });

  test("forced close and forced server close keep the session", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      const sockets: Socket[] = [];
      const reasons: string[] = [];
      srv.io.on("connection", (socket) => {
        sockets.push(socket);
        socket.on("disconnect", (reason) => reasons.push(reason));
        socket.emit("hi");
      });
      const client = srv.client();
      await next(client, "hi");
      // forced close: the server closes the engine connection
      let lost = next(client, "disconnect");
      sockets[0]!.conn.close();
      await lost;
      const hi = next(client, "hi");
      await reconnect(client);
      await hi;
      assert.equal(client.recovered, true);
      // forced server close: the client breaks the protocol (a CONNECT_ERROR from a client)
      lost = next(client, "disconnect");
      client.io.engine.write('4"x"');
      await lost;
      await reconnect(client);
      assert.equal(client.recovered, true);
      assert.deepEqual(reasons, ["forced close", "forced server close"]);
      assert.equal(new Set(sockets.map((s) => s.id)).size, 1);
    } finally {
      await srv.close();
    }
  });

  test("an unknown session or garbage offset gives a fresh socket", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      const sockets: Socket[] = [];
      srv.io.on("connection", (socket) => sockets.push(socket));
      const a = srv.client("/", { auth: { pid: "nope", offset: "nope" } });
      await next(a, "connect");
      assert.equal(a.recovered, false);
      const b = srv.client("/", { auth: { pid: 42, offset: { x: 1 } } });
      await next(b, "connect");
      assert.equal(b.recovered, false);
      assert.deepEqual(
        sockets.map((s) => s.recovered),
        [false, false],
      );
    } finally {
      await srv.close();
    }
  });

  test("a session is recovered once", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      srv.io.on("connection", (socket) => socket.emit("hi"));
      const client = srv.client();
      await next(client, "hi");
      const pid = pidOf(client)!;
      const offset = (client as unknown as { _lastOffset: string })._lastOffset;
      await drop(client, srv.io.sockets);
      await reconnect(client);
      assert.equal(client.recovered, true);
      const copy = srv.client("/", { auth: { pid, offset } });
      await next(copy, "connect");
      assert.equal(copy.recovered, false);
      assert.notEqual(copy.id, client.id);
    } finally {
      await srv.close();
    }
  });

  test("no offset yet, or a last event that was not stored and ends with a string: a fresh socket", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      // nothing received since connecting: the client has no offset to send
      const quiet = srv.client();
      await next(quiet, "connect");
      await drop(quiet, srv.io.sockets);
      await reconnect(quiet);
      assert.equal(quiet.recovered, false);
      // the official client takes the last string argument of any event for its offset: after a volatile
      // event ending with a string (never stored, so without an offset) it sends that string back. On
      // WebSocket only, since over polling a volatile packet is dropped while no GET is pending.
      const client = srv.client("/", { transports: ["websocket"] });
      await next(client, "connect");
      const socket = srv.io.sockets.sockets.get(client.id!)!;
      socket.emit("stored", 1);
      await next(client, "stored");
      socket.volatile.emit("fleeting", "not an offset");
      await next(client, "fleeting");
      assert.equal((client as unknown as { _lastOffset: string })._lastOffset, "not an offset");
      await drop(client, srv.io.sockets);
      await reconnect(client);
      assert.equal(client.recovered, false);
    } finally {
      await srv.close();
    }
  });

  test("an expired session gives a fresh socket", async () => {
    const srv = await start({ connectionStateRecovery: { maxDisconnectionDuration: 300 } });
    try {
      const adapter = adapterOf(srv.io);
      srv.io.on("connection", (socket) => socket.emit("hi"));
      const client = srv.client();
      await next(client, "hi");
      await drop(client, srv.io.sockets);
      assert.equal(adapter.store.stats.sessions, 1);
      // the sweep drops it once it is older than maxDisconnectionDuration
      while (adapter.store.stats.sessions > 0) await nextSweep(adapter);
      await reconnect(client);
      assert.equal(client.recovered, false);
    } finally {
      await srv.close();
    }
  });

  test("an offset too old (its packet expired) gives a fresh socket", async () => {
    const srv = await start({ connectionStateRecovery: { maxDisconnectionDuration: 1500 } });
    try {
      const adapter = adapterOf(srv.io);
      srv.io.on("connection", (socket) => socket.emit("hi"));
      const client = srv.client();
      await next(client, "hi");
      // connected until the packet carrying the client's last offset has expired
      while (adapter.store.stats.packets > 0) await nextSweep(adapter);
      await drop(client, srv.io.sockets);
      assert.equal(adapter.store.stats.sessions, 1);
      await reconnect(client);
      assert.equal(client.recovered, false);
    } finally {
      await srv.close();
    }
  });

  test("every namespace recovers, dynamic ones included", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    try {
      srv.io.of(/^\/dyn-\d+$/).on("connection", (socket) => {
        if (!socket.recovered) socket.emit("hi");
      });
      const client = srv.client("/dyn-1");
      await next(client, "hi");
      const id = client.id;
      await drop(client, srv.io.of("/dyn-1"));
      srv.io.of("/dyn-1").emit("missed", 1);
      const missed = next(client, "missed");
      await reconnect(client);
      await missed;
      assert.equal(client.recovered, true);
      assert.equal(client.id, id);
    } finally {
      await srv.close();
    }
  });
});

describe("memory", () => {
  test("10k stored packets expire and the store shrinks back", async () => {
    const srv = await start({ connectionStateRecovery: { maxDisconnectionDuration: 400 } });
    try {
      const adapter = adapterOf(srv.io);
      const gc = exposeGc();
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 10_000; i++) srv.io.emit("tick", i, "some payload of a few dozen bytes");
      assert.equal(adapter.store.stats.packets, 10_000);
      gc();
      const holding = process.memoryUsage().heapUsed;
      let stats: SessionStoreStats = adapter.store.stats;
      while (stats.packets > 0) [stats] = await nextSweep(adapter);
      gc();
      const after = process.memoryUsage().heapUsed;
      const held = holding - before;
      console.log(
        `# 10k packets: +${Math.round(held / 1024)} KiB held, ${Math.round((after - before) / 1024)} KiB after expiry`,
      );
      assert.ok(held > 500 * 1024, `10k packets should take memory (${held} bytes)`);
      assert.ok(
        after - before < held / 4,
        `the store should shrink back (${after - before} bytes left)`,
      );
      await until(() => adapter.store.stats.packets === 0);
    } finally {
      await srv.close();
    }
  });

  test("the sweep timer stops with the adapter", async () => {
    const srv = await start({ connectionStateRecovery: {} });
    srv.io.emit("x");
    const adapter = adapterOf(srv.io);
    assert.equal(adapter.store.stats.packets, 1);
    assert.equal(adapter.store.sweepScheduled, true);
    await srv.close();
    assert.equal(adapter.store.stats.packets, 0);
    assert.equal(adapter.store.sweepScheduled, false);
  });
});

/** The stats after the adapter's next sweep. */
function nextSweep(adapter: SessionAwareAdapter): Promise<[SessionStoreStats]> {
  return next<[SessionStoreStats]>(
    {
      once: (event, listener) => adapter.once(event, listener as (...args: unknown[]) => void),
    },
    "sweep",
  );
}

function exposeGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}
