/**
 * The publishes (PUBLISH, SPUBLISH, XADD) the Redis adapters have handed to a Redis client and that Redis has not
 * answered yet, bounded. A Redis client keeps every command it is given while Redis is down, restarting or
 * silent (node-redis's offline queue, ioredis's command queue, or the replies a silent connection never sends),
 * so a node that keeps broadcasting through an outage would grow for as long as it lasts (about 1.7 kB of heap
 * per 100-byte broadcast with node-redis).
 *
 * The counts are those of the client, whichever adapters (namespaces, `createAdapter` calls) publish through it;
 * each adapter applies its own bound to them. A publish is counted when it is handed to the client and uncounted
 * when it settles (answered or failed): an increment, a comparison, a decrement. Past the bound an adapter does
 * not hand the publish to the client: a broadcast is still delivered to this node's clients, a request ends at
 * once, and the first refusal is reported on the adapter's `error` event, then again only after Redis has
 * answered a publish in between. Publishing resumes as soon as answers (or failures) bring the counts under it.
 */

/** Default of `maxPendingPublishes`: publishes handed to the client and not answered, at most. */
export const DEFAULT_MAX_PENDING_PUBLISHES = 10000;
/** Default of `maxPendingPublishBytes`: their encoded size, at most (a single publish always passes alone). */
export const DEFAULT_MAX_PENDING_PUBLISH_BYTES = 32 * 1024 * 1024;

/** The start of the message reported on the `error` event when publishes are refused. */
export const PUBLISH_REFUSED = "too many publishes waiting for Redis";

export interface PublishBoundOptions {
  /**
   * At most this many publishes (broadcasts, requests, responses) handed to the Redis client and not answered
   * yet; past it, a broadcast reaches only this node's clients and a request ends at once with an error, reported
   * once on the `error` event until Redis answers again. Default 10000.
   */
  maxPendingPublishes?: number;
  /** The same bound on their encoded size, in bytes. Default 32 MiB. */
  maxPendingPublishBytes?: number;
}

/** What one Redis client holds of the adapters' publishes. */
class ClientCounts {
  count = 0;
  bytes = 0;
  /** Publishes Redis has answered so far: a refusal is reported again only once this has moved. */
  answers = 0;
}

const countsByClient = new WeakMap<object, ClientCounts>();

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 1))
    throw new RangeError(`${name} must be a number >= 1 (Infinity: no bound)`);
  return value;
}

/** Checks the options (createAdapter calls it, so that a bad value fails there and not per namespace). */
export function publishBounds(opts: PublishBoundOptions): { maxCount: number; maxBytes: number } {
  return {
    maxCount: positive(
      opts.maxPendingPublishes,
      DEFAULT_MAX_PENDING_PUBLISHES,
      "maxPendingPublishes",
    ),
    maxBytes: positive(
      opts.maxPendingPublishBytes,
      DEFAULT_MAX_PENDING_PUBLISH_BYTES,
      "maxPendingPublishBytes",
    ),
  };
}

type ReportKind = "refused" | "failed" | "late";

/** One adapter's bound on the publishes waiting in its Redis client, and its reports about them. */
export class PendingPublishes {
  private readonly counts: ClientCounts;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  /** Of each kind of report, `answers` when the last one was made (-1: never). */
  private readonly reportedAt: Record<ReportKind, number> = { refused: -1, failed: -1, late: -1 };
  /** Publishes this adapter did not hand to the client because of the bound. */
  dropped = 0;

  constructor(
    client: object,
    opts: PublishBoundOptions,
    private readonly report: (err: unknown) => void,
  ) {
    let counts = countsByClient.get(client);
    if (!counts) {
      counts = new ClientCounts();
      countsByClient.set(client, counts);
    }
    this.counts = counts;
    ({ maxCount: this.maxCount, maxBytes: this.maxBytes } = publishBounds(opts));
  }

  /** Publishes handed to the client and not settled yet (every adapter publishing through it). */
  get pending(): number {
    return this.counts.count;
  }

  /** Their encoded size, in bytes. */
  get pendingBytes(): number {
    return this.counts.bytes;
  }

  /**
   * Whether a publish of `size` bytes may be handed to the client now. A refusal is counted and reported once
   * until Redis answers again. With nothing pending a publish always passes, however large.
   */
  admit(size: number): boolean {
    const counts = this.counts;
    if (
      counts.count === 0 ||
      (counts.count < this.maxCount && counts.bytes + size <= this.maxBytes)
    )
      return true;
    this.dropped++;
    if (this.reportedAt.refused !== counts.answers)
      this.reportOnce(
        "refused",
        new Error(
          `${PUBLISH_REFUSED} (${counts.count} publishes, ${counts.bytes} bytes; maxPendingPublishes ` +
            `${this.maxCount}, maxPendingPublishBytes ${this.maxBytes}): broadcasts reach only this node's ` +
            `clients and requests fail until Redis answers (reported once until it does)`,
        ),
      );
    return false;
  }

  /**
   * Counts `sending` (a publish of `size` bytes just handed to the client) until it settles. Resolves with its
   * answer, or with undefined when it failed: a failure is reported once until Redis answers a publish again (an
   * outage fails every publish the client held, e.g. ioredis's after `maxRetriesPerRequest`).
   */
  track<T>(sending: Promise<T>, size: number): Promise<T | undefined> {
    const counts = this.counts;
    counts.count++;
    counts.bytes += size;
    return sending.then(
      (value) => {
        counts.count--;
        counts.bytes -= size;
        counts.answers++;
        return value;
      },
      (err: unknown) => {
        counts.count--;
        counts.bytes -= size;
        this.reportOnce("failed", err);
        return undefined;
      },
    );
  }

  /**
   * Reports `err` on the adapter's `error` event unless a report of the same kind was made since Redis last
   * answered a publish: during an outage each kind is reported once, and again after Redis came back.
   */
  reportOnce(kind: ReportKind, err: unknown): void {
    const answers = this.counts.answers;
    if (this.reportedAt[kind] === answers) return;
    this.reportedAt[kind] = answers;
    this.report(err);
  }
}
