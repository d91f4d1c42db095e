/**
 * The errors of the adapter layer: one message each (the official adapters' exact text where they have one;
 * applications and tests match on them), keyed by a stable code.
 */
export const AdapterErrorMessage = {
  /** The number of nodes could not be had in time (ClusterAdapter's text). */
  UNKNOWN_SERVER_COUNT: "timeout reached: the number of servers is unknown",
  /** Pending requests failed by close(). */
  ADAPTER_CLOSED: "the adapter was closed",
} as const;
export type AdapterErrorCode = keyof typeof AdapterErrorMessage;

/** A request that did not get every answer in time (ClusterAdapter's text). */
export function partialResponsesMessage(received: number, expected: number): string {
  return `timeout reached: only ${received} responses received out of ${expected}`;
}

/** A request waiting for named nodes that did not all answer in time (the heartbeat ClusterAdapter's text). */
export function missingResponsesMessage(missing: number): string {
  return `timeout reached: missing ${missing} responses`;
}

/** A request of the classic Redis adapter that timed out (its text, naming the method). */
export function classicTimeoutMessage(method: string): string {
  return `timeout reached while waiting for ${method} response`;
}

/** A step (serverCount, ...) that did not finish in time. */
export function stepTimeoutError(what: string, ms: number): Error {
  return new Error(`${what} timed out after ${ms} ms`);
}

/** Any thrown or rejected value as an Error (non-Errors are wrapped with their string form). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
