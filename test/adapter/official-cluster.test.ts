// The official @socket.io/cluster-adapter (socket.io-adapter 2.5's ClusterAdapterWithHeartbeat over node:cluster
// IPC) on two node:cluster workers running Switchyard (fixtures/cluster-worker.ts): a broadcast from one worker
// reaches the other's clients (where a worker used to crash), fetchSockets, broadcast acks and serverSideEmit
// with acks across workers, socketsJoin and disconnectSockets, checked from real socket.io-client clients.
import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { join } from "node:path";
import { test } from "node:test";
import { setupPrimary } from "@socket.io/cluster-adapter";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { next } from "../support/io";

interface Reply {
  seq?: number;
  port?: number;
  result?: unknown;
  error?: string;
}

class WorkerNode {
  private seq = 0;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  readonly port: Promise<number>;

  constructor(readonly worker: Worker) {
    this.port = new Promise((resolve, reject) => {
      worker.on("message", (reply: Reply) => {
        if (reply.port !== undefined) resolve(reply.port);
        if (reply.seq !== undefined) this.waiting.get(reply.seq)?.(reply);
      });
      worker.once("exit", (code) => reject(new Error(`worker exited (${code})`)));
    });
  }

  async run(cmd: string, room?: string): Promise<unknown> {
    const seq = ++this.seq;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cmd}: no answer`)), 15000);
      this.waiting.set(seq, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.worker.send({ cmd, seq, room });
    });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.result;
  }
}

test("@socket.io/cluster-adapter: two node:cluster workers running Switchyard", async () => {
  setupPrimary();
  cluster.setupPrimary({
    exec: join(__dirname, "fixtures", "cluster-worker.ts"),
    execArgv: ["--import", "tsx"],
  });
  const w1 = new WorkerNode(cluster.fork({ WORKER_NAME: "w1" }));
  const w2 = new WorkerNode(cluster.fork({ WORKER_NAME: "w2" }));
  const crashed: string[] = [];
  for (const w of [w1, w2]) w.worker.on("exit", (code) => crashed.push(`exit ${code}`));
  const clients: ClientSocket[] = [];
  try {
    const [p1, p2] = await Promise.all([w1.port, w2.port]);
    const connect = async (port: number, answer: string): Promise<ClientSocket> => {
      const c = ioc(`http://127.0.0.1:${port}`, {
        forceNew: true,
        reconnection: false,
        transports: ["websocket"],
      });
      clients.push(c);
      c.on("ask", (cb: (v: string) => void) => cb(answer));
      await next(c, "connect");
      return c;
    };
    const c1 = await connect(p1, "ack from c1");
    const c2 = await connect(p2, "ack from c2");

    // the workers find each other through heartbeats: until then a broadcast ack expects one node
    const deadline = Date.now() + 15000;
    while (((await w2.run("serverSideEmit")) as string[]).length === 0) {
      if (Date.now() > deadline) throw new Error("the workers did not find each other");
    }
    assert.deepEqual(await w2.run("serverSideEmit"), ["pong from w1"]);

    const hello = next<[string, unknown]>(c1, "hello");
    await w2.run("broadcast", "room-w1");
    const [from, bytes] = await hello;
    assert.equal(from, "from w2");
    // the cluster's IPC is JSON: a Buffer arrives as its JSON form, as it does on socket.io
    assert.deepEqual(bytes, { type: "Buffer", data: [1, 2] });

    assert.deepEqual(
      await w2.run("fetch"),
      [[c1.id, "room-w1"].sort(), [c2.id, "room-w2"].sort()].sort(),
    );
    assert.deepEqual(await w2.run("ack"), ["ack from c1", "ack from c2"]);

    await w2.run("join", "everyone");
    const both = [next<[string]>(c1, "hello"), next<[string]>(c2, "hello")];
    await w1.run("broadcast", "everyone");
    assert.deepEqual(
      (await Promise.all(both)).map((args) => args[0]),
      ["from w1", "from w1"],
    );

    const gone = [next<[string]>(c1, "disconnect"), next<[string]>(c2, "disconnect")];
    await w1.run("disconnect");
    assert.deepEqual(
      (await Promise.all(gone)).map((args) => args[0]),
      ["io server disconnect", "io server disconnect"],
    );
    assert.deepEqual(crashed, []);
  } finally {
    for (const c of clients) c.disconnect();
    for (const w of [w1, w2]) w.worker.kill();
  }
});
