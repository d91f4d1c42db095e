/**
 * The session writes of the streams adapter (SET of a session, DEL of a session whose socket left for good), kept
 * bounded while Redis does not answer. A Redis client holds every command it is given while it reconnects
 * (node-redis's offline queue, ioredis's) or while its connection is silent, so handing each save to it would make
 * a node's memory grow with its traffic for as long as the outage lasts. Instead:
 *
 * - at most SESSION_WRITES_IN_FLIGHT writes are given to the client and unanswered at a time;
 * - the others wait here, at most one per session key: a newer write of a key replaces the one not yet sent (a
 *   live save is encoded only when it is sent, so it is always the session as it is then);
 * - at most `maxPending` keys wait; past that the oldest waiting write is dropped, reported once on the `error`
 *   event until Redis answers again;
 * - a write that failed for want of a connection (not an error reply of Redis) is sent again, unless a newer one
 *   of its key is waiting, after a pause that grows to 1 s; the waiting writes go out once Redis answers.
 */
import type { RedisClient } from "../redis/client";
import { command } from "./commands";

/** Writes given to the Redis client and not answered yet, at most: what a stalled client holds of them. */
export const SESSION_WRITES_IN_FLIGHT = 64;

/** Where a live session comes from: encoded when its write is sent (undefined: the socket is gone meanwhile). */
export interface LiveSessionSource {
  liveSession(sid: string): { value: string; ttl: number } | undefined;
}

export type SessionWrite =
  | { kind: "live"; source: LiveSessionSource; sid: string }
  /** A session kept after its socket's disconnection, until `expiresAt` (ms since the epoch). */
  | { kind: "set"; value: string; expiresAt: number }
  | { kind: "del" };

interface Queued {
  write: SessionWrite;
  /**
   * Settled once this key is written, for callers that wait (shared with the writes this one replaced: one per
   * key, however many saves an outage coalesces).
   */
  done?: { promise: Promise<void>; resolve(): void };
}

/** An error reply of Redis (node-redis's ErrorReply, ioredis's ReplyError): sending again would fail again. */
function isErrorReply(err: unknown): boolean {
  for (let proto: unknown = err; proto; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name === "ErrorReply" || name === "ReplyError") return true;
  }
  return false;
}

const settle = (queued: Queued) => queued.done?.resolve();

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class SessionWriter {
  /** Key → its write not sent yet; in the order of their last write (the first is the oldest). */
  private readonly waiting = new Map<string, Queued>();
  /** Key → its write last given to the client, until it is answered. */
  private readonly sent = new Map<string, Queued>();
  private inFlight = 0;
  private failures = 0;
  private pause?: NodeJS.Timeout;
  private dropReported = false;
  private stopped = false;

  constructor(
    private readonly client: RedisClient,
    private readonly maxPending: number,
    private readonly report: (err: unknown) => void,
  ) {}

  /** How many keys have a write waiting (not given to the client yet). */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Writes `key` in the background. With `wait`, the promise resolves once this write (or a newer one of `key`)
   * is answered, failed or dropped; it never rejects (failures go to `report`).
   */
  write(key: string, write: SessionWrite, wait: true): Promise<void>;
  write(key: string, write: SessionWrite, wait?: false): void;
  write(key: string, write: SessionWrite, wait = false): Promise<void> | void {
    const previous = this.waiting.get(key);
    if (previous) this.waiting.delete(key);
    else if (this.waiting.size >= this.maxPending) this.dropOldest();
    const queued: Queued = { write, done: previous?.done };
    if (wait) queued.done ??= deferred();
    this.waiting.set(key, queued);
    const promise = queued.done?.promise;
    this.pump();
    return wait ? promise : undefined;
  }

  /** Gives every waiting write to the client now, whatever the window (the adapter is closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.pause);
    this.pause = undefined;
    this.pump();
  }

  private dropOldest(): void {
    const oldest = this.waiting.entries().next();
    if (oldest.done) return;
    const [key, queued] = oldest.value;
    this.waiting.delete(key);
    settle(queued);
    if (this.dropReported) return;
    this.dropReported = true;
    this.report(
      new Error(
        `more than ${this.maxPending} sessions waiting to be saved while Redis does not answer: ` +
          `the oldest saves are dropped (reported once until Redis answers again)`,
      ),
    );
  }

  private pump(): void {
    if (this.pause) return;
    while (this.stopped || this.inFlight < SESSION_WRITES_IN_FLIGHT) {
      const next = this.waiting.entries().next();
      if (next.done) return;
      const [key, queued] = next.value;
      this.waiting.delete(key);
      this.send(key, queued);
    }
  }

  private send(key: string, queued: Queued): void {
    const { write } = queued;
    let args: string[];
    if (write.kind === "del") args = ["DEL", key];
    else {
      let session: { value: string; ttl: number } | undefined;
      try {
        session =
          write.kind === "live"
            ? write.source.liveSession(write.sid)
            : { value: write.value, ttl: write.expiresAt - Date.now() };
      } catch (err) {
        this.report(err);
      }
      // a socket gone before its save was sent: its disconnection wrote (or deletes) the key itself; a kept
      // session whose time ran out while it waited: expired, as it would have in Redis
      if (!session || session.ttl <= 0) return settle(queued);
      args = ["SET", key, session.value, "PX", String(session.ttl)];
    }
    this.inFlight++;
    this.sent.set(key, queued);
    let sending: Promise<unknown>;
    try {
      sending = command(this.client, args);
    } catch (err) {
      sending = Promise.reject(err);
    }
    sending.then(
      () => {
        this.failures = 0;
        this.dropReported = false;
        this.done(key, queued);
        settle(queued);
      },
      (err: unknown) => {
        if (this.failures++ === 0) this.report(err);
        const superseded = this.waiting.has(key) || this.sent.get(key) !== queued;
        const retry = !this.stopped && !isErrorReply(err) && !superseded;
        if (retry) {
          if (this.waiting.size >= this.maxPending) this.dropOldest();
          this.waiting.set(key, queued);
          // no connection: wait before sending again (as the stream reader does)
          this.pause ??= setTimeout(
            () => {
              this.pause = undefined;
              this.pump();
            },
            Math.min(1000, 50 * 2 ** this.failures),
          );
          this.pause.unref?.();
        }
        this.done(key, queued);
        if (!retry) settle(queued);
      },
    );
  }

  private done(key: string, queued: Queued): void {
    this.inFlight--;
    if (this.sent.get(key) === queued) this.sent.delete(key);
    this.pump();
  }
}
