/**
 * Hard to crash: random mutations of valid Engine.IO/Socket.IO traffic, over WebSocket and long-polling, from
 * raw peers. Whatever they send, the process stays up and a well-behaved client keeps its session.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import type { ServerOptions, Socket } from "../../src";
import { next, start, until } from "../support/io";
import type { Socket as NetSocket } from "node:net";
import WebSocket from "ws";
import { openRaw, type RawPeer } from "../support/raw";

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  "40",
  '42["event",1,{"a":[1,2]}]',
  '421["event","x"]',
  "431[null]",
  '451-["bin",{"_placeholder":true,"num":0}]',
  '40/admin,{"token":"x"}',
  "41",
  "2probe",
  "3",
  "5",
  "6",
  "1",
  '4{"sid":"x"}',
];
const ALPHABET = '0123456789[]{}",:-/_placeholdernum\u0000\u001e\uffff';

function mutate(random: () => number, input: string): string {
  let out = input;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const choice = random();
    const char = ALPHABET[Math.floor(random() * ALPHABET.length)]!;
    if (choice < 0.4) out = out.slice(0, at) + char + out.slice(at);
    else if (choice < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + char + out.slice(at + 1);
  }
  return out;
}

function post(url: string, body: string | Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: "POST" }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", () => resolve(0));
    req.end(body);
  });
}

function get(url: string): Promise<string> {
  return new Promise((resolve) => {
    request(url, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(text));
    })
      .on("error", () => resolve(""))
      .end();
  });
}

test("random mutations over WebSocket and polling never take the server down", async () => {
  await fuzz({ maxHttpBufferSize: 1e4 }, 20261127, 40);
});

test("with every limit on, limits hit by random input close only the offender", async () => {
  const reasons = await fuzz(
    {
      maxHttpBufferSize: 1e4,
      packetRateLimit: { rate: 200, burst: 3, onLimit: "disconnect" },
      maxNamespacesPerConnection: 2,
      maxPendingAcks: 2,
      sendBufferHighWaterMark: 1024,
      maxSendBufferBytes: 16 * 1024,
      maxConnectionsPerAddress: 50,
    },
    20261202,
    40,
    true,
  );
  // the limits were hit, by the random peers only (the witness stayed connected throughout)
  assert.ok(reasons.has("send buffer overflow"), [...reasons.keys()].join(", "));
  assert.ok(reasons.has("rate limit exceeded"), [...reasons.keys()].join(", "));
});

/**
 * `limits`: every random peer CONNECTs first. A third of them then stop reading and send three events, which the
 * server answers with 2 MiB each (the send buffer bound closes them); the others send up to 7 events at once (past
 * the rate limit's burst they are disconnected). Then come the random frames. Every round also broadcasts an ack
 * request that only the witness answers properly (maxPendingAcks) and opens up to 40 WebSockets at once
 * (maxConnectionsPerAddress). Returns the server-side disconnect reasons of the random peers, with their counts.
 */
async function fuzz(
  options: Partial<ServerOptions>,
  seed: number,
  rounds: number,
  limits = false,
): Promise<Map<string, number>> {
  const run = await start(options);
  const reasons = new Map<string, number>();
  let mostSessions = 0;
  run.io.engine.on("connection", () => {
    mostSessions = Math.max(mostSessions, run.io.engine.clientsCount);
  });
  const random = prng(seed);
  const errors: unknown[] = [];
  const onUncaught = (err: unknown) => errors.push(err);
  process.on("uncaughtException", onUncaught);
  try {
    // connects on a later turn, once the handlers below are there
    const witness = run.client("/", { transports: ["websocket"] });
    run.io.on("connection", (socket: Socket) => {
      socket.on("event", (...args: unknown[]) => {
        const ack = args[args.length - 1];
        if (typeof ack === "function") ack("ok");
        if (limits) socket.emit("reply", REPLY);
      });
      socket.on("error", () => {});
      socket.on("disconnect", (reason: string) => {
        if (socket.id !== witness.id) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      });
    });
    witness.on("ask", (answer: (v: string) => void) => answer("witness"));
    await next(witness, "connect");
    const witnessSocket = run.io.of("/").sockets.get(witness.id!)!;
    witnessSocket.on("echo", (n: number, ack: (n: number) => void) => ack(n));

    for (let round = 0; round < rounds; round++) {
      const peer = await openRaw(run.port);
      if (limits) {
        // connected first, so that the Socket.IO limits apply; a third of the peers then stop reading, and what
        // the server answers them piles up
        const sid = (JSON.parse((await peer.connectMain()).slice(2)) as { sid: string }).sid;
        if (random() < 0.34) {
          stall(peer);
          // three requests (the rate limit's burst) whose answers outgrow what the kernel takes for a reader that
          // stopped; they are answered on a later tick, so the garbage waits until the bound closed the peer
          for (let i = 0; i < 3; i++) peer.ws.send('42["event"]');
          await until(() => !run.io.of("/").sockets.has(sid));
        } else {
          // a random number of events at once: past the rate limit's burst the peer is disconnected
          const burst = Math.floor(random() * 8);
          for (let i = 0; i < burst; i++) peer.ws.send('42["ping-pong"]');
        }
      }
      for (let i = 0; i < 15 && peer.ws.readyState === peer.ws.OPEN; i++) {
        const base = SEEDS[Math.floor(random() * SEEDS.length)]!;
        const frame = "4" + mutate(random, base.startsWith("4") ? base.slice(1) : base);
        if (random() < 0.1) peer.ws.send(Buffer.from(frame));
        else peer.ws.send(random() < 0.2 ? mutate(random, base) : frame);
      }
      peer.ws.terminate();

      const open = await get(`${run.url}/socket.io/?EIO=4&transport=polling`);
      const sid = open.startsWith("0{") ? (JSON.parse(open.slice(1)) as { sid: string }).sid : "";
      const session = `${run.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      const body = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        mutate(random, SEEDS[Math.floor(random() * SEEDS.length)]!),
      ).join(random() < 0.8 ? "\x1e" : "");
      await post(session, body);
      await post(session, mutate(random, '40\x1e42["event"]'));

      if (limits) {
        // a broadcast awaiting everyone's answer: the witness's comes, whatever the random peers do
        const answers = await new Promise<unknown[]>((resolve) =>
          run.io.timeout(300).emit("ask", (_err: Error | null, got: unknown[]) => resolve(got)),
        );
        assert.ok(answers.includes("witness"), `round ${round}: ${JSON.stringify(answers)}`);
        // handshakes at once, on top of the sessions still open: the address cap holds; then they leave
        const before = run.io.engine.clientsCount;
        const opened = await Promise.all(
          Array.from({ length: 1 + Math.floor(random() * 40) }, () => tryOpen(run.port)),
        );
        assert.ok(run.io.engine.clientsCount <= 50, `${run.io.engine.clientsCount} sessions`);
        for (const ws of opened) ws?.terminate();
        await until(() => run.io.engine.clientsCount <= before);
      }
      assert.equal(await witness.timeout(2000).emitWithAck("echo", round), round);
    }
    assert.ok(witness.connected);
    assert.ok(
      mostSessions <= (options.maxConnectionsPerAddress ?? Infinity),
      `${mostSessions} sessions`,
    );
    assert.deepEqual(errors, []);
    return reasons;
  } finally {
    process.off("uncaughtException", onUncaught);
    await run.close();
  }
}

/** What the server answers a random peer's "event" with, in limits mode. */
const REPLY = "r".repeat(2 * 1024 * 1024);

/** Stops reading the peer's socket. */
function stall(peer: RawPeer): void {
  (peer.ws as unknown as { _socket: NetSocket })._socket.pause();
}

/** Opens a WebSocket session and keeps it; null if the handshake was refused. */
function tryOpen(port: number): Promise<WebSocket | null> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  return new Promise((resolve) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", () => resolve(null));
    ws.once("error", () => resolve(null));
  });
}
