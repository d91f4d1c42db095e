// parseQuery scans plain queries itself: it must read them exactly as URLSearchParams does.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseQuery } from "../../src/engine/request";

function reference(url: string): Record<string, string | undefined> {
  const i = url.indexOf("?");
  if (i === -1) return { transport: undefined, sid: undefined, EIO: undefined };
  const p = new URLSearchParams(url.slice(i + 1));
  return {
    transport: p.get("transport") ?? undefined,
    sid: p.get("sid") ?? undefined,
    EIO: p.get("EIO") ?? undefined,
  };
}

test("parseQuery reads transport, sid and EIO as URLSearchParams does", () => {
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
  ];
  for (const url of urls) assert.deepEqual({ ...parseQuery(url) }, reference(url), url);
});
