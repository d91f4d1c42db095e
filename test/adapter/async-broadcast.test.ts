/**
 * An adapter whose broadcast is asynchronous (it must learn something from its backend, such as an offset,
 * before delivering locally): the server delivers once it resolves, and reports a rejection on the adapter's
 * `error` event instead of leaving it unhandled.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Adapter, type AdapterConstructor, type BroadcastOptions } from "../../src";
import type { AdapterPacket } from "../../src/adapter/adapter";
import { next, start } from "../support/io";

/** The next `error` of the adapter (rejects after 5 s). */
function adapterError(adapter: Adapter): Promise<[Error]> {
  return once(adapter, "error", { signal: AbortSignal.timeout(5000) }) as Promise<[Error]>;
}

class DeferredAdapter extends Adapter {
  fail = false;

  override async broadcast(packet: AdapterPacket, opts: BroadcastOptions): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.fail) throw new Error("backend unavailable");
    await super.broadcast(packet, opts);
  }

  override async broadcastWithAck(
    packet: AdapterPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.fail) throw new Error("backend unavailable");
    await super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }
}

test("an asynchronous adapter broadcast delivers once it resolves; a rejection reaches the adapter's error event", async () => {
  const server = await start({ adapter: DeferredAdapter as unknown as AdapterConstructor });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const client = server.client();
    await next(client, "connect");
    client.on("ask", (value: number, ack: (answer: number) => void) => ack(value * 2));

    const received = next<[string]>(client, "news");
    server.io.emit("news", "hello");
    assert.deepEqual(await received, ["hello"]);

    const answers = await server.io.timeout(2000).emitWithAck("ask", 21);
    assert.deepEqual(answers, [42]);

    const adapter = server.io.of("/").adapter as DeferredAdapter;
    adapter.fail = true;
    const failed = adapterError(adapter);
    server.io.emit("news", "lost");
    assert.equal((await failed)[0].message, "backend unavailable");

    const failedAck = adapterError(adapter);
    await assert.rejects(server.io.timeout(2000).emitWithAck("ask", 1), /backend unavailable/);
    assert.equal((await failedAck)[0].message, "backend unavailable");
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    await server.close();
  }
});
