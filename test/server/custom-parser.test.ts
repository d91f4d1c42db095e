/** The `parser` option: socket.io-msgpack-parser on both sides. */
import assert from "node:assert/strict";
import { test } from "node:test";
import customParser from "socket.io-msgpack-parser";
import type { Socket } from "../../src";
import { next, start, TRANSPORTS } from "../support/io";

for (const transports of TRANSPORTS) {
  test(`msgpack parser over ${transports[0]}: events, acks, binary, broadcast`, async () => {
    const run = await start({ parser: customParser });
    try {
      const serverSide = next<[Socket]>(run.io, "connection");
      const client = run.client("/", { transports: [...transports], parser: customParser });
      await next(client, "connect");
      const [socket] = await serverSide;
      socket.on("echo", (value: unknown, ack: (v: unknown) => void) => ack(value));
      const payload = { text: "héllo", n: 42, list: [1, 2, 3], bin: Buffer.from([1, 2, 3]) };
      const answer = (await client.emitWithAck("echo", payload)) as typeof payload;
      assert.equal(answer.text, "héllo");
      assert.deepEqual(answer.list, [1, 2, 3]);
      assert.deepEqual([...new Uint8Array(answer.bin)], [1, 2, 3]);
      const broadcast = next(client, "news");
      run.io.emit("news", { big: "x".repeat(2000) });
      assert.equal(((await broadcast)[0] as { big: string }).big.length, 2000);
    } finally {
      await run.close();
    }
  });
}
