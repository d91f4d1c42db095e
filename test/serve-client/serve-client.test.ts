// The client bundle handler mounted alone on a plain http.Server: every file, its headers,
// revalidation with ETag, compression, and the requests it must leave to the next handler.
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { chooseEncoding, createClientHandler } from "../../src/server/serve-client";
import { request, type RawResponse } from "./support";

const clientPkgFile = require.resolve("socket.io-client/package.json");
const clientDir = path.join(path.dirname(clientPkgFile), "dist");
const clientVersion = (JSON.parse(fs.readFileSync(clientPkgFile, "utf8")) as { version: string })
  .version;
const distFiles = fs.readdirSync(clientDir).sort();

const FALLTHROUGH = "not a bundle";

/** Mounts the handler like Server.attach will: first, and the rest only when it declines. */
async function startServer(ioPath: string): Promise<{ port: number; close: () => Promise<void> }> {
  const handle = createClientHandler(ioPath);
  const server = http.createServer((req, res) => {
    if (handle(req, res)) return;
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end(FALLTHROUGH);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function assertBundleHeaders(res: RawResponse, name: string): void {
  assert.equal(res.status, 200, name);
  const type = name.endsWith(".map")
    ? "application/json; charset=utf-8"
    : "application/javascript; charset=utf-8";
  assert.equal(res.headers["content-type"], type, name);
  assert.equal(res.headers["etag"], `"${clientVersion}"`, name);
  assert.equal(res.headers["cache-control"], "public, max-age=0", name);
  assert.equal(res.headers["vary"], "Accept-Encoding", name);
}

describe("client bundles on a plain http.Server", () => {
  let port = 0;
  let close: () => Promise<void> = async () => {};

  before(async () => {
    ({ port, close } = await startServer("/socket.io"));
  });
  after(() => close());

  test("the installed client ships the four bundles and their maps", () => {
    assert.deepEqual(distFiles, [
      "socket.io.esm.min.js",
      "socket.io.esm.min.js.map",
      "socket.io.js",
      "socket.io.js.map",
      "socket.io.min.js",
      "socket.io.min.js.map",
      "socket.io.msgpack.min.js",
      "socket.io.msgpack.min.js.map",
    ]);
  });

  for (const name of distFiles) {
    test(`GET /socket.io/${name} returns the file with its headers`, async () => {
      const expected = fs.readFileSync(path.join(clientDir, name));
      const res = await request(port, `/socket.io/${name}`);
      assertBundleHeaders(res, name);
      assert.equal(res.headers["content-encoding"], undefined);
      assert.equal(res.headers["content-length"], String(expected.length));
      assert.ok(res.body.equals(expected), `${name} body differs from the file`);
    });

    test(`/socket.io/${name} gzip and br bodies decompress to the file`, async () => {
      const expected = fs.readFileSync(path.join(clientDir, name));
      const gz = await request(port, `/socket.io/${name}`, { "Accept-Encoding": "gzip" });
      assertBundleHeaders(gz, name);
      assert.equal(gz.headers["content-encoding"], "gzip");
      assert.equal(gz.headers["content-length"], String(gz.body.length));
      assert.ok(gz.body.length < expected.length, "gzip body is smaller");
      assert.ok(zlib.gunzipSync(gz.body).equals(expected));

      const br = await request(port, `/socket.io/${name}`, { "Accept-Encoding": "br, gzip" });
      assertBundleHeaders(br, name);
      assert.equal(br.headers["content-encoding"], "br");
      assert.equal(br.headers["content-length"], String(br.body.length));
      assert.ok(zlib.brotliDecompressSync(br.body).equals(expected));
    });
  }

  test("a query string after the file name is ignored", async () => {
    const expected = fs.readFileSync(path.join(clientDir, "socket.io.min.js"));
    const res = await request(port, "/socket.io/socket.io.min.js?v=4.8.4&x=1");
    assertBundleHeaders(res, "socket.io.min.js");
    assert.ok(res.body.equals(expected));
  });

  test("If-None-Match with the ETag (strong, weak or in a list) gets a bodiless 304", async () => {
    const etag = `"${clientVersion}"`;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await request(port, "/socket.io/socket.io.js", {
        "If-None-Match": ifNoneMatch,
        "Accept-Encoding": "br",
      });
      assert.equal(res.status, 304, ifNoneMatch);
      assert.equal(res.headers["etag"], etag);
      assert.equal(res.headers["cache-control"], "public, max-age=0");
      assert.equal(res.body.length, 0);
      assert.equal(res.headers["content-encoding"], undefined);
    }
  });

  test("If-None-Match with another ETag gets the full file", async () => {
    const res = await request(port, "/socket.io/socket.io.js", { "If-None-Match": '"4.0.0"' });
    assertBundleHeaders(res, "socket.io.js");
    assert.ok(res.body.equals(fs.readFileSync(path.join(clientDir, "socket.io.js"))));
  });

  test("HEAD answers the headers of GET without a body", async () => {
    const get = await request(port, "/socket.io/socket.io.js", { "Accept-Encoding": "gzip" });
    const head = await request(
      port,
      "/socket.io/socket.io.js",
      { "Accept-Encoding": "gzip" },
      "HEAD",
    );
    assertBundleHeaders(head, "socket.io.js");
    assert.equal(head.headers["content-encoding"], "gzip");
    assert.equal(head.headers["content-length"], get.headers["content-length"]);
    assert.equal(head.body.length, 0);
  });

  test("Accept-Encoding preferences and q=0 are honoured", async () => {
    const cases: [string, string | undefined][] = [
      ["br;q=0, gzip", "gzip"],
      ["gzip;q=0.5, br;q=0.2", "gzip"],
      ["identity", undefined],
      ["*", "br"],
      ["*, br;q=0", "gzip"],
      ["deflate", "deflate"],
      ["deflate, gzip", "deflate"],
      // as socket.io negotiates (accepts): the first listed at equal weight, x-gzip is not gzip,
      // an unreadable weight refuses
      ["gzip, br", "gzip"],
      ["x-gzip", undefined],
      ["br;q=abc, gzip", "gzip"],
    ];
    for (const [acceptEncoding, expected] of cases) {
      const res = await request(port, "/socket.io/socket.io.esm.min.js", {
        "Accept-Encoding": acceptEncoding,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-encoding"], expected, acceptEncoding);
    }
    assert.equal(chooseEncoding(undefined), "identity");
    assert.equal(chooseEncoding("gzip;q=0, br;q=0"), "identity");
  });

  test("concurrent first requests all get the same bytes", async () => {
    const expected = fs.readFileSync(path.join(clientDir, "socket.io.msgpack.min.js.map"));
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        request(port, "/socket.io/socket.io.msgpack.min.js.map", { "Accept-Encoding": "br" }),
      ),
    );
    for (const res of responses) {
      assert.equal(res.status, 200);
      assert.ok(zlib.brotliDecompressSync(res.body).equals(expected));
    }
  });

  test("other requests under the path are left to the next handler", async () => {
    const declined: [string, string][] = [
      ["GET", "/socket.io/"],
      ["GET", "/socket.io/?EIO=4&transport=polling"],
      ["GET", "/socket.io/socket.io.msgpack.js"],
      ["GET", "/socket.io/socket.io.esm.js"],
      ["GET", "/socket.io/socket.io.js/extra"],
      ["GET", "/socket.io/../package.json"],
      ["GET", "/socket.io/%2e%2e/package.json"],
      ["GET", "/socket.io/socket.io.js.gz"],
      ["GET", "/socket.io/client-dist/socket.io.js"],
      ["GET", "/socket.io.js"],
      ["GET", "/socket.iosocket.io.js"],
      ["GET", "/other/socket.io.js"],
      ["POST", "/socket.io/socket.io.js"],
      ["OPTIONS", "/socket.io/socket.io.js"],
    ];
    for (const [method, url] of declined) {
      const res = await request(port, url, {}, method);
      assert.equal(res.status, 404, `${method} ${url}`);
      assert.equal(res.body.toString(), FALLTHROUGH, `${method} ${url}`);
      assert.equal(res.headers["etag"], undefined, `${method} ${url}`);
    }
  });
});

describe("client bundles under a custom path", () => {
  let port = 0;
  let close: () => Promise<void> = async () => {};

  before(async () => {
    ({ port, close } = await startServer("/my/realtime"));
  });
  after(() => close());

  test("the files are served under the path and not under /socket.io", async () => {
    const res = await request(port, "/my/realtime/socket.io.js");
    assertBundleHeaders(res, "socket.io.js");
    assert.ok(res.body.equals(fs.readFileSync(path.join(clientDir, "socket.io.js"))));

    const elsewhere = await request(port, "/socket.io/socket.io.js");
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.body.toString(), FALLTHROUGH);
  });
});
