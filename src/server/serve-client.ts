// Serves the official browser client bundles (the `serveClient` option) from the installed
// `socket.io-client` package, the way socket.io does: `<path>/socket.io.js` and its siblings.
//
// Each file is read once, on its first request, and kept in memory together with its gzip and
// brotli encodings (each made once, on the first request that asks for it). Responses carry an
// ETag (the client version, as socket.io sends it), so browsers revalidate with `If-None-Match`
// and get a bodiless 304.
import * as fs from "node:fs";
import type * as http from "node:http";
import * as nodePath from "node:path";
import * as zlib from "node:zlib";
import debugModule from "debug";
import { negotiateEncoding } from "../util/accept-encoding";

const debug = debugModule("switchyard:serve-client");

/** The bundles socket.io-client 4.x ships in its `dist/` folder. */
const BUNDLE_NAMES = [
  "socket.io.js",
  "socket.io.min.js",
  "socket.io.esm.min.js",
  "socket.io.msgpack.min.js",
] as const;

const JS_TYPE = "application/javascript; charset=utf-8";
const MAP_TYPE = "application/json; charset=utf-8"; // as socket.io sends it
const CACHE_CONTROL = "public, max-age=0";

type Encoding = "br" | "gzip" | "deflate" | "identity";

/** One servable file: its bytes, loaded on demand, and the encodings made from them. */
interface ClientFile {
  readonly fullPath: string;
  readonly contentType: string;
  bytes?: Promise<Buffer>;
  gzip?: Promise<Buffer>;
  deflate?: Promise<Buffer>;
  br?: Promise<Buffer>;
}

interface ClientDist {
  readonly dir: string;
  readonly etag: string;
  /** File name (e.g. "socket.io.min.js.map") to its cache entry; only files that exist. */
  readonly files: Map<string, ClientFile>;
}

let dist: ClientDist | undefined;

/** Finds the client's dist/ folder and the files it holds (once per process). */
function loadDist(): ClientDist {
  if (dist !== undefined) return dist;
  // The package's exports map only exposes package.json and socket.io.js, so resolve the package
  // root through package.json and list dist/ from there.
  const pkgFile = require.resolve("socket.io-client/package.json");
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { version?: unknown };
  const version = typeof pkg.version === "string" ? pkg.version : "0.0.0";
  const dir = nodePath.join(nodePath.dirname(pkgFile), "dist");
  const files = new Map<string, ClientFile>();
  for (const bundle of BUNDLE_NAMES) {
    for (const [name, contentType] of [
      [bundle, JS_TYPE],
      [`${bundle}.map`, MAP_TYPE],
    ] as const) {
      const fullPath = nodePath.join(dir, name);
      if (fs.existsSync(fullPath)) files.set(name, { fullPath, contentType });
    }
  }
  debug("client %s bundles in %s: %o", version, dir, [...files.keys()]);
  dist = { dir, etag: `"${version}"`, files };
  return dist;
}

function gzipAsync(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.gzip(input, { level: zlib.constants.Z_BEST_COMPRESSION }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
}

function deflateAsync(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.deflate(input, { level: zlib.constants.Z_BEST_COMPRESSION }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
}

function brotliAsync(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const params = {
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length,
    };
    zlib.brotliCompress(input, { params }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/** The body of `file` in `encoding`, computed on first use and cached (a failure is not cached). */
function body(file: ClientFile, encoding: Encoding): Promise<Buffer> {
  if (file.bytes === undefined) {
    file.bytes = fs.promises.readFile(file.fullPath);
    file.bytes.catch(() => (file.bytes = undefined));
  }
  const bytes = file.bytes;
  if (encoding === "identity") return bytes;
  let encoded = file[encoding];
  if (encoded === undefined) {
    encoded = bytes.then(
      encoding === "br" ? brotliAsync : encoding === "gzip" ? gzipAsync : deflateAsync,
    );
    file[encoding] = encoded;
    encoded.catch(() => (file[encoding] = undefined));
  }
  return encoded;
}

/** The codings the bundles are served in, in socket.io 4.8's order of preference. */
const BUNDLE_CODINGS = ["br", "gzip", "deflate"] as const;

/** Picks the response encoding from an Accept-Encoding header (src/util/accept-encoding.ts). */
export function chooseEncoding(header: string | undefined): Encoding {
  return negotiateEncoding(header, BUNDLE_CODINGS) ?? "identity";
}

/** True when an If-None-Match header (a list, maybe weak, maybe `*`) matches `etag`. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  for (const raw of header.split(",")) {
    const tag = raw.trim();
    if (tag === "*" || tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}

function fileNameFor(url: string | undefined, prefix: string): string | undefined {
  if (url === undefined || !url.startsWith(prefix)) return undefined;
  const query = url.indexOf("?", prefix.length);
  return query === -1 ? url.slice(prefix.length) : url.slice(prefix.length, query);
}

/**
 * Returns a request handler for the client bundles under the Socket.IO `path` (no trailing
 * slash, e.g. "/socket.io"). The handler answers GET and HEAD requests for
 * `<path>/socket.io.js`, `socket.io.min.js`, `socket.io.esm.min.js`, `socket.io.msgpack.min.js`
 * (when the installed client ships it) and their `.map` files, then returns true; for any other
 * request it writes nothing and returns false, so the caller passes the request on.
 */
/** A connect-style middleware (the `cors` package's): calls `next` to let the request through. */
export type RequestMiddleware = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * `corsMiddleware`: the server's `cors` option as middleware; it runs before a bundle is served, so pages on another
 * origin can load it (socket.io does the same).
 */
export function createClientHandler(
  path: string,
  corsMiddleware?: RequestMiddleware,
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const prefix = `${path}/`;
  return function serveClient(req, res) {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const name = fileNameFor(req.url, prefix);
    if (name === undefined) return false;
    const { etag, files } = loadDist();
    const file = files.get(name);
    if (file === undefined) return false;
    if (corsMiddleware === undefined) serveFile(req, res, name, file, etag);
    else corsMiddleware(req, res, () => serveFile(req, res, name, file, etag));
    return true;
  };
}

function serveFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  name: string,
  file: ClientFile,
  etag: string,
): void {
  res.setHeader("Cache-Control", CACHE_CONTROL);
  res.setHeader("ETag", etag);
  // after the cors middleware's "Vary: Origin", when it ran
  const vary = res.getHeader("Vary");
  res.setHeader(
    "Vary",
    vary === undefined ? "Accept-Encoding" : `${String(vary)}, Accept-Encoding`,
  );
  if (etagMatches(req.headers["if-none-match"], etag)) {
    debug("%s not modified", name);
    res.writeHead(304);
    res.end();
    return;
  }

  const encoding = chooseEncoding(req.headers["accept-encoding"]);
  body(file, encoding).then(
    (data) => {
      if (res.destroyed) return;
      res.setHeader("Content-Type", file.contentType);
      res.setHeader("Content-Length", data.length);
      if (encoding !== "identity") res.setHeader("Content-Encoding", encoding);
      res.writeHead(200);
      res.end(req.method === "HEAD" ? undefined : data);
    },
    (err: unknown) => {
      debug("cannot serve %s: %O", name, err);
      if (res.headersSent || res.destroyed) return;
      res.removeHeader("ETag");
      res.removeHeader("Cache-Control");
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(`Cannot read the client bundle ${name}\n`);
    },
  );
}
