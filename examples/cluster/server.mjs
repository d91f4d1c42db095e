// Every core of the machine behind one port, with one command: `node examples/cluster/server.mjs`
// (PORT, default 3000; WORKERS, default the number of cores).
//
// The primary forks one worker per core; the workers share the port (node:cluster hands each new connection
// to a worker) and form one Socket.IO cluster through switchyard/cluster-adapter: a broadcast from any worker
// reaches the clients of every worker. No sticky sessions: with `forwarding: clusterForwarding()` a polling
// request that reaches a worker other than its session's owner is relayed (through the primary) to the owner,
// and a WebSocket upgrade that reaches another worker is relayed to the owner the same way. See the README's "Every core of one machine".
import cluster from "node:cluster";
import { createServer } from "node:http";
import { availableParallelism } from "node:os";
import { Server, clusterForwarding } from "switchyard";
import { createAdapter, setupPrimary } from "switchyard/cluster-adapter";

const port = Number(process.env.PORT ?? 3000);
const workers = Number(process.env.WORKERS ?? availableParallelism());

if (cluster.isPrimary) {
  // relays the adapters' messages and the forwarded requests between workers (advanced serialization)
  setupPrimary();
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  // Ctrl-C or SIGTERM: the workers close their servers and exit, then the primary ends (it holds nothing)
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send("stop");
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  console.log(`primary ${process.pid}: ${workers} workers on http://localhost:${port}`);
} else {
  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: createAdapter(), forwarding: clusterForwarding() });
  const stop = () => io.close(() => process.exit(0));
  process.on("message", (message) => message === "stop" && stop());
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  io.on("connection", async (socket) => {
    socket.emit("welcome", {
      worker: process.pid,
      servers: await io.of("/").adapter.serverCount(),
    });
    socket.on("chat", (text) => io.emit("chat", { from: socket.id, worker: process.pid, text }));
  });
  httpServer.listen(port);
}
