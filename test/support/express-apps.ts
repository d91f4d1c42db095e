/**
 * socket.io's own example applications for engine middlewares, written as its documentation writes them
 * (examples/express-session-example and examples/passport-example): express-session and passport, shared
 * between Express and `io.engine.use()`. Installed on an HTTP server the Socket.IO server is already attached to.
 */
import type { IncomingMessage, Server as HttpServer } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import type { Server } from "../../src";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    /** passport's `req.user`: this application's user */
    interface User {
      id: number;
      username: string;
    }
  }
}

/** Sends every request outside the Socket.IO path to `app` (the engine answers the others). */
function mount(httpServer: HttpServer, app: express.Express): void {
  httpServer.on("request", (req: IncomingMessage, res) => {
    if (!(req.url ?? "").startsWith("/socket.io/")) app(req, res);
  });
}

function newSession(): express.RequestHandler {
  return session({ secret: "changeit", resave: true, saveUninitialized: true });
}

/**
 * The express-session example: one session middleware for Express and the engine; a socket joins the room of
 * its session. `GET /session` answers the session id of the cookie it gets.
 */
export function installSessionExample(io: Server, httpServer: HttpServer): void {
  const sessionMiddleware = newSession();
  const app = express();
  app.use(sessionMiddleware);
  app.get("/session", (req, res) => {
    res.send(req.session.id);
  });
  mount(httpServer, app);
  io.engine.use(sessionMiddleware);
  io.on("connection", (socket) => {
    const req = socket.request as Request;
    void socket.join(req.session.id);
    socket.on("session", (cb: (id: string) => void) => cb(req.session.id));
  });
}

/**
 * The passport example: `POST /login` (john / changeit) logs in; the engine runs the session, passport and a
 * 401 answer for anonymous users on the handshake request only (`req._query.sid === undefined`).
 */
export function installPassportExample(io: Server, httpServer: HttpServer): void {
  const sessionMiddleware = newSession();
  // a Passport of its own, so that two applications in one process do not share strategies
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      if (username === "john" && password === "changeit") done(null, { id: 1, username });
      else done(null, false);
    }),
  );
  passport.serializeUser((user, cb) => cb(null, user));
  passport.deserializeUser((user: Express.User, cb) => cb(null, user));

  const app = express();
  app.use(sessionMiddleware);
  app.use(express.urlencoded({ extended: false }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.post(
    "/login",
    passport.authenticate("local", { successRedirect: "/", failureRedirect: "/" }),
  );
  mount(httpServer, app);

  function onlyForHandshake(middleware: (req: Request, res: Response, next: NextFunction) => void) {
    return (
      req: Request & { _query: Record<string, string> },
      res: Response,
      next: NextFunction,
    ) => {
      const isHandshake = req._query.sid === undefined;
      if (isHandshake) middleware(req, res, next);
      else next();
    };
  }
  io.engine.use(onlyForHandshake(sessionMiddleware));
  io.engine.use(onlyForHandshake(passport.session()));
  io.engine.use(
    onlyForHandshake((req, res, next) => {
      if (req.user) {
        next();
      } else {
        res.writeHead(401);
        res.end();
      }
    }),
  );
  io.on("connection", (socket) => {
    const req = socket.request as Request;
    void socket.join(`user:${req.user!.id}`);
    socket.on("whoami", (cb: (name: string) => void) => cb(req.user!.username));
  });
}

/** Logs john in (as a browser form would) and returns the session cookie (`name=value`). */
export async function login(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "username=john&password=changeit",
    redirect: "manual",
  });
  const cookie = res.headers.getSetCookie()[0];
  if (res.status !== 302 || cookie === undefined) throw new Error(`login failed: ${res.status}`);
  return cookie.split(";")[0]!;
}
