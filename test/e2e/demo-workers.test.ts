// `WORKERS=2 npm start`: the demo on two node:cluster workers sharing one port, no sticky sessions.
// socket.io-client clients forced to polling open a new connection for every request, and node:cluster
// hands each new connection to the next worker: a session's requests reach both workers, the one that
// owns it and the other, which forwards them over the cluster's IPC. Chat messages with their
// acknowledgements and the admin panel's fetchSockets cross the workers (the cluster adapter).
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { OneConnectionPerRequest } from "../support/http";
import { next, until } from "../support/io";
import { startDemoWorkers, type DemoWorkers } from "./support";

interface Welcome {
  id: string;
  stats: { node: string; adapter: string };
}

describe("WORKERS=2 npm start", () => {
  let demo: DemoWorkers;
  const clients: ClientSocket[] = [];
  const agents: OneConnectionPerRequest[] = [];

  before(async () => {
    // the workers' debug lines name each request they forward: "forwarding GET <id> (sid <sid>) to <owner>"
    demo = await startDemoWorkers(2, { DEBUG: "switchyard:forwarding", DEBUG_COLORS: "0" });
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    await until(() => agents.every((a) => a.open.size === 0)).catch(() => undefined);
    // the primary stops its workers and then ends by itself (nothing of theirs keeps it alive)
    const code = await demo?.stop();
    assert.equal(code, 0, demo?.output());
  });

  async function connect(username: string): Promise<{ socket: ClientSocket; welcome: Welcome }> {
    const agent = new OneConnectionPerRequest();
    agents.push(agent);
    const socket = ioc(demo.url, {
      forceNew: true,
      reconnection: false,
      transports: ["polling"],
      auth: { username },
      agent: agent as unknown as string,
    });
    clients.push(socket);
    const [welcome] = await next<[Welcome]>(socket, "welcome", 30_000);
    return { socket, welcome };
  }

  test("polling sessions owned by both workers: every request answered wherever it lands", async () => {
    // handshakes go round-robin too: open sessions until both workers own some
    const sessions: { socket: ClientSocket; welcome: Welcome }[] = [];
    while (new Set(sessions.map((s) => s.welcome.stats.node)).size < 2) {
      assert.ok(sessions.length < 10, "ten handshakes all on one worker");
      sessions.push(await connect(`user${sessions.length}`));
    }
    sessions.push(await connect(`user${sessions.length}`));
    for (const { welcome } of sessions) assert.equal(welcome.stats.adapter, "cluster");

    // every session joins and leaves rooms: each request on a new connection, so on either worker
    for (const { socket } of sessions) {
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(
          await socket.timeout(10_000).emitWithAck("join", `r${i}`),
          ["r0"].concat([...Array(i).keys()].map((k) => `r${k + 1}`)),
        );
      }
      for (let i = 4; i > 0; i--) await socket.timeout(10_000).emitWithAck("leave", `r${i}`);
    }
    for (const agent of agents) assert.ok(agent.opened >= 10, `${agent.opened} connections`);
    // and some of each session's requests did land on the worker that does not own it
    for (const { socket } of sessions) {
      const sid = socket.io.engine.id;
      const forwarded = demo.output().split(`(sid ${sid})`).length - 1;
      assert.ok(forwarded > 0, `no request of session ${sid} was forwarded`);
    }

    // a chat message reaches the room's members on both workers, and its ack counts their acks
    const [writer, ...readers] = sessions;
    const received = readers.map(({ socket }) => {
      socket.on("message", (_message: unknown, ack: () => void) => ack());
      return next<[{ text: string; from: string }]>(socket, "message", 30_000);
    });
    const status = (await writer!.socket
      .timeout(30_000)
      .emitWithAck("message", { room: "r0", text: "across the workers" })) as {
      delivered: number;
      late: boolean;
    };
    for (const [message] of await Promise.all(received)) {
      assert.equal(message.text, "across the workers");
      assert.equal(message.from, "user0");
    }
    assert.deepEqual(
      { delivered: status.delivered, late: status.late },
      { delivered: readers.length, late: false },
    );

    // the admin panel's fetchSockets lists the sockets of both workers
    const fetched = (await writer!.socket
      .timeout(30_000)
      .emitWithAck("admin", { action: "fetchSockets" })) as {
      ok: boolean;
      result: { sockets: { id: string; data: { node: string } }[] };
    };
    assert.equal(fetched.ok, true);
    const byId = new Map(fetched.result.sockets.map((s) => [s.id, s.data.node]));
    for (const { welcome } of sessions) assert.equal(byId.get(welcome.id), welcome.stats.node);
  });
});
