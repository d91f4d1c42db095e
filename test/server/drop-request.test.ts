/**
 * Dropping the engine's request (`io.engine.on("connection", (raw) => { raw.request = null })`, socket.io's advice to
 * save memory) frees it, and `socket.handshake` still shows what the client sent. Each case runs in a child process
 * with --expose-gc, where a WeakRef tells whether the request was collected.
 */
import { execFile } from "node:child_process";
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { TRANSPORTS } from "../support/io";

interface Observed {
  collected: boolean;
  rounds: number;
  requestIsNull: boolean;
  echoed: unknown;
  echoedAfter: unknown;
  handshake: {
    probeHeader: unknown;
    query: unknown;
    url: unknown;
    address: unknown;
    secure: unknown;
    xdomain: unknown;
  };
}

const fixture = path.join(__dirname, "drop-request.fixture.ts");

function run(transport: string, mode: "drop" | "keep"): Promise<Observed> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--expose-gc", "--import", "tsx", fixture, transport, mode],
      { timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "") as Observed);
      },
    );
  });
}

function assertHandshake(observed: Observed): void {
  assert.equal(observed.echoed, "e1");
  assert.equal(observed.echoedAfter, "e2");
  assert.equal(observed.handshake.probeHeader, "h1");
  assert.equal(observed.handshake.query, "q1");
  assert.match(String(observed.handshake.url), /^\/socket\.io\/\?.*probe=q1/);
  assert.match(String(observed.handshake.address), /127\.0\.0\.1|::1/);
  assert.equal(observed.handshake.secure, false);
  assert.equal(observed.handshake.xdomain, false);
}

for (const [transport] of TRANSPORTS) {
  test(`${transport}: a dropped request is collected and the handshake still shows what the client sent`, async () => {
    const observed = await run(transport, "drop");
    assertHandshake(observed);
    assert.equal(observed.requestIsNull, true);
    assert.equal(observed.collected, true, "the dropped request is still reachable");
  });

  test(`${transport}: a request the application keeps stays reachable through socket.request`, async () => {
    const observed = await run(transport, "keep");
    assertHandshake(observed);
    assert.equal(observed.requestIsNull, false);
    assert.equal(observed.collected, false);
  });
}
