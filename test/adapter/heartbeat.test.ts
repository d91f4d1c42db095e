/**
 * The heartbeat cluster base (`ClusterAdapterWithHeartbeat`): announcing a node, heartbeats, forgetting a node
 * on its close message or after its silence, serverCount from the nodes alive, and requests that wait for the
 * nodes alive when sent and end early (with the answers received so far) when one of them goes away.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { ClusterAdapterWithHeartbeatOptions, ClusterMessage } from "../../src/adapter";
import { MessageType } from "../../src/adapter";
import { next, type Running, start, until } from "../support/io";
import { Bus, type BusAdapter } from "./bus";

const running: Running[] = [];
after(() => Promise.all(running.map((node) => node.close())));

async function startNodes(bus: Bus, count: number, opts: ClusterAdapterWithHeartbeatOptions) {
  const nodes: Running[] = [];
  for (let i = 0; i < count; i++) {
    const node = await start({ adapter: bus.adapter(opts) });
    running.push(node);
    nodes.push(node);
  }
  return nodes;
}

const adapterOf = (node: Running, nsp = "/") => node.io.of(nsp).adapter as unknown as BusAdapter;
const counts = (nodes: Running[]) => Promise.all(nodes.map((n) => adapterOf(n).serverCount()));

async function untilCounts(nodes: Running[], expected: number, ms?: number): Promise<void> {
  let last: number[] = [];
  const poll = async () => {
    last = await counts(nodes);
  };
  await poll();
  const deadline = Date.now() + (ms ?? 15000);
  while (!last.every((c) => c === expected)) {
    if (Date.now() > deadline) throw new Error(`serverCount stayed ${last.join(",")}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await poll();
  }
}

const ofType = (bus: Bus, type: number, uid?: string) =>
  bus.published.filter((m) => m.type === type && (uid === undefined || m.uid === uid));

describe("heartbeat cluster base", () => {
  test("a node announces itself at start; every node answers with a heartbeat; the official shapes", async () => {
    const bus = new Bus();
    const [a, b] = await startNodes(bus, 2, { heartbeatTimeout: 60000 });
    await untilCounts([a!, b!], 2);
    const uidA = adapterOf(a!).uid;
    const uidB = adapterOf(b!).uid;
    assert.match(uidA, /^[0-9a-f]{16}$/);
    const initial = ofType(bus, MessageType.INITIAL_HEARTBEAT);
    assert.deepEqual(initial, [
      { type: 1, uid: uidA, nsp: "/" },
      { type: 1, uid: uidB, nsp: "/" },
    ]);
    assert.deepEqual(Object.keys(initial[0]!), ["type", "uid", "nsp"]);
    // B answered A's announcement (A published before B existed, so only A answers B's)
    await until(() => ofType(bus, MessageType.HEARTBEAT, uidA).length >= 1);
    assert.deepEqual(ofType(bus, MessageType.HEARTBEAT, uidA)[0], { type: 2, uid: uidA, nsp: "/" });

    // each namespace has its own uid and its own count
    a!.io.of("/other");
    assert.equal(await adapterOf(a!, "/other").serverCount(), 1);
    b!.io.of("/other");
    await until(() => ofType(bus, MessageType.INITIAL_HEARTBEAT).length === 4);
    let otherCounts: number[] = [];
    await until(() => {
      void Promise.all([a!, b!].map((n) => adapterOf(n, "/other").serverCount())).then(
        (c) => (otherCounts = c),
      );
      return otherCounts.join() === "2,2";
    });
    assert.notEqual(adapterOf(a!, "/other").uid, uidA);

    // an emitter's messages are delivered but never count as a node
    const heard = next<[string]>(a!.io.of("/"), "from-emitter");
    adapterOf(a!).onMessage({
      type: MessageType.SERVER_SIDE_EMIT,
      data: { packet: ["from-emitter", "x"] },
      uid: "emitter",
      nsp: "/",
    });
    assert.deepEqual(await heard, ["x"]);
    assert.equal(await adapterOf(a!).serverCount(), 2);
  });

  test("serverCount follows nodes joining and leaving; a closing node is forgotten at once", async () => {
    const bus = new Bus();
    // heartbeats would take a minute to notice a silent node: only the close message can explain a fast drop
    const opts = { heartbeatInterval: 30000, heartbeatTimeout: 60000 };
    const [a, b, c] = await startNodes(bus, 3, opts);
    await untilCounts([a!, b!, c!], 3);
    const closedAt = Date.now();
    await c!.close();
    assert.deepEqual(ofType(bus, MessageType.ADAPTER_CLOSE), [
      { type: 13, uid: adapterOf(c!).uid, nsp: "/" },
    ]);
    await untilCounts([a!, b!], 2, 5000);
    assert.ok(Date.now() - closedAt < 5000);
    const [d] = await startNodes(bus, 1, opts);
    await untilCounts([a!, b!, d!], 3);
  });

  test("heartbeats keep quiet nodes alive; a silent node is forgotten after heartbeatTimeout", async () => {
    const bus = new Bus();
    const [a, b, c] = await startNodes(bus, 3, { heartbeatInterval: 100, heartbeatTimeout: 400 });
    await untilCounts([a!, b!, c!], 3);
    // five heartbeats of each node span more than heartbeatTimeout: nobody was forgotten meanwhile
    const uids = [a!, b!, c!].map((n) => adapterOf(n).uid);
    const mark = uids.map((uid) => ofType(bus, MessageType.HEARTBEAT, uid).length);
    await until(() =>
      uids.every((uid, i) => ofType(bus, MessageType.HEARTBEAT, uid).length >= mark[i]! + 5),
    );
    assert.deepEqual(await counts([a!, b!, c!]), [3, 3, 3]);

    bus.cut(uids[2]!);
    const cutAt = Date.now();
    await untilCounts([a!, b!], 2);
    const elapsed = Date.now() - cutAt;
    assert.ok(elapsed >= 400, `forgotten after ${elapsed} ms`);
  });

  test("a request waits for the nodes alive and ends early, with the answers so far, when one goes away", async () => {
    const bus = new Bus();
    const opts = { heartbeatInterval: 100, heartbeatTimeout: 500, requestsTimeout: 30000 };
    const [a, b, c, d] = await startNodes(bus, 4, opts);
    await untilCounts([a!, b!, c!, d!], 4);
    b!.io.on("ping", (cb: (answer: string) => void) => cb("from b"));
    c!.io.on("ping", () => {}); // never answers: C owes an answer until it goes away
    d!.io.on("ping", () => {});
    const clientC = c!.client("/", { transports: ["websocket"] });
    const clientB = b!.client("/", { transports: ["websocket"] });
    await Promise.all([next(clientC, "connect"), next(clientB, "connect")]);

    // C closes: its close message ends the wait for it; D is then silenced: its heartbeat timeout ends the rest
    const startedAt = Date.now();
    const answered = new Promise<[Error | null, unknown[]]>((resolve) =>
      a!.io.serverSideEmit("ping", (err: Error | null, responses: unknown[]) =>
        resolve([err, responses]),
      ),
    );
    await until(() => ofType(bus, MessageType.SERVER_SIDE_EMIT_RESPONSE).length === 1);
    await c!.close();
    bus.cut(adapterOf(d!).uid);
    const [err, responses] = await answered;
    assert.equal(err, null);
    assert.deepEqual(responses, ["from b"]);
    assert.ok(Date.now() - startedAt < 10000, "ended long before the request timeout");
    assert.equal(await a!.io.of("/").adapter.serverCount(), 2);

    // a silenced node's sockets are missing from fetchSockets, which still ends before its timeout
    const [e] = await startNodes(bus, 1, opts);
    await untilCounts([a!, b!, e!], 3);
    const clientE = e!.client("/", { transports: ["websocket"] });
    await next(clientE, "connect");
    bus.cut(adapterOf(e!).uid);
    const fetchedAt = Date.now();
    const sockets = await a!.io.fetchSockets();
    assert.deepEqual(
      sockets.map((s) => s.id),
      [clientB.id],
    );
    assert.ok(Date.now() - fetchedAt < 10000);
  });

  test("a node alive that does not answer: the timeout gives the official message and the answers so far", async () => {
    const bus = new Bus();
    const opts = { heartbeatInterval: 100, heartbeatTimeout: 60000, requestsTimeout: 500 };
    const [a, b, c] = await startNodes(bus, 3, opts);
    await untilCounts([a!, b!, c!], 3);
    b!.io.on("ping", (cb: (answer: string) => void) => cb("from b"));
    c!.io.on("ping", () => {});
    const [err, responses] = await new Promise<[Error | null, unknown[]]>((resolve) =>
      a!.io.serverSideEmit("ping", (e: Error | null, r: unknown[]) => resolve([e, r])),
    );
    assert.equal(err?.message, "timeout reached: missing 1 responses");
    assert.deepEqual(responses, ["from b"]);

    // fetchSockets: C's adapter does not answer (its messages are dropped), B's does
    const dropped = adapterOf(c!);
    const original = dropped.onMessage.bind(dropped);
    dropped.onMessage = (message: ClusterMessage) => {
      if (message.type !== MessageType.FETCH_SOCKETS) original(message);
    };
    await assert.rejects(a!.io.fetchSockets(), {
      message: "timeout reached: missing 1 responses",
    });
    assert.equal(await a!.io.of("/").adapter.serverCount(), 3);
  });
});
