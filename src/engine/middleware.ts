/**
 * Engine middlewares (`engine.use((req, res, next) => ...)`, Express style) run on every engine request,
 * WebSocket upgrades included. For an upgrade, `res` is an {@link UpgradeResponse}: it collects the headers the
 * middlewares set, which are added to the 101 response; ending it destroys the connection.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import createDebug from "debug";
import { EngineErrorMessages } from "./errors";

const debug = createDebug("switchyard:engine:middleware");

export type Middleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void | Promise<void>;

/** Runs the middlewares in order; `done(err)` once all called next() or one failed. */
export function runMiddlewares(
  middlewares: readonly Middleware[],
  req: IncomingMessage,
  res: ServerResponse,
  done: (err?: unknown) => void,
): void {
  let index = 0;
  const step = (): void => {
    const middleware = middlewares[index++];
    if (middleware === undefined) {
      done();
      return;
    }
    let settled = false;
    const next = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err) done(err);
      else step();
    };
    try {
      const result = middleware(req, res, next);
      if (result && typeof result.then === "function") result.then(undefined, next);
    } catch (err) {
      debug("middleware threw: %s", (err as Error)?.message);
      next(err ?? new Error(EngineErrorMessages.MIDDLEWARE_FAILURE));
    }
  };
  step();
}

/** The `res` given to middlewares during a WebSocket upgrade. */
export class UpgradeResponse extends EventEmitter {
  statusCode = 200;
  statusMessage = "";
  headersSent = false;
  writableEnded = false;
  /** The headers set by middlewares, added to the 101 response. */
  readonly headers: Record<string, string | number | string[]> = {};

  private readonly forwardClose: () => void;

  constructor(
    readonly req: IncomingMessage,
    readonly socket: Duplex,
  ) {
    super();
    // some middlewares (pino-http...) wait for "close" to know the response is done
    this.forwardClose = () => this.emit("close");
    socket.once("close", this.forwardClose);
  }

  /**
   * @internal Once the upgrade is answered: stops forwarding the socket's "close" when nobody listens for it,
   * so that the connection does not keep this object alive.
   */
  detachIfUnobserved(): void {
    if (this.listenerCount("close") === 0) this.socket.removeListener("close", this.forwardClose);
  }

  setHeader(name: string, value: string | number | string[]): this {
    this.headers[name] = value;
    return this;
  }

  getHeader(name: string): string | number | string[] | undefined {
    return this.headers[name];
  }

  getHeaders(): Record<string, string | number | string[]> {
    return { ...this.headers };
  }

  hasHeader(name: string): boolean {
    return name in this.headers;
  }

  removeHeader(name: string): void {
    delete this.headers[name];
  }

  write(): boolean {
    return true;
  }

  writeHead(): this {
    return this;
  }

  end(): this {
    this.writableEnded = true;
    this.emit("finish");
    // the WebSocket client sees the connection fail
    this.socket.destroy();
    return this;
  }
}
