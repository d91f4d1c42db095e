/**
 * Engine middlewares (`engine.use((req, res, next) => ...)`, Express style) run on every engine request,
 * WebSocket upgrades included. For an upgrade, `res` is an {@link UpgradeResponse}: it collects the headers the
 * middlewares set, which are added to the 101 response; ending it destroys the connection.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { runMiddlewares as runEach } from "../util/middleware";
import { parseQuery } from "../util/query";

/**
 * An engine middleware. Declared through a method so that its parameters are compared bivariantly: Express
 * handlers typed `(req: Request, res: Response, next: NextFunction)` (express-session, passport) are accepted,
 * as engine.io's `use(fn: any)` accepts them, while an inline `(req, res, next) => ...` still gets these types.
 */
export type Middleware = {
  bivarianceHack(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): unknown;
}["bivarianceHack"];

/** A request as engine middlewares see it: engine.io's parsed query is on it (`req._query.sid`...). */
export interface MiddlewareRequest extends IncomingMessage {
  _query?: Record<string, string>;
}

/** Runs the middlewares in order (the shared runner); `done(err)` once all called next() or one failed. */
export function runMiddlewares(
  middlewares: readonly Middleware[],
  req: IncomingMessage,
  res: ServerResponse,
  done: (err?: unknown) => void,
): void {
  // as engine.io does before its middlewares (only then: a request no middleware sees is not patched); one
  // already there (set by connect or an outer framework) is kept
  const request = req as MiddlewareRequest;
  request._query ??= parseQuery(req.url);
  runEach(middlewares, (middleware, next) => middleware(req, res, next), done);
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

  /**
   * Called once the upgrade is accepted, just before the 101 (as engine.io does): hooks on it (`on-headers`,
   * which express-session uses to set its cookie) add their headers then.
   */
  writeHead(statusCode?: number): this {
    if (typeof statusCode === "number") this.statusCode = statusCode;
    this.headersSent = true;
    return this;
  }

  /** Node's name for "the headers are written" (express-session's `end` reads it). */
  get _header(): boolean {
    return this.headersSent;
  }

  /** Node's internal "write the headers now", which express-session's `end` calls. */
  _implicitHeader(): void {
    this.writeHead(this.statusCode);
  }

  end(): this {
    this.writableEnded = true;
    this.emit("finish");
    // the WebSocket client sees the connection fail
    this.socket.destroy();
    return this;
  }
}
