/**
 * Engine.IO 3 on the wire, by hand (what Node v2 clients never send: binary polling payloads, JSONP), and the v3
 * heartbeat. Expected bytes are those captured from socket.io 4.8.4 with `allowEIO3` (see the research notes).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";
import type { Socket } from "../../src";
import { request } from "../support/http";
import { next, start, until } from "../support/io";

const PATH = "/socket.io/?EIO=3&transport=polling";

async function openPolling(port: number, extra = ""): Promise<string> {
  const res = await request(port, PATH + extra);
  assert.equal(res.status, 200);
  const body = res.body.toString();
  const match = /"sid":"([^"]+)"/.exec(body);
  assert.ok(match, body);
  return match[1] as string;
}

test("v3 polling: the binary payload format both ways, text frames counting UTF-16 units", async () => {
  const run = await start({ allowEIO3: true });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const handshake = await request(run.port, PATH);
    const open = handshake.body.toString();
    assert.match(open, /^\d+:0\{"sid":"[^"]+","upgrades":\["websocket"\],"pingInterval":25000/);
    assert.equal(Number(open.slice(0, open.indexOf(":"))), open.length - open.indexOf(":") - 1);
    const sid = (/"sid":"([^"]+)"/.exec(open) as RegExpExecArray)[1] as string;
    const [socket] = await connected;
    const poll = `${PATH}&sid=${sid}`;
    assert.equal((await request(run.port, poll)).body.toString(), "2:40");

    // a binary event with an ack id, as a browser v2 client POSTs it
    const received = next<[Buffer, (...args: unknown[]) => void]>(socket, "bin");
    const text = Buffer.from('451-0["bin",{"_placeholder":true,"num":0}]');
    const body = Buffer.concat([
      Buffer.from([0, 4, 2, 0xff]),
      text,
      Buffer.from([1, 3, 0xff, 4, 0xca, 0xfe]),
    ]);
    const posted = await request(run.port, poll, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body,
    });
    assert.equal(posted.status, 200);
    assert.equal(posted.body.toString(), "ok");
    const [data, ack] = await received;
    assert.deepEqual([...data], [0xca, 0xfe]);

    // the server's packets of one flush: binary payload when one of them is binary
    socket.emit("m", "é€😀");
    socket.emit("b", Buffer.from([1, 2]), "é");
    socket.emit("big", "x".repeat(12));
    ack(Buffer.from([0xff, 0]));
    const flushed = await request(run.port, poll);
    assert.equal(flushed.headers["content-type"], "application/octet-stream");
    const expected = Buffer.concat([
      Buffer.from([0, 1, 9, 0xff]),
      Buffer.from('42["m","é€😀"]'),
      Buffer.from([0, 4, 4, 0xff]),
      Buffer.from('451-["b",{"_placeholder":true,"num":0},"é"]'),
      Buffer.from([1, 3, 0xff, 4, 1, 2]),
      Buffer.from([0, 2, 4, 0xff]),
      Buffer.from(`42["big","${"x".repeat(12)}"]`),
      Buffer.from([0, 3, 6, 0xff]),
      Buffer.from('461-0[{"_placeholder":true,"num":0}]'),
      Buffer.from([1, 3, 0xff, 4, 0xff, 0]),
    ]);
    assert.deepEqual(flushed.body.toString("hex"), expected.toString("hex"));
  } finally {
    await run.close();
  }
});

test("v3 polling with b64: text frames, b4 base64, several packets in one POST, in order", async () => {
  const run = await start({ allowEIO3: true });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const sid = await openPolling(run.port, "&b64=1");
    const [socket] = await connected;
    const poll = `${PATH}&b64=1&sid=${sid}`;
    assert.equal((await request(run.port, poll)).body.toString(), "2:40");
    const seen: unknown[] = [];
    socket.onAny((...args) => seen.push(args));
    await request(run.port, poll, {
      method: "POST",
      body: ['42["a",{"u":"é€😀"}]', '451-["b",{"_placeholder":true,"num":0}]', "b4AQID"]
        .map((packet) => `${packet.length}:${packet}`)
        .join(""),
    });
    await until(() => seen.length === 2);
    assert.deepEqual(seen[0], ["a", { u: "é€😀" }]);
    assert.deepEqual(seen[1], ["b", Buffer.from([1, 2, 3])]);
    socket.emit("m", "é€😀");
    socket.emit("b", Buffer.from([1, 2]), "é");
    const flushed = await request(run.port, poll);
    assert.equal(flushed.headers["content-type"], "text/plain; charset=UTF-8");
    assert.equal(
      flushed.body.toString(),
      '14:42["m","é€😀"]43:451-["b",{"_placeholder":true,"num":0},"é"]6:b4AQI=',
    );
    // a bad frame closes the session as a parse error; the POST still gets "ok"
    const closed = next<[string]>(socket, "disconnect");
    const bad = await request(run.port, poll, { method: "POST", body: "9:42" });
    assert.equal(bad.body.toString(), "ok");
    assert.equal((await closed)[0], "parse error");
  } finally {
    await run.close();
  }
});

test("JSONP polling: the callback wrapper, escaped literal, form field d with escaped newlines", async () => {
  const run = await start({ allowEIO3: true });
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const handshake = await request(run.port, `${PATH}&j=abc12&b64=1`);
    const text = handshake.body.toString();
    assert.match(text, /^___eio\[12\]\("\d+:0\{\\"sid\\":\\"/);
    assert.ok(text.endsWith('");'));
    const sid = (/\\"sid\\":\\"([^\\]+)\\"/.exec(text) as RegExpExecArray)[1] as string;
    const [socket] = await connected;
    // later requests keep the handshake's callback index whatever they carry
    const poll = `${PATH}&j=0&b64=1&sid=${sid}`;
    assert.equal((await request(run.port, poll)).body.toString(), '___eio[12]("2:40");');
    const got = next<[string, (...args: unknown[]) => void]>(socket, "txt");
    // the client escapes backslash-n as \\n, then newlines as \n, and form-encodes the result
    const posted = await request(run.port, poll, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "d=29%3A421%5B%22txt%22%2C%22a%5C%5Cnb%20%5C%5C%5Cn%20c%E2%80%A8d'%5C%22e%22%5D",
    });
    assert.equal(posted.body.toString(), "ok");
    const [value, ack] = await got;
    assert.equal(value, "a\nb \\n c\u2028d'\"e");
    ack(value);
    assert.equal(
      (await request(run.port, poll)).body.toString(),
      '___eio[12]("23:431[\\"a\\\\nb \\\\\\\\n c\\u2028d\'\\\\\\"e\\"]");',
    );
  } finally {
    await run.close();
  }
});

test("v3 heartbeat: the client pings, a pong without data answers; silence past pingInterval + pingTimeout times out, upgraded or not", async () => {
  const run = await start({ allowEIO3: true, pingInterval: 300, pingTimeout: 200 });
  try {
    // polling: ping answered with a bare pong, then silence
    const connected = next<[Socket]>(run.io, "connection");
    const sid = await openPolling(run.port, "&b64=1");
    const [socket] = await connected;
    const poll = `${PATH}&b64=1&sid=${sid}`;
    await request(run.port, poll);
    const started = Date.now();
    await request(run.port, poll, { method: "POST", body: "6:2hello" });
    assert.equal((await request(run.port, poll)).body.toString(), "1:3");
    const [reason] = await next<[string]>(socket, "disconnect");
    assert.equal(reason, "ping timeout");
    assert.ok(Date.now() - started >= 450, `timed out after ${Date.now() - started} ms`);

    // WebSocket after the upgrade: still timed out (engine.io 6.6 loses this deadline on the upgrade)
    const upgraded = next<[Socket]>(run.io, "connection");
    const sid2 = await openPolling(run.port, "&b64=1");
    const [socket2] = await upgraded;
    const ws = new WebSocket(
      `ws://127.0.0.1:${run.port}/socket.io/?EIO=3&transport=websocket&sid=${sid2}`,
    );
    const frames: Array<string | Buffer> = [];
    ws.on("message", (data, isBinary) =>
      frames.push(isBinary ? (data as Buffer) : data.toString()),
    );
    await next(ws, "open");
    ws.send("2probe");
    await until(() => frames.includes("3probe"));
    ws.send("5");
    await until(() => socket2.conn.transport.name === "websocket");
    ws.send("2");
    await until(() => frames.includes("3"));
    // binary frames carry the type byte both ways
    const bin = next<[Buffer]>(socket2, "bin");
    ws.send('451-["bin",{"_placeholder":true,"num":0}]');
    ws.send(Buffer.from([4, 1, 2, 3]));
    assert.deepEqual([...(await bin)[0]], [1, 2, 3]);
    socket2.emit("out", Buffer.from([9]));
    await until(() => frames.some((frame) => Buffer.isBuffer(frame)));
    assert.deepEqual([...(frames.find((frame) => Buffer.isBuffer(frame)) as Buffer)], [4, 9]);
    const [reason2] = await next<[string]>(socket2, "disconnect");
    assert.equal(reason2, "ping timeout");
    ws.terminate();
  } finally {
    await run.close();
  }
});

test("v3: a pong from the client is a transport error; EIO=4 on a v3 session is a protocol mismatch; no allowEIO3, code 5", async () => {
  const run = await start({ allowEIO3: true });
  const strict = await start();
  try {
    const connected = next<[Socket]>(run.io, "connection");
    const sid = await openPolling(run.port, "&b64=1");
    const [socket] = await connected;
    const mismatch = await request(run.port, `/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.toString(), '{"code":3,"message":"Bad request"}');
    const closed = next<[string]>(socket, "disconnect");
    const pong = await request(run.port, `${PATH}&sid=${sid}`, { method: "POST", body: "1:3" });
    assert.equal(pong.body.toString(), "ok");
    assert.equal((await closed)[0], "transport error");

    for (const query of ["EIO=3", "EIO=2", ""]) {
      const refused = await request(strict.port, `/socket.io/?${query}&transport=polling`);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.toString(), '{"code":5,"message":"Unsupported protocol version"}');
    }
  } finally {
    await run.close();
    await strict.close();
  }
});
