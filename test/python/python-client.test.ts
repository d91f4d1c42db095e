/**
 * Debian's python3-socketio (a non-JavaScript client; Engine.IO 4, Socket.IO protocol 5) against a server that
 * also takes v2 clients (`allowEIO3`): connect, events with acks both ways, rooms, server-side disconnect.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import type { Socket } from "../../src";
import { start } from "../support/io";
import { v2Client } from "../support/legacy-clients";

for (const transports of ["polling", "websocket", "polling,websocket"]) {
  test(`python3-socketio over ${transports}, beside a v2 client`, async () => {
    const run = await start({ allowEIO3: true });
    const v2 = v2Client(run.url, { transports: ["websocket"] });
    try {
      const answers: unknown[] = [];
      run.io.on("connection", (socket: Socket) => {
        socket.on("hello", (payload: unknown, ack: (...args: unknown[]) => void) =>
          ack("ackdata", payload),
        );
        socket.on("join", async (room: string) => {
          await socket.join(room);
          if (socket.handshake.auth.token === "py") {
            answers.push(await socket.timeout(10000).emitWithAck("question", 21));
            answers.push(socket.id);
            run.io.to(room).emit("news", "hello room");
          }
        });
        socket.on("kick", () => socket.disconnect());
      });
      v2.on("connect", () => v2.emit("join", "room"));
      const v2News = new Promise((resolve) => v2.on("news", resolve));

      const child = spawn("/usr/bin/python3", [
        path.join(__dirname, "client.py"),
        run.url,
        transports,
      ]);
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const lines: unknown[][] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        lines.push(JSON.parse(line) as unknown[]);
      }
      const code = await new Promise((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.on("exit", resolve);
      });
      assert.equal(code, 0, stderr);
      const [connect, ack, news, disconnect] = lines;
      assert.equal(connect?.[0], "connect");
      // the Socket.IO id the server gave (get_sid("/")), and the transport asked for (or upgraded to)
      assert.equal(connect?.[1], answers[1]);
      assert.equal(connect?.[2], transports === "polling" ? "polling" : "websocket");
      assert.deepEqual(ack, ["ack", ["ackdata", { a: 1 }]]);
      assert.deepEqual(answers[0], { answer: 42 });
      assert.deepEqual(news, ["news", "hello room"]);
      assert.deepEqual(disconnect, ["disconnect"]);
      assert.equal(await v2News, "hello room");
    } finally {
      v2.close();
      await run.close();
    }
  });
}
