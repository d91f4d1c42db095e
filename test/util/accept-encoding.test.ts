// The one Accept-Encoding negotiation must choose what engine.io and socket.io choose: both call
// accepts(req).encodings(offered); that package (as socket.io resolves it) is the reference here.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { negotiateEncoding } from "../../src/util/accept-encoding";

type Accepts = (req: { headers: Record<string, string | undefined> }) => {
  encodings(offered: string[]): string | false;
};
const accepts = createRequire(require.resolve("socket.io"))("accepts") as Accepts;

const headers = [
  undefined,
  "",
  "gzip",
  "gzip, deflate",
  "deflate, gzip",
  "gzip, deflate, br, zstd",
  "br;q=0, gzip",
  "gzip;q=0.5, br;q=0.2",
  "gzip;q=0.5, deflate;q=0.9",
  "identity",
  "*",
  "*, br;q=0",
  "*;q=0, gzip",
  "gzip;q=0, *",
  "deflate",
  "x-gzip",
  "GZIP, Deflate",
  "gzip;q=abc, deflate",
  "gzip;q=, deflate;q=0.1",
  "gzip;q=0.5x, br",
  "gzip ;q=0.3, br; q=0.3",
  "gzip;Q=0.1, br;q=0.5",
  "gzip;level=1;q=0.2, br;q=0.1",
  "gzip;q=0, gzip",
  "gzip;q=abc, gzip",
  "gzip x, br",
  ", ,gzip;q=0.001",
  "br;q=1.5, gzip",
];
const offers = [
  ["gzip", "deflate"],
  ["br", "gzip"],
  ["br", "gzip", "deflate"],
];

test("negotiateEncoding chooses what accepts(req).encodings() chooses", () => {
  for (const offered of offers) {
    for (const header of headers) {
      const expected = accepts({ headers: { "accept-encoding": header } }).encodings(offered);
      assert.equal(
        negotiateEncoding(header, offered),
        expected === false ? undefined : expected,
        `${JSON.stringify(header)} offering ${offered.join(",")}`,
      );
    }
  }
});

test("the cases that differed between the old copies", () => {
  // an unreadable weight refuses the coding (the served bundles used to read it as 1)
  assert.equal(negotiateEncoding("br;q=abc", ["br", "gzip"]), undefined);
  // x-gzip is not gzip (the served bundles used to accept it)
  assert.equal(negotiateEncoding("x-gzip", ["br", "gzip"]), undefined);
  // at equal weight, the coding the client lists first
  assert.equal(negotiateEncoding("gzip, br", ["br", "gzip"]), "gzip");
  assert.equal(negotiateEncoding("br, gzip", ["br", "gzip"]), "br");
});
