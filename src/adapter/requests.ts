/**
 * Requests to the other nodes of a cluster, whatever the wire format: pending requests waiting for one answer
 * per other node with a timeout that reports the answers received so far, the handlers of broadcasts with
 * acks, and failures reported on the adapter's `error` event. `MultiNodeAdapter` is the base of every adapter
 * talking to other nodes (the ClusterAdapter protocol and the classic Redis one).
 */
import createDebug from "debug";
import { type AdapterRequestOutcome, channels } from "../diagnostics";
import { Adapter, type AdapterNamespace, type ServerSideEmitAck } from "./adapter";
import {
  AdapterErrorMessage,
  missingResponsesMessage,
  partialResponsesMessage,
  stepTimeoutError,
  toError,
} from "./errors";

const debug = createDebug("switchyard:cluster");

/** Error of a request that did not get all its answers in time; `responses` holds those that came. */
export class RequestTimeoutError extends Error {
  constructor(
    message: string,
    readonly responses: unknown[],
  ) {
    super(message);
    this.name = "Error";
  }
}

/** Resolves with the value of `promise`, or rejects after `ms` (the timer never keeps the process alive). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(stepTimeoutError(what, ms)), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** What a request to the other nodes does with their answers. */
export interface AnswerCollector<A = unknown> {
  /** Takes one node's answer. */
  take(answer: A): void;
  /** The answers so far: the `responses` of a timeout error. */
  answers(): unknown[];
  /** Called once: with null after the last expected answer, or with the timeout (or abort) error. */
  done(err: Error | null): void;
}

/**
 * Who must answer a request: a number of answers (protocols that only know how many nodes there are), or the
 * uids of the nodes alive when it was sent (the heartbeat protocol, which can end a request early when one of
 * them goes away).
 */
export type ExpectedAnswers = number | Set<string>;

function expectedCount(expected: ExpectedAnswers): number {
  return typeof expected === "number" ? expected : expected.size;
}

interface PendingRequest {
  type: number;
  expected: number;
  received: number;
  /** The uids still to answer, when the request waits for named nodes. */
  waitingFor?: Set<string>;
  timer: NodeJS.Timeout;
  collector: AnswerCollector;
  /** performance.now() at the start, when `switchyard:adapter:request` has subscribers (else 0). */
  startedAt: number;
}

/** The lower-case name of `type` in a protocol's table of message types (`{ FETCH_SOCKETS: 7, ... }`). */
export function requestTypeName(types: Readonly<Record<string, number>>, type: number): string {
  for (const name in types) if (types[name] === type) return name.toLowerCase();
  return String(type);
}

interface AckRequest {
  clientCountCallback(count: number): void;
  ack(...args: unknown[]): void;
}

/**
 * What every adapter talking to other nodes needs, whatever its wire format (the classic Redis protocol and the
 * ClusterAdapter one differ in message shapes, ids and channels, not in this): requests waiting for one answer
 * per other node with a timeout that reports the answers received so far, the handlers of broadcasts with acks,
 * the count of the other nodes, and failures reported on the `error` event.
 */
export abstract class MultiNodeAdapter extends Adapter {
  /** This namespace adapter's id in the cluster (each protocol has its own format). */
  abstract readonly uid: string;
  private readonly requests = new Map<string, PendingRequest>();
  private readonly ackRequests = new Map<string, AckRequest>();

  constructor(
    nsp: AdapterNamespace,
    /** How long requests (fetchSockets without its own timeout, serverSideEmit with ack, …) wait for answers. */
    readonly requestsTimeout: number,
  ) {
    super(nsp);
  }

  /** Reports a failure to the adapter's `error` listeners (an EventEmitter would throw without one). */
  protected reportError(err: unknown): void {
    const error = toError(err);
    debug("[%s] %s", this.uid, error.message);
    if (channels.adapterError.hasSubscribers) {
      channels.adapterError.publish({ adapter: this, namespace: this.nsp.name, error });
    }
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** Runs a send that may throw or reject; either failure is reported instead of reaching the caller. */
  protected reportFailure(send: () => Promise<unknown>): void {
    let result: Promise<unknown>;
    try {
      result = send();
    } catch (err) {
      this.reportError(err);
      return;
    }
    result.catch((err: unknown) => this.reportError(err));
  }

  /**
   * Who must answer a request sent now: by default serverCount() - 1 answers; the heartbeat base names the
   * nodes alive. Undefined when that cannot be had in time (the error is reported).
   */
  protected expectedAnswers(timeout: number): Promise<ExpectedAnswers | undefined> {
    return this.countOthers(timeout);
  }

  /** serverCount() - 1, or undefined when the count cannot be had in time (the error is reported). */
  protected async countOthers(timeout: number): Promise<number | undefined> {
    try {
      return (await withTimeout(this.serverCount(), timeout, "serverCount")) - 1;
    } catch (err) {
      this.reportError(err);
      return undefined;
    }
  }

  /**
   * Waits for the `expected` answers (a count, or one per named node) to the request `requestId` of type
   * `type`, handing them to `collector`. After `timeout` ms it gets instead a RequestTimeoutError with the
   * answers so far (message `timeoutMessage`, by default the ClusterAdapter's, which the classic adapter also
   * uses for serverSideEmit).
   */
  protected awaitAnswers(
    requestId: string,
    type: number,
    expected: ExpectedAnswers,
    timeout: number,
    collector: AnswerCollector,
    timeoutMessage?: string,
  ): void {
    const count = expectedCount(expected);
    const waitingFor = typeof expected === "number" ? undefined : new Set(expected);
    const timer = setTimeout(() => {
      const request = this.requests.get(requestId);
      if (!request) return;
      this.requests.delete(requestId);
      if (request.startedAt !== 0) this.publishRequest(requestId, request, "timeout");
      const message =
        timeoutMessage ??
        (waitingFor
          ? missingResponsesMessage(waitingFor.size)
          : partialResponsesMessage(request.received, count));
      collector.done(new RequestTimeoutError(message, collector.answers()));
    }, timeout);
    const startedAt = channels.adapterRequest.hasSubscribers ? performance.now() : 0;
    this.requests.set(requestId, {
      type,
      expected: count,
      received: 0,
      waitingFor,
      timer,
      collector,
      startedAt,
    });
  }

  /** The name of a request type of this adapter's protocol, for diagnostics ("fetch_sockets", ...). */
  protected requestTypeName(type: number): string {
    return String(type);
  }

  private publishRequest(
    id: string,
    request: PendingRequest,
    outcome: AdapterRequestOutcome,
  ): void {
    if (!channels.adapterRequest.hasSubscribers) return;
    channels.adapterRequest.publish({
      adapter: this,
      namespace: this.nsp.name,
      type: this.requestTypeName(request.type),
      requestId: id,
      expected: request.expected,
      received: request.received,
      durationMs: performance.now() - request.startedAt,
      outcome,
    });
  }

  /**
   * Hands an answer to its pending request; unknown ids (and, where the protocol tells the type of an answer,
   * answers of another type) are ignored. The last expected answer completes the request; for a request
   * waiting for named nodes, that is the answer of the last of them (`from`, the answering node's uid).
   */
  protected takeAnswer(requestId: string, answer: unknown, ofType?: number, from?: string): void {
    const request = this.requests.get(requestId);
    if (!request || (ofType !== undefined && request.type !== ofType)) return;
    request.received++;
    request.collector.take(answer);
    const complete = request.waitingFor
      ? from !== undefined && request.waitingFor.delete(from) && request.waitingFor.size === 0
      : request.received >= request.expected;
    if (complete) this.completeRequest(requestId, request);
  }

  private completeRequest(requestId: string, request: PendingRequest): void {
    clearTimeout(request.timer);
    this.requests.delete(requestId);
    if (request.startedAt !== 0) this.publishRequest(requestId, request, "complete");
    request.collector.done(null);
  }

  /**
   * Ends the pending request `requestId` at once, as its timeout would (a RequestTimeoutError holding the
   * answers so far, with `reason` for message): its message could not be sent, no answer will come.
   */
  protected endRequest(requestId: string, reason: string): void {
    const request = this.requests.get(requestId);
    if (!request) return;
    clearTimeout(request.timer);
    this.requests.delete(requestId);
    if (request.startedAt !== 0) this.publishRequest(requestId, request, "aborted");
    request.collector.done(new RequestTimeoutError(reason, request.collector.answers()));
  }

  /**
   * A node went away: the requests waiting for it stop doing so, and those it was the last to owe an answer to
   * complete at once with the answers received so far.
   */
  protected forgetAnswerer(uid: string): void {
    for (const [id, request] of this.requests) {
      if (request.waitingFor?.delete(uid) && request.waitingFor.size === 0)
        this.completeRequest(id, request);
    }
  }

  /**
   * Whether any answer could still be taken: a pending request or the handlers of a broadcast with acks. When
   * none, an answer heard on a channel shared by every node is someone else's and need not be decoded.
   */
  protected awaitsAnswers(): boolean {
    return this.requests.size > 0 || this.ackRequests.size > 0;
  }

  /** Whether `requestId` is one of this node's pending requests (a node does not answer its own). */
  protected isPendingRequest(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  /**
   * serverSideEmit with an ack, the same in every protocol: the ack gets an error at once when the number of
   * nodes cannot be had, an empty list when there is no other node, else what `ask` collects from them.
   */
  protected emitWithAck(
    ack: ServerSideEmitAck,
    ask: (expected: ExpectedAnswers, collector: AnswerCollector) => void,
  ): void {
    void this.expectedAnswers(this.requestsTimeout).then((expected) => {
      if (expected === undefined) {
        ack(new RequestTimeoutError(AdapterErrorMessage.UNKNOWN_SERVER_COUNT, []), []);
        return;
      }
      if (expectedCount(expected) <= 0) {
        ack(null, []);
        return;
      }
      const responses: unknown[] = [];
      ask(expected, {
        take: (answer) => responses.push(answer),
        answers: () => responses,
        done: (err) => ack(err, responses),
      });
    });
  }

  /** Keeps the handlers of a broadcast with acks sent to other nodes, for their client counts and acks. */
  protected rememberAckHandlers(
    requestId: string,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
    timeout: number,
  ): void {
    this.ackRequests.set(requestId, { clientCountCallback, ack });
    // whether every client answered is only known above the adapter: forget the handlers after the timeout
    const timer = setTimeout(() => this.ackRequests.delete(requestId), timeout);
    timer.unref?.();
  }

  protected ackHandlers(requestId: string): AckRequest | undefined {
    return this.ackRequests.get(requestId);
  }

  /** Fails the pending requests (their callers get an error with what came so far). */
  protected abortRequests(reason: string): void {
    for (const [id, request] of this.requests) {
      clearTimeout(request.timer);
      this.requests.delete(id);
      if (request.startedAt !== 0) this.publishRequest(id, request, "aborted");
      request.collector.done(new RequestTimeoutError(reason, request.collector.answers()));
    }
    this.ackRequests.clear();
  }
}
