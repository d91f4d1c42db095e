// Ids from the one random pool keep each layer's format: 20 base64url characters; session ids end with a
// 24-bit counter that steps by one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSessionId, generateSocketId, randomBase64Url } from "../../src/util/ids";

const BASE64URL_20 = /^[A-Za-z0-9_-]{20}$/;

test("socket ids: 15 random bytes, 20 base64url characters, no repeats across pool refills", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = generateSocketId();
    assert.match(id, BASE64URL_20);
    assert.equal(Buffer.from(id, "base64url").length, 15);
    seen.add(id);
  }
  assert.equal(seen.size, 2000);
});

test("session ids: 12 random bytes and a counter that steps by one (wrapping at 24 bits)", () => {
  const counterOf = (id: string): number => Buffer.from(id, "base64url").readUIntBE(12, 3);
  let previous = generateSessionId();
  const randoms = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = generateSessionId();
    assert.match(id, BASE64URL_20);
    assert.equal(counterOf(id), (counterOf(previous) + 1) & 0xffffff);
    randoms.add(id.slice(0, 16));
    previous = id;
  }
  assert.equal(randoms.size, 2000);
});

test("randomBase64Url: the requested length, fresh bytes each time, at most the pool", () => {
  const a = randomBase64Url(3000);
  const b = randomBase64Url(3000);
  assert.equal(Buffer.from(a, "base64url").length, 3000);
  assert.notEqual(a, b);
  assert.throws(() => randomBase64Url(4097), RangeError);
});
