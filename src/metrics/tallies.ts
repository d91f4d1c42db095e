/**
 * Plain counters keyed by label values, added to on the hot path (no label object, no hash string) and read
 * by prom-client's `collect()` at scrape time.
 */
import { Buffer } from "node:buffer";
import type { EngineTrafficCounter } from "../diagnostics";
import type { Packet as EnginePacket } from "../engine/packet";

/** A count, held in an object so that adding to it is one lookup, not a Map get and set. */
interface Cell {
  n: number;
}

/** Counts by one or two label values. */
export class Tally {
  private readonly one = new Map<string, Cell>();
  private readonly two = new Map<string, Map<string, number>>();
  /** The last label of `add`: the same label again (an echo's event name) costs a string comparison. */
  private lastLabel: string | undefined = undefined;
  private lastCell: Cell = { n: 0 };

  constructor(readonly labelNames: readonly [string] | readonly [string, string]) {}

  /** Adds `n` to the count of `a` (one label). */
  add(a: string, n: number): void {
    if (a !== this.lastLabel) {
      let cell = this.one.get(a);
      if (cell === undefined) {
        cell = { n: 0 };
        this.one.set(a, cell);
      }
      this.lastLabel = a;
      this.lastCell = cell;
    }
    this.lastCell.n += n;
  }

  add1(a: string): void {
    this.add(a, 1);
  }

  /** Adds 1 to the count of `(a, b)` (two labels). */
  add2(a: string, b: string): void {
    let inner = this.two.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.two.set(a, inner);
    }
    inner.set(b, (inner.get(b) ?? 0) + 1);
  }

  forEach(fn: (labels: Record<string, string>, value: number) => void): void {
    const [first, second] = this.labelNames;
    for (const [a, cell] of this.one) fn({ [first]: a }, cell.n);
    if (second === undefined) return;
    for (const [a, inner] of this.two) {
      for (const [b, value] of inner) fn({ [first]: a, [second]: b }, value);
    }
  }
}

/** The label for a name from an open set: the name while fewer than `max` are known (or it is allowed), else "other". */
export class BoundedNames {
  private readonly known: Set<string>;
  private readonly fixed: boolean;

  constructor(
    private readonly max: number,
    allowed?: readonly string[],
  ) {
    this.fixed = allowed !== undefined;
    this.known = new Set(allowed);
  }

  /** The last name asked and its label: an echo asks for the same name every time. */
  private lastName: string | undefined = undefined;
  private lastLabel = "other";

  label(name: unknown): string {
    if (typeof name !== "string") return "other";
    if (name === this.lastName) return this.lastLabel;
    const label = this.lookUp(name);
    this.lastName = name;
    this.lastLabel = label;
    return label;
  }

  private lookUp(name: string): string {
    if (this.known.has(name)) return name;
    if (this.fixed || this.known.size >= this.max) return "other";
    this.known.add(name);
    return name;
  }
}

/**
 * The bytes of an engine packet's type character and data (binary counted raw). `Buffer` is imported: as a
 * global it is looked up on every call.
 */
export function dataBytes(data: string | Buffer | undefined): number {
  if (data === undefined) return 1;
  return 1 + (typeof data === "string" ? Buffer.byteLength(data) : data.length);
}

/**
 * Engine packets and bytes of one direction on one transport. One field per engine packet type, added to by
 * name in a switch: a keyed access with the type as key (`packets[type]`) sees several names and goes
 * megamorphic, which cost a few hundred instructions per packet.
 */
export class TransportTraffic {
  open = 0;
  close = 0;
  ping = 0;
  pong = 0;
  message = 0;
  upgrade = 0;
  noop = 0;
  bytes = 0;
  /** Any other type (an incoming "error" packet): rare, so a Map. */
  readonly others = new Map<string, number>();

  add(type: string): void {
    switch (type) {
      case "message":
        this.message++;
        return;
      case "ping":
        this.ping++;
        return;
      case "pong":
        this.pong++;
        return;
      case "open":
        this.open++;
        return;
      case "close":
        this.close++;
        return;
      case "upgrade":
        this.upgrade++;
        return;
      case "noop":
        this.noop++;
        return;
      default:
        this.others.set(type, (this.others.get(type) ?? 0) + 1);
    }
  }

  forEach(fn: (type: string, count: number) => void): void {
    fn("open", this.open);
    fn("close", this.close);
    fn("ping", this.ping);
    fn("pong", this.pong);
    fn("message", this.message);
    fn("upgrade", this.upgrade);
    fn("noop", this.noop);
    for (const [type, count] of this.others) fn(type, count);
  }
}

/**
 * Engine packets and bytes of one direction, by transport. Per packet: one string comparison to find the
 * transport (the last one is kept), one field increment; the bytes of a string repeated for many targets (a
 * broadcast's data is one string for all of them) are measured once.
 */
export class Traffic {
  private readonly byTransport = new Map<string, TransportTraffic>();
  /** The transport of the last `of` and its counts (read directly by `EngineTraffic.countOut`'s fast path). */
  lastName = "";
  last: TransportTraffic | undefined = undefined;
  /** The prepared message of the last broadcast written, and its bytes. */
  lastPrepared: object | undefined = undefined;
  lastPreparedBytes = 0;

  of(transport: string): TransportTraffic {
    if (transport === this.lastName && this.last !== undefined) return this.last;
    let traffic = this.byTransport.get(transport);
    if (traffic === undefined) {
      traffic = new TransportTraffic();
      this.byTransport.set(transport, traffic);
    }
    this.lastName = transport;
    this.last = traffic;
    return traffic;
  }

  /**
   * The bytes of an engine packet to send (`dataBytes`). A broadcast's packets share one prepared message, so
   * its size is measured once for all targets (`lastPrepared`). (Comparing the strings instead costs a content
   * comparison whenever they differ, as an echo's do.)
   */
  sentBytes(packet: EnginePacket): number {
    const prepared = packet.prepared;
    if (prepared !== undefined) {
      if (prepared !== this.lastPrepared) {
        this.lastPrepared = prepared;
        this.lastPreparedBytes = dataBytes(packet.data);
      }
      return this.lastPreparedBytes;
    }
    return dataBytes(packet.data);
  }

  forEachPacketCount(fn: (labels: Record<string, string>, value: number) => void): void {
    for (const [transport, traffic] of this.byTransport) {
      traffic.forEach((type, count) => {
        if (count > 0) fn({ transport, type }, count);
      });
    }
  }

  forEachBytes(fn: (labels: Record<string, string>, value: number) => void): void {
    for (const [transport, traffic] of this.byTransport) fn({ transport }, traffic.bytes);
  }
}

/**
 * The engine's traffic counter (set as `_trafficCounter` on the engine server): one call per packet received
 * and per write, no allocation.
 *
 * `countOut` is called from the engine socket's `flush`, which the JIT compiles together with the transport's
 * write path (inlined) as long as the inlining budget of that path lasts. A counter with its lookups and
 * byte measurement inlined there used up that budget: the transport's `send` and the socket's own calls were
 * then made out of line, with generic (megamorphic) property lookups, a few hundred instructions per target of
 * a fan-out. So `countOut` is kept small: a broadcast's further targets (one message packet of the last
 * prepared message on the last transport) cost two field increments; everything else goes to `countOutEach`,
 * which a fan-out does not call after its first target and so is not inlined into `flush`.
 */
export class EngineTraffic implements EngineTrafficCounter {
  readonly received = new Traffic();
  readonly sent = new Traffic();

  countIn(transport: string, packet: EnginePacket): void {
    const traffic = this.received.of(transport);
    if (packet.type === "message") traffic.message++;
    else traffic.add(packet.type);
    traffic.bytes += dataBytes(packet.data);
  }

  countOut(transport: string, packets: readonly EnginePacket[]): void {
    const sent = this.sent;
    if (packets.length === 1 && transport === sent.lastName) {
      const packet = packets[0] as EnginePacket;
      const prepared = packet.prepared;
      if (prepared !== undefined && prepared === sent.lastPrepared && packet.type === "message") {
        const traffic = sent.last as TransportTraffic;
        traffic.message++;
        traffic.bytes += sent.lastPreparedBytes;
        return;
      }
    }
    this.countOutEach(transport, packets);
  }

  countOutBytes(transport: string, type: EnginePacket["type"], bytes: number): void {
    const traffic = this.sent.of(transport);
    if (type === "message") traffic.message++;
    else traffic.add(type);
    traffic.bytes += bytes;
  }

  /** Any write but a broadcast's further targets: each packet counted, a new prepared message measured. */
  private countOutEach(transport: string, packets: readonly EnginePacket[]): void {
    const sent = this.sent;
    const traffic = sent.of(transport);
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i] as EnginePacket;
      if (packet.type === "message") traffic.message++;
      else traffic.add(packet.type);
      traffic.bytes += sent.sentBytes(packet);
    }
  }
}
