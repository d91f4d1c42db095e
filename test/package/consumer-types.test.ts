// TypeScript applications as consumers build them: the package as `npm pack` makes it, installed into a fixture
// application in a temporary directory, compiled with `strict` (and no skipLibCheck) under `module: NodeNext`
// and `module: commonjs`. Installing is done without the registry, and fast: the tarball is unpacked into the
// fixture's node_modules, and the packages it declares (and theirs, transitively) are linked from this
// repository's node_modules, as `npm install <tarball>` would install them. A type package the published
// declarations need but the package does not declare is therefore missing, as it would be for a user.
//   - the minimal fixture has nothing else: no @types of its own (an app's @types/express or @types/cors
//     would hide a missing one);
//   - the Express fixture is socket.io's passport example (express-session, passport, cors and their @types):
//     `io.engine.use(sessionMiddleware)` and the other lines socket.io's documentation gives must type-check.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";

const root = join(__dirname, "..", "..");
const modules = join(root, "node_modules");
const tsc = join(modules, "typescript", "bin", "tsc");
let work: string;
let tarball: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), "switchyard-consumer-"));
  if (!existsSync(join(root, "dist", "index.d.ts"))) {
    execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")]);
  }
  // the package as published: files, exports and dependencies of package.json (dist is built by `npm test`)
  const out = execFileSync(
    "npm",
    ["pack", "--ignore-scripts", "--silent", "--pack-destination", work],
    { cwd: root, encoding: "utf8" },
  );
  tarball = join(work, out.trim().split("\n").pop()!);
});

after(() => rmSync(work, { recursive: true, force: true }));

/** Links `name` from this repository's node_modules into `nodeModules`, then what it depends on. */
function linkWithDependencies(nodeModules: string, name: string): void {
  const target = join(nodeModules, name);
  if (existsSync(target)) return;
  const source = join(modules, name);
  assert.ok(existsSync(source), `${name} is not installed in this repository`);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(source, target, "dir");
  linkDependencies(nodeModules, join(source, "package.json"));
}

function linkDependencies(nodeModules: string, packageJson: string): void {
  const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    // a dependency nested under its dependent travels with the link of the dependent
    if (existsSync(join(dirname(packageJson), "node_modules", dep))) continue;
    linkWithDependencies(nodeModules, dep);
  }
}

/** A fixture application: the packed package, what it declares, `extra` packages, and its sources. */
function fixture(name: string, extra: string[], files: Record<string, string>): string {
  const dir = join(work, name);
  const nodeModules = join(dir, "node_modules");
  const pkgDir = join(nodeModules, "switchyard");
  mkdirSync(pkgDir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", pkgDir, "--strip-components=1"]);
  linkDependencies(nodeModules, join(pkgDir, "package.json"));
  for (const pkg of ["typescript", ...extra]) linkWithDependencies(nodeModules, pkg);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/**
 * Compiles the fixture's files (no emit) with `strict`, a Node application's lib (no DOM) and
 * `compilerOptions`; resolves with the compiler's output when it fails, "" when it passes.
 */
function compile(
  dir: string,
  config: string,
  files: string[],
  compilerOptions: Record<string, unknown>,
): Promise<string> {
  writeFileSync(
    join(dir, config),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        lib: ["ES2022"],
        ...compilerOptions,
      },
      files,
    }),
  );
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, "-p", join(dir, config)], (err, stdout) =>
      resolve(err ? stdout || String(err) : ""),
    );
  });
}

const NODENEXT = { module: "NodeNext", moduleResolution: "NodeNext" };
const COMMONJS = { module: "commonjs", moduleResolution: "node10", esModuleInterop: true };

test("a minimal strict application: the published types need only what the package declares", async () => {
  const dir = fixture("minimal", [], {
    "package.json": JSON.stringify({ name: "minimal", private: true }),
    "app.ts": `
import { createServer } from "node:http";
import { Server, type Socket } from "switchyard";
import { Server as Engine } from "switchyard/engine";
import { createAdapter } from "switchyard/redis-adapter";

interface ServerToClient { hello: (name: string) => void }
const httpServer = createServer();
const io = new Server<{}, ServerToClient>(httpServer, { cors: { origin: "*" } });
io.engine.use((req, res, next) => {
  res.setHeader("x-url", req.url ?? "");
  next();
});
io.on("connection", (socket: Socket<{}, ServerToClient>) => socket.emit("hello", socket.id));
export const engine = new Engine({ pingInterval: 1000 });
export const adapterFactory: typeof createAdapter = createAdapter;
`,
  });
  // the published declarations themselves are checked (no skipLibCheck): a missing type package is TS7016
  assert.equal(await compile(dir, "tsconfig.json", ["app.ts"], NODENEXT), "");
});

test("socket.io's passport example (express-session, passport, cors) compiles unchanged", async () => {
  const app = `
import { createServer } from "node:http";
import express, { type Request, type Response, type NextFunction } from "express";
import session from "express-session";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import cors from "cors";
import { Server, type Socket } from "switchyard";

declare global {
  namespace Express {
    interface User { id: number; username: string }
  }
}

const app = express();
const httpServer = createServer(app);
const sessionMiddleware = session({ secret: "changeit", resave: true, saveUninitialized: true });
app.use(cors());
app.use(sessionMiddleware);
app.use(express.urlencoded({ extended: false }));
app.use(passport.initialize());
app.use(passport.session());
passport.use(new LocalStrategy((username, password, done) => {
  if (username === "john" && password === "changeit") return done(null, { id: 1, username });
  return done(null, false);
}));
passport.serializeUser((user, cb) => cb(null, user));
passport.deserializeUser((user: Express.User, cb) => cb(null, user));

const io = new Server(httpServer, { cors: { origin: "http://localhost:3000", credentials: true } });

function onlyForHandshake(middleware: (req: Request, res: Response, next: any) => void) {
  return (req: Request & { _query: Record<string, string> }, res: Response, next: (err?: Error) => void) => {
    const isHandshake = req._query.sid === undefined;
    if (isHandshake) middleware(req, res, next);
    else next();
  };
}

io.engine.use(sessionMiddleware);
io.engine.use(onlyForHandshake(sessionMiddleware));
io.engine.use(onlyForHandshake(passport.session()));
io.engine.use(onlyForHandshake((req, res, next) => {
  if (req.user) next();
  else {
    res.writeHead(401);
    res.end();
  }
}));
io.engine.use((req: Request, res: Response, next: NextFunction) => next());
io.engine.use(cors({ origin: "*" }));

io.on("connection", (socket: Socket) => {
  const req = socket.request as Request;
  socket.join(\`session:\${req.session.id}\`);
  socket.join(\`user:\${req.user!.id}\`);
  socket.on("whoami", (cb: (name: string) => void) => cb(req.user!.username));
});
httpServer.listen(3000);
`;
  const dir = fixture(
    "express",
    [
      "express",
      "express-session",
      "passport",
      "passport-local",
      "cors",
      "@types/express",
      "@types/express-session",
      "@types/passport",
      "@types/passport-local",
      "@types/cors",
    ],
    {
      "package.json": JSON.stringify({ name: "express-app", private: true }),
      "app.ts": app,
      // the same application as an ES module
      "app-esm.mts": app,
    },
  );
  // the declarations were checked by the minimal fixture; here the application's own code is what counts. The
  // two compilers run at once (the machine has two cores).
  const [nodeNext, commonjs] = await Promise.all([
    compile(dir, "tsconfig.nodenext.json", ["app.ts", "app-esm.mts"], {
      ...NODENEXT,
      skipLibCheck: true,
    }),
    compile(dir, "tsconfig.commonjs.json", ["app.ts"], { ...COMMONJS, skipLibCheck: true }),
  ]);
  assert.equal(nodeNext, "", "module NodeNext");
  assert.equal(commonjs, "", "module commonjs");
});
