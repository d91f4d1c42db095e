/**
 * Acknowledgements: what a socket registers while it waits for a client's answer, the handle a namespace
 * gives its adapter for a broadcast with acks, and the one Promise form of every `emitWithAck`.
 */
import type { AckExpectation } from "../adapter/adapter";
import { timeoutError } from "./errors";

export type Ack = (...args: unknown[]) => void;

/** A socket as the ack helpers see it: its map of acks awaited by packet id. */
interface AckHolder {
  readonly acks: Map<number, Ack>;
}

/**
 * Registers `ack` for the packet `id` on `holder`; with `timeout`, the ack gets `(err)` if no answer came in
 * time, or `(null, ...answer)` if one did (the `timeout(ms).emit(..., cb)` form). `self` is the ack's `this`.
 */
export function registerAck(
  holder: AckHolder,
  self: unknown,
  id: number,
  ack: Ack,
  timeout: number | undefined,
): void {
  if (timeout === undefined) {
    holder.acks.set(id, ack);
    return;
  }
  const timer = setTimeout(() => {
    holder.acks.delete(id);
    ack.call(self, timeoutError());
  }, timeout);
  holder.acks.set(id, (...args: unknown[]) => {
    clearTimeout(timer);
    ack.call(self, null, ...args);
  });
}

/**
 * The answers awaited for one broadcast with acks (see `AdapterNamespace.expectAcks`). With a timeout, the
 * acks still awaited when it expires are removed from the silent sockets: a late answer has nowhere to go.
 */
export class BroadcastAcks implements AckExpectation {
  private readonly awaiting: AckHolder[] | undefined;

  constructor(
    private readonly id: number,
    private readonly ack: Ack,
    private readonly timeout: number | undefined,
    /** Acks one socket may await at once (`maxPendingAcks`), broadcast ones included. */
    private readonly maxPerSocket: number,
  ) {
    this.awaiting = timeout === undefined ? undefined : [];
  }

  expect(socket: object): boolean {
    const holder = socket as AckHolder;
    if (holder.acks.size >= this.maxPerSocket) return false;
    holder.acks.set(this.id, this.ack);
    this.awaiting?.push(holder);
    return true;
  }

  end(): void {
    if (this.awaiting && this.awaiting.length > 0) {
      setTimeout(forgetAcks, this.timeout, this).unref();
    }
  }

  /** @internal */
  _forget(): void {
    for (const holder of this.awaiting ?? []) holder.acks.delete(this.id);
  }
}

function forgetAcks(acks: BroadcastAcks): void {
  acks._forget();
}

/**
 * The Promise form of an emit with an ack. `send` emits with the given callback. With `errorFirst`, the
 * callback receives `(err, value)` and the Promise rejects with `err` (carrying `value` as `err.responses`
 * when `attachResponses`); without, it resolves with the first argument.
 */
export function ackPromise<T>(
  send: (callback: Ack) => void,
  errorFirst: boolean,
  attachResponses = false,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    send((...answer: unknown[]) => {
      const [first, second] = answer;
      if (!errorFirst) {
        resolve(first as T);
      } else if (first) {
        if (attachResponses) (first as { responses?: unknown }).responses = second;
        reject(first);
      } else {
        resolve(second as T);
      }
    });
  });
}
