// The one query reader must read a URL exactly as engine.io 6 does: new URL(url, base).searchParams, then
// Object.fromEntries (a repeated key: the last value). Its own scan of plain queries is checked against that.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEngineQuery } from "../../src/engine/request";
import { forEachQueryParam, parseQuery } from "../../src/util/query";

function engineIoReads(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url, "https://socket.io").searchParams.entries());
}

const urls = [
  "/engine.io/",
  "/engine.io/?",
  "/engine.io/?EIO=4&transport=polling&t=OZk3x",
  "/engine.io/?EIO=4&transport=websocket&sid=AbC-_12xyz",
  "/engine.io/?sid&EIO=&transport=a=b",
  "/engine.io/?&&sid=1&sid=2",
  "/engine.io/?transport=poll%69ng",
  "/engine.io/?sid=a+b",
  "/engine.io/?EIO=4&&",
  "/engine.io/?=4&EIO",
  "/engine.io/?EIO=3&transport=polling&j=1&b64=1",
  "/engine.io/?transports=polling&EIOx=4&xsid=1",
  "/engine.io/?transport=polling#transport=websocket",
  "/engine.io/?a=%zz&b=%41&c=%E2%82%AC&d=%FF",
  "/socket.io/?token=abc&token=def&room=",
  "/socket.io/?__proto__=x&constructor=y",
  "/socket.io/?a=1?b=2",
];

test("parseQuery reads every parameter as engine.io does (the last of a repeated key wins)", () => {
  for (const url of urls) {
    const query = parseQuery(url);
    assert.deepEqual({ ...query }, engineIoReads(url), url);
    assert.equal(Object.getPrototypeOf(query), Object.prototype, url);
  }
  assert.deepEqual(parseQuery(undefined), {});
  assert.equal(parseQuery("/socket.io/?token=abc&token=def").token, "def");
});

test("a __proto__ parameter is an own property, never the prototype", () => {
  const query = parseQuery("/socket.io/?__proto__=x");
  assert.equal(Object.getPrototypeOf(query), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(query, "__proto__")?.value, "x");
});

test("forEachQueryParam visits parameters in order, empty segments skipped", () => {
  const seen: string[] = [];
  forEachQueryParam("/x?b=1&&a&=c&b=2", (k, v) => seen.push(`${k}:${v}`));
  assert.deepEqual(seen, ["b:1", "a:", ":c", "b:2"]);
});

test("parseEngineQuery reads transport, sid, EIO, b64 and j as engine.io does", () => {
  for (const url of urls) {
    const reference = engineIoReads(url);
    // `repeated` marks a request the checks refuse (docs/limits.md); the values read are engine.io's
    const { repeated: _repeated, ...read } = parseEngineQuery(url);
    assert.deepEqual(
      read,
      {
        transport: reference.transport,
        sid: reference.sid,
        EIO: reference.EIO,
        b64: reference.b64,
        j: reference.j,
      },
      url,
    );
  }
});
