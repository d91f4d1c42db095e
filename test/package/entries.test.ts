/** The built package: `require` and `import` expose the same names; the CommonJS export is callable. */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const root = new URL("../../", pathToFileURL(__filename)).href;
const requireFromRoot = createRequire(root);

test("CommonJS and ESM entries export the same names", async () => {
  const cjs = requireFromRoot("switchyard") as Record<string, unknown> &
    ((...args: unknown[]) => unknown);
  const esm = (await import("switchyard")) as Record<string, unknown>;
  const cjsNames = Object.keys(cjs)
    .filter((n) => n !== "default")
    .sort();
  const esmNames = Object.keys(esm)
    .filter((n) => n !== "default")
    .sort();
  assert.deepEqual(esmNames, cjsNames);
  for (const name of [
    "Server",
    "Namespace",
    "Socket",
    "BroadcastOperator",
    "RemoteSocket",
    "Adapter",
  ]) {
    assert.equal(typeof cjs[name], "function", name);
    assert.equal(esm[name], cjs[name], name);
  }
  const io = cjs() as { close(): Promise<void>; sockets: unknown };
  assert.ok(io instanceof (cjs.Server as new () => unknown));
  await io.close();
});

test("the engine and the Redis adapter are exported on their own paths", () => {
  const engine = requireFromRoot("switchyard/engine") as Record<string, unknown>;
  assert.equal(typeof engine.Server, "function");
  assert.equal(typeof engine.attach, "function");
  assert.equal(typeof engine.listen, "function");
  const adapter = requireFromRoot("switchyard/adapter") as Record<string, unknown>;
  for (const name of ["Adapter", "ClusterAdapter", "ClusterAdapterWithHeartbeat"])
    assert.equal(typeof adapter[name], "function", name);
  const postgres = requireFromRoot("switchyard/postgres-adapter") as Record<string, unknown>;
  for (const name of ["createAdapter", "PostgresAdapter"])
    assert.equal(typeof postgres[name], "function", name);
});
