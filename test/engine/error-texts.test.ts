// The engine's error texts live in src/engine/errors.ts. Those engine.io has must be engine.io's exact text:
// checked against the installed engine.io's own transports and socket, so a typo or a drift fails here.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";
import {
  EngineErrorMessages,
  TransportErrorMessages,
  transportError,
} from "../../src/engine/errors";

// engine.io as socket.io resolves it (main: build/engine.io.js)
const build = path.dirname(createRequire(require.resolve("socket.io")).resolve("engine.io"));
const read = (file: string): string => fs.readFileSync(path.join(build, file), "utf8");
const transports = read("transports/polling.js") + read("transports/websocket.js");

/** The texts engine.io's transports report (onError) and its sessions close with (new Error). */
const engineIoTexts = new Set(
  [
    ...transports.matchAll(/onError\("([^"]+)"/g),
    ...read("socket.js").matchAll(/new Error\("([^"]+)"/g),
  ].map((m) => m[1] as string),
);

/** Texts of ours that engine.io 6.6 does not have (it answers these cases without an error). */
const oursOnly = new Set(["payload too large"]);

test("transport error texts are engine.io's", () => {
  for (const [code, message] of Object.entries(TransportErrorMessages)) {
    if (oursOnly.has(message)) continue;
    assert.ok(engineIoTexts.has(message), `${code}: "${message}" is not one of engine.io's texts`);
  }
  // and every transport error engine.io reports has its code here
  const ours = new Set<string>(Object.values(TransportErrorMessages));
  for (const text of engineIoTexts) {
    if (text === EngineErrorMessages.INVALID_HEARTBEAT_DIRECTION) continue;
    assert.ok(ours.has(text), `engine.io's "${text}" has no code`);
  }
  assert.ok(engineIoTexts.has(EngineErrorMessages.INVALID_HEARTBEAT_DIRECTION));
});

test("transportError has engine.io's shape", () => {
  const cause = new Error("boom");
  const err = transportError(TransportErrorMessages.WRITE_ERROR, cause);
  assert.ok(err instanceof Error);
  assert.equal(err.message, "write error");
  assert.equal(err.type, "TransportError");
  assert.equal(err.description, cause);
});
