// The Switchyard demo: a small chat with rooms, acknowledgements and an admin panel that drives the
// server's utility methods (socketsJoin, socketsLeave, disconnectSockets, fetchSockets,
// serverSideEmit). `npm start` runs it on the in-memory adapter; with REDIS_URL set, several
// nodes on different ports form one cluster through the Redis adapter; with WORKERS=N, N workers of
// node:cluster share PORT, joined by the cluster adapter, with no sticky sessions (the engine's
// `forwarding` over the cluster's IPC serves a polling request on whichever worker it reaches).
//
//   npm run build && npm start                        # http://localhost:3000
//   WORKERS=4 npm start                               # every core, one port
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 npm start
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3002 npm start
import cluster from "node:cluster";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { Server, clusterForwarding } from "switchyard";
import { collectMetrics } from "switchyard/metrics";

const PUBLIC_DIR = new URL("./public/", import.meta.url);
const STATIC_FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "application/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};
const USERNAME_MAX = 24;
const ROOM_MAX = 32;
const MESSAGE_MAX = 500;
const DELIVERY_TIMEOUT_MS = 3000;

/** Serves the three files of public/ and nothing else (the server serves /socket.io/*). */
async function serveStatic(req, res) {
  const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
  const entry = STATIC_FILES[pathname];
  if (entry === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("Not found\n");
    return;
  }
  const [file, type] = entry;
  const body = await readFile(new URL(file, PUBLIC_DIR));
  res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-cache" });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** A short, printable string or undefined (the demo trusts nothing from the browser). */
function cleanText(value, max) {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  return text.length > 0 && text.length <= max ? text : undefined;
}

/** Connects two node-redis clients (publisher and subscriber) and builds the Redis adapter. */
async function redisAdapter(url, key) {
  const [{ createClient }, { createAdapter }] = await Promise.all([
    import("redis"),
    import("switchyard/redis-adapter"),
  ]);
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  return {
    adapter: createAdapter(pubClient, subClient, key ? { key } : {}),
    close: async () => {
      await Promise.allSettled([pubClient.quit(), subClient.quit()]);
    },
  };
}

/** The cluster adapter and the forwarding of polling requests over the IPC of a node:cluster worker. */
async function clusterAdapter() {
  const { createAdapter } = await import("switchyard/cluster-adapter");
  return { adapter: createAdapter(), forwarding: clusterForwarding() };
}

/**
 * Starts the demo. Options: `port` (0 for an ephemeral one), `host`, `redisUrl` (uses the Redis
 * adapter when set), `redisKey` (the channel prefix, "socket.io" by default), `nodeName` (shown in
 * the page and in cluster messages), `clusterWorker` (in a node:cluster worker: the cluster adapter
 * and forwarding over IPC).
 * Resolves to `{ url, io, close }`.
 */
export async function start({
  port = 3000,
  host,
  redisUrl,
  redisKey,
  nodeName,
  clusterWorker = false,
} = {}) {
  const httpServer = http.createServer((req, res) => {
    serveStatic(req, res).catch((err) => {
      res.writeHead(500).end(String(err));
    });
  });
  const redis = redisUrl ? await redisAdapter(redisUrl, redisKey) : undefined;
  const workers = clusterWorker ? await clusterAdapter() : undefined;
  const adapterName = redis ? "redis" : workers ? "cluster" : "in-memory";
  // Connection state recovery: a browser that loses its connection for up to two minutes comes back
  // with the same id, rooms and data, and gets the events it missed (not the chat messages, which are
  // sent with acknowledgements: those are never stored).
  const io = new Server(httpServer, {
    connectionStateRecovery: {},
    ...(redis ? { adapter: redis.adapter } : {}),
    ...(workers ?? {}),
  });
  // Prometheus metrics at /metrics, which the admin panel's live chart reads too.
  const metrics = collectMetrics(io).attach(httpServer);

  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const address = httpServer.address();
  const node = nodeName ?? `node-${address.port}`;
  const clusterLog = []; // the last few cluster events, replayed to each new browser

  function pushClusterEvent(text) {
    const event = { text, at: Date.now() };
    clusterLog.push(event);
    if (clusterLog.length > 10) clusterLog.shift();
    io.local.emit("cluster", event);
  }

  function stats() {
    return {
      node,
      clientsCount: io.engine.clientsCount,
      socketsCount: io.of("/").sockets.size,
      adapter: adapterName,
    };
  }

  // Engine counts drop after the socket's own disconnect handlers run, so send stats a tick later.
  function broadcastStats() {
    setImmediate(() => io.local.emit("stats", stats()));
  }

  // Tell a socket which rooms it is in whenever they change, whoever changed them (itself, the
  // admin panel, or another node through the adapter). Changes in one tick are sent once.
  const pendingRoomUpdates = new Set();
  function roomsChanged(room, id) {
    if (room === id || pendingRoomUpdates.has(id)) return;
    pendingRoomUpdates.add(id);
    setImmediate(() => {
      pendingRoomUpdates.delete(id);
      const socket = io.of("/").sockets.get(id);
      if (socket?.connected) socket.emit("rooms", roomsOf(socket));
    });
  }
  io.of("/").adapter.on("join-room", roomsChanged);
  io.of("/").adapter.on("leave-room", roomsChanged);

  // Other nodes (Redis, cluster workers) say hello when they start or when someone presses the button.
  io.on("hello", (from, ack) => {
    pushClusterEvent(`hello from ${from}`);
    if (typeof ack === "function") ack(node);
  });
  if (redis || workers) io.serverSideEmit("hello", node);

  // A username is required to connect; it lives in socket.data with the node that holds it.
  io.use((socket, next) => {
    const username = cleanText(socket.handshake.auth?.username, USERNAME_MAX);
    if (username === undefined) {
      next(new Error(`a username of 1 to ${USERNAME_MAX} characters is required`));
      return;
    }
    socket.data.username = username;
    socket.data.node = node;
    socket.data.joinedAt = Date.now();
    next();
  });

  io.on("connection", (socket) => {
    socket.data.transport = socket.conn.transport.name;
    socket.conn.once("upgrade", (transport) => {
      socket.data.transport = transport.name;
    });
    socket.emit("welcome", {
      id: socket.id,
      stats: stats(),
      cluster: socket.recovered ? [] : clusterLog,
      recovered: socket.recovered,
    });
    broadcastStats();

    socket.on("join", (value, ack) => {
      const room = cleanText(value, ROOM_MAX);
      if (room === undefined || typeof ack !== "function") return;
      socket.join(room);
      ack(roomsOf(socket));
    });

    socket.on("leave", (value, ack) => {
      const room = cleanText(value, ROOM_MAX);
      if (room === undefined || typeof ack !== "function") return;
      socket.leave(room);
      ack(roomsOf(socket));
    });

    // Relay a message to the room and acknowledge it once the room's other members have
    // acknowledged it (or after a timeout, with the count of those who did).
    socket.on("message", (payload, ack) => {
      if (typeof ack !== "function") return;
      const room = cleanText(payload?.room, ROOM_MAX);
      const text = cleanText(payload?.text, MESSAGE_MAX);
      if (room === undefined || text === undefined || !socket.rooms.has(room)) {
        ack({ error: "join the room before writing to it" });
        return;
      }
      const message = { from: socket.data.username, room, text, at: Date.now() };
      socket
        .to(room)
        .timeout(DELIVERY_TIMEOUT_MS)
        .emit("message", message, (err, responses) => {
          ack({ at: message.at, delivered: responses.length, late: err ? true : false });
        });
    });

    // The admin panel: each action applies to a target (a room or a socket id; everyone when
    // empty), minus an optional `except` room, across every node.
    socket.on("admin", async (request, ack) => {
      if (typeof ack !== "function") return;
      try {
        ack({ ok: true, result: await runAdmin(request) });
      } catch (err) {
        ack({ ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    });

    socket.on("disconnect", () => broadcastStats());
  });

  function scope({ target, except }) {
    let operator = io.of("/");
    const to = cleanText(target, 64);
    const skip = cleanText(except, 64);
    if (to !== undefined) operator = operator.in(to);
    if (skip !== undefined) operator = operator.except(skip);
    return operator;
  }

  async function runAdmin(request) {
    const room = cleanText(request?.room, ROOM_MAX);
    switch (request?.action) {
      case "socketsJoin":
      case "socketsLeave":
        if (room === undefined) throw new Error("a room name is required");
        scope(request)[request.action](room);
        return `${request.action}("${room}") sent`;
      case "disconnectSockets":
        scope(request).disconnectSockets(true);
        return "disconnectSockets(true) sent";
      case "fetchSockets": {
        const sockets = await scope(request).fetchSockets();
        return {
          stats: stats(),
          sockets: sockets.map((s) => ({
            id: s.id,
            data: s.data,
            rooms: [...s.rooms].filter((r) => r !== s.id),
          })),
        };
      }
      case "hello":
        return helloOtherNodes();
      default:
        throw new Error("unknown admin action");
    }
  }

  // serverSideEmit with an ack: every other node answers with its name (on a single node the ack
  // comes at once with no answers). The guard only protects the demo from an adapter that never
  // calls back.
  function helloOtherNodes() {
    const adapter = { redis: "Redis", cluster: "cluster", "in-memory": "in-memory" }[adapterName];
    return new Promise((resolve) => {
      const guard = setTimeout(() => resolve(`no answer within 10 s (${adapter} adapter)`), 10_000);
      io.serverSideEmit("hello", node, (err, answers) => {
        clearTimeout(guard);
        const who =
          answers.length > 0 ? `answered by ${answers.join(", ")}` : "no other node answered";
        resolve(`${who}${err ? ", others timed out" : ""} (${adapter} adapter)`);
      });
    });
  }

  const url = `http://${host && host !== "0.0.0.0" ? host : "localhost"}:${address.port}`;
  return {
    url,
    io,
    // Closes this node only: its sockets, the engine, the HTTP server (idle keep-alive connections
    // included) and the Redis clients.
    close: async () => {
      metrics.close();
      const closed = new Promise((resolve) => io.close(() => resolve()));
      httpServer.closeAllConnections();
      await closed;
      await redis?.close();
    },
  };
}

function roomsOf(socket) {
  return [...socket.rooms].filter((room) => room !== socket.id);
}

/**
 * The primary of `WORKERS=N npm start`: forks N workers that share `port` (node:cluster hands each
 * new connection to the next one), relays the cluster adapter's and the forwarding's messages between
 * them (setupPrimary), replaces a worker that dies, and on SIGINT/SIGTERM stops the workers and then
 * ends by itself.
 */
async function runPrimary(count, port) {
  const { setupPrimary } = await import("switchyard/cluster-adapter");
  setupPrimary();
  let stopping = false;
  // the URL is printed once every worker listens (before that, the first ones would get every connection)
  const listening = new Set();
  let announced = false;
  const fork = () => cluster.fork({ DEMO_PORT: String(port) });
  cluster.on("listening", (worker, address) => {
    listening.add(worker.id);
    if (announced || listening.size < count) return;
    announced = true;
    console.log(
      `Switchyard demo (${count} workers, cluster adapter, no sticky sessions) listening: open http://localhost:${address.port}`,
    );
  });
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${worker.id} exited (${signal ?? code}); starting another`);
    fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send("stop");
    // a worker that does not stop in time is killed; nothing else holds the primary
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
    }, 10_000).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (let i = 0; i < count; i++) fork();
}

/** One worker of `WORKERS=N npm start`: the demo on the shared port; "stop" from the primary ends it. */
async function runWorker(port) {
  const demo = await start({ port, clusterWorker: true, nodeName: `worker-${cluster.worker.id}` });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    demo.close().then(() => process.exit(0));
  };
  process.on("message", (message) => {
    if (message === "stop") stop();
  });
  // Ctrl-C reaches every process of the group: the worker stops on its own too
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (cluster.isWorker && process.env.DEMO_PORT !== undefined) {
  await runWorker(Number(process.env.DEMO_PORT));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 3000);
  const workers = Number(process.env.WORKERS ?? 0);
  if (workers > 0) {
    await runPrimary(workers, port);
  } else {
    const demo = await start({
      port,
      redisUrl: process.env.REDIS_URL || undefined,
      nodeName: process.env.NODE_NAME || undefined,
    });
    const adapter = process.env.REDIS_URL
      ? `Redis adapter at ${process.env.REDIS_URL}`
      : "in-memory adapter";
    console.log(`Switchyard demo (${adapter}) listening: open ${demo.url}`);
    const stop = () => {
      demo.close().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  }
}
