// The client bundles through `new Server(httpServer)`: served by default next to the engine and the
// application's own request listener, under a custom path, not at all with `serveClient: false`,
// and with the same status and headers as socket.io 4.8 serves them.
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { Server as SocketIoServer } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { Server, type ServerOptions } from "../../src/index";
import { request } from "./support";

const clientPkgFile = require.resolve("socket.io-client/package.json");
const clientDir = path.join(path.dirname(clientPkgFile), "dist");
const clientVersion = (JSON.parse(fs.readFileSync(clientPkgFile, "utf8")) as { version: string })
  .version;
const distFiles = fs.readdirSync(clientDir).sort();
const APP_BODY = "the application's own handler";

interface Running {
  port: number;
  close: () => Promise<void>;
}

/** An http.Server with an application handler, and a Switchyard Server attached to it. */
async function startSwitchyard(
  opts: Partial<ServerOptions> = {},
): Promise<Running & { io: Server }> {
  const httpServer = http.createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(APP_BODY);
  });
  const io = new Server(httpServer, opts);
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return {
    io,
    port: (httpServer.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        io.close(() => resolve());
      }),
  };
}

async function clientConnects(port: number, ioPath: string, transports: string[]): Promise<void> {
  const socket: ClientSocket = connect(`http://127.0.0.1:${port}`, {
    path: ioPath,
    transports,
    reconnection: false,
    forceNew: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
  } finally {
    socket.disconnect();
  }
}

describe("serveClient through new Server(httpServer)", () => {
  let server: Running & { io: Server };

  before(async () => {
    server = await startSwitchyard();
  });
  after(() => server.close());

  test("serveClient defaults to true", () => {
    assert.equal(server.io.serveClient(), true);
  });

  for (const name of distFiles) {
    test(`/socket.io/${name} is served, revalidated and compressed`, async () => {
      const expected = fs.readFileSync(path.join(clientDir, name));
      const plain = await request(server.port, `/socket.io/${name}?t=1`);
      assert.equal(plain.status, 200);
      assert.equal(
        plain.headers["content-type"],
        name.endsWith(".map")
          ? "application/json; charset=utf-8"
          : "application/javascript; charset=utf-8",
      );
      assert.equal(plain.headers["etag"], `"${clientVersion}"`);
      assert.equal(plain.headers["cache-control"], "public, max-age=0");
      assert.ok(plain.body.equals(expected));

      const br = await request(server.port, `/socket.io/${name}`, { "Accept-Encoding": "br" });
      assert.equal(br.headers["content-encoding"], "br");
      assert.ok(zlib.brotliDecompressSync(br.body).equals(expected));
      const gzip = await request(server.port, `/socket.io/${name}`, { "Accept-Encoding": "gzip" });
      assert.equal(gzip.headers["content-encoding"], "gzip");
      assert.ok(zlib.gunzipSync(gzip.body).equals(expected));

      const cached = await request(server.port, `/socket.io/${name}`, {
        "If-None-Match": `"${clientVersion}"`,
      });
      assert.equal(cached.status, 304);
      assert.equal(cached.body.length, 0);
    });
  }

  test("other requests under the path reach the engine, others the application", async () => {
    const handshake = await request(server.port, "/socket.io/?EIO=4&transport=polling");
    assert.equal(handshake.status, 200);
    assert.match(handshake.body.toString(), /^0\{"sid":/);

    const unknown = await request(server.port, "/socket.io/socket.io.esm.js");
    assert.equal(unknown.status, 400, "the engine answers, not the bundle handler");
    assert.equal(unknown.headers["etag"], undefined);

    const app = await request(server.port, "/index.html");
    assert.equal(app.status, 200);
    assert.equal(app.body.toString(), APP_BODY);
  });

  test("clients still connect over polling and websocket", async () => {
    await clientConnects(server.port, "/socket.io", ["polling"]);
    await clientConnects(server.port, "/socket.io", ["websocket"]);
    await clientConnects(server.port, "/socket.io", ["polling", "websocket"]);
  });
});

describe("serveClient: false", () => {
  let server: Running & { io: Server };

  before(async () => {
    server = await startSwitchyard({ serveClient: false });
  });
  after(() => server.close());

  test("no bundle is served; the engine answers the request instead", async () => {
    assert.equal(server.io.serveClient(), false);
    for (const name of distFiles) {
      const res = await request(server.port, `/socket.io/${name}`);
      assert.notEqual(res.status, 200, name);
      assert.equal(res.headers["etag"], undefined, name);
      assert.equal(res.headers["content-type"] === "application/javascript; charset=utf-8", false);
    }
    await clientConnects(server.port, "/socket.io", ["polling", "websocket"]);
  });
});

describe("serveClient under a custom path", () => {
  let server: Running & { io: Server };

  before(async () => {
    server = await startSwitchyard({ path: "/realtime" });
  });
  after(() => server.close());

  test("the bundles follow the path", async () => {
    const res = await request(server.port, "/realtime/socket.io.min.js");
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(fs.readFileSync(path.join(clientDir, "socket.io.min.js"))));
    const old = await request(server.port, "/socket.io/socket.io.min.js");
    assert.equal(old.body.toString(), APP_BODY, "the old path belongs to the application");
    await clientConnects(server.port, "/realtime", ["polling", "websocket"]);
  });
});

describe("the same responses as socket.io 4.8", () => {
  let ours: Running & { io: Server };
  let theirs: Running;

  before(async () => {
    ours = await startSwitchyard();
    const httpServer = http.createServer();
    const io = new SocketIoServer(httpServer);
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    theirs = {
      port: (httpServer.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          httpServer.closeAllConnections();
          io.close(() => resolve());
        }),
    };
  });
  after(async () => {
    await ours.close();
    await theirs.close();
  });

  test("status, content type, ETag, caching and 304 match for every file", async () => {
    const compared = ["content-type", "etag", "cache-control"] as const;
    for (const name of distFiles) {
      const variants: Record<string, string>[] = [{}, { "If-None-Match": `"${clientVersion}"` }];
      for (const headers of variants) {
        const [a, b] = await Promise.all([
          request(ours.port, `/socket.io/${name}`, headers),
          request(theirs.port, `/socket.io/${name}`, headers),
        ]);
        const label = `${name} ${JSON.stringify(headers)}`;
        assert.equal(a.status, b.status, label);
        assert.equal(a.body.length, b.body.length, `${label}: body length`);
        // A 304 from socket.io carries no headers; ours repeats ETag and Cache-Control (RFC 9110).
        if (a.status !== 200) continue;
        for (const header of compared) {
          assert.equal(a.headers[header], b.headers[header], `${label}: ${header}`);
        }
        assert.ok(a.body.equals(b.body), `${label}: body`);
      }
    }
  });
});
