// The polling → WebSocket upgrade state machine, driven step by step with raw requests, and its races:
// probe/noop/upgrade, upgrade timeout, a second attempt, close during an upgrade, allowUpgrades: false,
// and the TCP reset right after an upgrade request (CVE-2022-41940 follow-up) that must not crash the process.
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { ConnectionError, Socket } from "../../src/engine";
import { connect, delay, type Harness, once, request, startEngine } from "./support";

const P = "/engine.io/";

async function handshake(h: Harness): Promise<{ sid: string; socket: Socket }> {
  const res = await request(h.port, `${P}?EIO=4&transport=polling`);
  const sid = (JSON.parse(res.body.toString().slice(1)) as { sid: string }).sid;
  return { sid, socket: h.engine.clients[sid] as Socket };
}

function openWs(h: Harness, sid: string): Promise<{ ws: WebSocket; frames: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket&sid=${sid}`);
  const frames: string[] = [];
  ws.on("message", (d) => frames.push(String(d)));
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, frames }));
    ws.once("error", reject);
  });
}

async function until(predicate: () => boolean, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not reached in time");
    await delay(10);
  }
}

describe("upgrade", () => {
  let h: Harness;
  before(async () => {
    h = await startEngine({ upgradeTimeout: 400, pingInterval: 60000 });
  });
  after(() => h.close());

  test("probe, noop for the pending poll, upgrade packet, then polling is refused", async () => {
    const { sid, socket } = await handshake(h);
    const pendingPoll = request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    await until(() => socket.transport.writable);
    const { ws, frames } = await openWs(h, sid);
    assert.equal(socket.upgrading, true);
    const upgrading = once(socket, "upgrading");
    ws.send("2probe");
    await upgrading;
    await until(() => frames.includes("3probe"));
    assert.equal((await pendingPoll).body.toString(), "6");
    const upgraded = once<[{ name: string }]>(socket, "upgrade");
    ws.send("5");
    assert.equal((await upgraded)[0].name, "websocket");
    assert.equal(socket.transport.name, "websocket");
    assert.equal(socket.upgraded, true);
    assert.equal(socket.upgrading, false);
    socket.send("over ws");
    await until(() => frames.includes("4over ws"));
    const mismatch = once<[ConnectionError]>(h.engine, "connection_error");
    const refused = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(refused.status, 400);
    assert.equal((await mismatch)[0].context.name, "TRANSPORT_MISMATCH");
    // a further upgrade attempt, for a session already on WebSocket, is refused before the upgrade
    await assert.rejects(openWs(h, sid), /Unexpected server response: 400/);
    assert.equal(socket.readyState, "open");
    socket.close();
    await once(ws, "close");
  });

  test("packets buffered during the probe are flushed on the websocket after the upgrade", async () => {
    const { sid, socket } = await handshake(h);
    const { ws, frames } = await openWs(h, sid);
    ws.send("2probe");
    await until(() => frames.includes("3probe"));
    socket.send("queued 1");
    socket.send("queued 2");
    ws.send("5");
    await until(() => frames.includes("4queued 2"));
    assert.deepEqual(frames.slice(-2), ["4queued 1", "4queued 2"]);
    socket.close();
  });

  test("an upgrade that never probes times out; the session stays on polling", async () => {
    const { sid, socket } = await handshake(h);
    const { ws } = await openWs(h, sid);
    assert.equal(socket.upgrading, true);
    await once(ws, "close");
    assert.equal(socket.upgrading, false);
    assert.equal(socket.transport.name, "polling");
    assert.equal(socket.readyState, "open");
    socket.send("still polling");
    const poll = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(poll.body.toString(), "4still polling");
    socket.close(true);
  });

  test("a second upgrade attempt while one is in progress is closed", async () => {
    const { sid, socket } = await handshake(h);
    const first = await openWs(h, sid);
    const second = await openWs(h, sid);
    await once(second.ws, "close");
    first.ws.send("2probe");
    await until(() => first.frames.includes("3probe"));
    first.ws.send("5");
    await once(socket, "upgrade");
    socket.close();
    await once(first.ws, "close");
  });

  test("an unexpected packet during the probe aborts the upgrade only", async () => {
    const { sid, socket } = await handshake(h);
    const { ws } = await openWs(h, sid);
    ws.send("4hello");
    await once(ws, "close");
    assert.equal(socket.readyState, "open");
    assert.equal(socket.transport.name, "polling");
    socket.close(true);
  });

  test("close() during the upgrade completes as 'forced close' on the new transport", async () => {
    const { sid, socket } = await handshake(h);
    const { ws, frames } = await openWs(h, sid);
    ws.send("2probe");
    await until(() => frames.includes("3probe"));
    const closed = once<[string]>(socket, "close");
    socket.close();
    assert.equal(socket.readyState, "closing");
    ws.send("5");
    assert.equal((await closed)[0], "forced close");
    await once(ws, "close");
  });

  test("the session closing aborts the upgrade and closes its websocket", async () => {
    const { sid, socket } = await handshake(h);
    const { ws } = await openWs(h, sid);
    socket.close(true);
    await once(ws, "close");
    assert.equal(socket.readyState, "closed");
  });

  test("allowUpgrades: false advertises no upgrade and closes upgrade attempts", async (t) => {
    const h2 = await startEngine({ allowUpgrades: false });
    t.after(() => h2.close());
    const res = await request(h2.port, `${P}?EIO=4&transport=polling`);
    const open = JSON.parse(res.body.toString().slice(1)) as { sid: string; upgrades: string[] };
    assert.deepEqual(open.upgrades, []);
    const { ws } = await openWs(h2, open.sid);
    await once(ws, "close");
    assert.equal(h2.engine.clients[open.sid]?.transport.name, "polling");
  });

  test("a TCP reset right after an upgrade request does not crash the process", async (t) => {
    const crashes: Error[] = [];
    const onCrash = (err: Error): number => crashes.push(err);
    process.on("uncaughtException", onCrash);
    t.after(() => process.off("uncaughtException", onCrash));
    // slow middleware and allowRequest: the reset lands while the engine holds the socket
    let middlewares = 0;
    let allowStarted = 0;
    let allowDone = 0;
    const h2 = await startEngine({
      allowRequest: (_req, fn) => {
        allowStarted++;
        setTimeout(() => {
          fn(null, true);
          allowDone++;
        }, 100);
      },
    });
    t.after(() => h2.close());
    h2.engine.use((_req, _res, next) => {
      setTimeout(() => {
        next();
        middlewares++;
      }, 50);
    });
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(h2.port, "127.0.0.1", () => {
          socket.write(
            `GET ${P}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n` +
              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            () => {
              setTimeout(() => {
                socket.resetAndDestroy();
                resolve();
              }, i * 5);
            },
          );
        });
        socket.on("error", () => undefined);
      });
    }
    // every held request has been through the middleware and allowRequest, whatever the load
    await until(() => middlewares === 5 && allowDone === allowStarted);
    assert.deepEqual(crashes, []);
    assert.equal(h2.engine.clientsCount, 0);
    // the server still works
    const client = await connect(h2.url, { transports: ["websocket"] });
    assert.equal(h2.engine.clientsCount, 1);
    client.close();
  });
});
