/**
 * Plain counters keyed by label values, added to on the hot path (a Map lookup or two and an addition, no
 * label object, no hash string) and read by prom-client's `collect()` at scrape time.
 */

/** Counts by one or two label values. */
export class Tally {
  private readonly one = new Map<string, number>();
  private readonly two = new Map<string, Map<string, number>>();

  constructor(readonly labelNames: readonly [string] | readonly [string, string]) {}

  /** Adds `n` to the count of `a` (one label). */
  add(a: string, n: number): void {
    this.one.set(a, (this.one.get(a) ?? 0) + n);
  }

  add1(a: string): void {
    this.one.set(a, (this.one.get(a) ?? 0) + 1);
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
    for (const [a, value] of this.one) fn({ [first]: a }, value);
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

  label(name: unknown): string {
    if (typeof name !== "string") return "other";
    if (this.known.has(name)) return name;
    if (this.fixed || this.known.size >= this.max) return "other";
    this.known.add(name);
    return name;
  }
}

/** Engine packets and bytes of one direction on one transport. */
export interface TransportTraffic {
  /** Packets by engine packet type. */
  readonly packets: Record<string, number>;
  bytes: number;
}

/**
 * Engine packets and bytes of one direction, by transport. Per packet: one string comparison to find the
 * transport (the last one is kept), one keyed addition; the bytes of a string repeated for many targets (a
 * broadcast's data is one string for all of them) are measured once.
 */
export class Traffic {
  private readonly byTransport = new Map<string, TransportTraffic>();
  private lastName = "";
  private last: TransportTraffic | undefined = undefined;
  private lastString: string | undefined = undefined;
  private lastStringBytes = 0;

  of(transport: string): TransportTraffic {
    if (transport === this.lastName && this.last !== undefined) return this.last;
    let traffic = this.byTransport.get(transport);
    if (traffic === undefined) {
      traffic = { packets: Object.create(null) as Record<string, number>, bytes: 0 };
      this.byTransport.set(transport, traffic);
    }
    this.lastName = transport;
    this.last = traffic;
    return traffic;
  }

  /** The bytes of an engine packet: its type character and its data (binary counted raw), before framing. */
  packetBytes(data: string | Buffer | undefined): number {
    if (data === undefined) return 1;
    if (typeof data !== "string") return 1 + data.length;
    if (data !== this.lastString) {
      this.lastString = data;
      this.lastStringBytes = Buffer.byteLength(data);
    }
    return 1 + this.lastStringBytes;
  }

  forEachPacketCount(fn: (labels: Record<string, string>, value: number) => void): void {
    for (const [transport, traffic] of this.byTransport) {
      for (const type in traffic.packets) fn({ transport, type }, traffic.packets[type] as number);
    }
  }

  forEachBytes(fn: (labels: Record<string, string>, value: number) => void): void {
    for (const [transport, traffic] of this.byTransport) fn({ transport }, traffic.bytes);
  }
}
