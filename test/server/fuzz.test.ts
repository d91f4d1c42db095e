/**
 * Hard to crash: random mutations of valid Engine.IO/Socket.IO traffic, over WebSocket and long-polling, from
 * raw peers. Whatever they send, the process stays up and a well-behaved client keeps its session.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import type { ServerOptions, Socket } from "../../src";
import { next, start } from "../support/io";
import { openRaw } from "../support/raw";

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
  await fuzz(
    {
      maxHttpBufferSize: 1e4,
      packetRateLimit: { rate: 200, burst: 8, onLimit: "disconnect" },
      maxNamespacesPerConnection: 2,
      maxPendingAcks: 2,
      sendBufferHighWaterMark: 1024,
      maxSendBufferBytes: 16 * 1024,
      maxConnectionsPerAddress: 50,
    },
    20261202,
    25,
  );
});

async function fuzz(options: Partial<ServerOptions>, seed: number, rounds: number): Promise<void> {
  const run = await start(options);
  const random = prng(seed);
  const errors: unknown[] = [];
  const onUncaught = (err: unknown) => errors.push(err);
  process.on("uncaughtException", onUncaught);
  try {
    run.io.on("connection", (socket: Socket) => {
      socket.on("event", (...args: unknown[]) => {
        const ack = args[args.length - 1];
        if (typeof ack === "function") ack("ok");
      });
      socket.on("error", () => {});
    });
    const witness = run.client("/", { transports: ["websocket"] });
    await next(witness, "connect");
    const witnessSocket = run.io.of("/").sockets.get(witness.id!)!;
    witnessSocket.on("echo", (n: number, ack: (n: number) => void) => ack(n));

    for (let round = 0; round < rounds; round++) {
      const peer = await openRaw(run.port);
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

      assert.equal(await witness.timeout(2000).emitWithAck("echo", round), round);
    }
    assert.ok(witness.connected);
    assert.deepEqual(errors, []);
  } finally {
    process.off("uncaughtException", onUncaught);
    await run.close();
  }
}
