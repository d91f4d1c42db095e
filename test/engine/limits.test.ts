// maxHttpBufferSize: an oversized message closes only the session that sent it (WebSocket close 1009,
// polling 413), while another client keeps exchanging messages.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { Socket } from "../../src/engine";
import { connect, type Harness, once, request, startEngine } from "./support";

const P = "/engine.io/";
const LIMIT = 1000;

describe("maxHttpBufferSize", () => {
  let h: Harness;
  before(async () => {
    h = await startEngine({ maxHttpBufferSize: LIMIT });
    // echo server
    h.engine.on("connection", (socket: Socket) => {
      socket.on("message", (data: string | Buffer) => socket.send(data));
    });
  });
  after(() => h.close());

  async function echo(client: Awaited<ReturnType<typeof connect>>, text: string): Promise<void> {
    const reply = once<[string]>(client, "message");
    client.send(text);
    assert.equal((await reply)[0], text);
  }

  for (const transport of ["websocket", "polling"]) {
    test(`${transport}: oversized message closes that session only`, async () => {
      const conns: Socket[] = [];
      const onConn = (s: Socket): number => conns.push(s);
      h.engine.on("connection", onConn);
      const victim = await connect(h.url, { transports: [transport] });
      const bystander = await connect(h.url, { transports: [transport] });
      h.engine.off("connection", onConn);
      const victimSocket = conns.find((s) => s.id === victim.id) as Socket;
      const bystanderSocket = conns.find((s) => s.id === bystander.id) as Socket;
      assert.ok(victimSocket && bystanderSocket);

      await echo(victim, "x".repeat(LIMIT - 10));
      const serverClosed = once<[string]>(victimSocket, "close");
      const clientClosed = once<[string]>(victim, "close");
      victim.send("y".repeat(LIMIT * 3));
      assert.equal((await serverClosed)[0], "transport error");
      await clientClosed;
      assert.equal(h.engine.clients[victimSocket.id], undefined);

      assert.equal(bystanderSocket.readyState, "open");
      for (let i = 0; i < 3; i++) await echo(bystander, `still here ${i}`);
      bystander.close();
      await once(bystanderSocket, "close");
    });
  }

  test("websocket: the oversized frame gets close code 1009", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket`);
    await once(ws, "open");
    ws.send("4" + "z".repeat(LIMIT * 2));
    const [code] = await once<[number]>(ws, "close");
    assert.equal(code, 1009);
  });

  test("polling: the oversized POST gets 413 and the session ends", async () => {
    const open = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = (JSON.parse(open.body.toString().slice(1)) as { sid: string }).sid;
    const socket = h.engine.clients[sid] as Socket;
    const closed = once<[string]>(socket, "close");
    const res = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: "4" + "z".repeat(LIMIT * 5),
    });
    assert.equal(res.status, 413);
    assert.equal((await closed)[0], "transport error");
    // a payload at the limit is fine on a new session
    const open2 = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid2 = (JSON.parse(open2.body.toString().slice(1)) as { sid: string }).sid;
    const ok = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid2}`, {
      method: "POST",
      body: "4" + "z".repeat(LIMIT - 1),
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), "ok");
    h.engine.clients[sid2]?.close(true);
  });
});
