// Summarizes a V8 heap snapshot (from `npm run bench -- --only idle-2k --heap-snapshot`): the
// objects by constructor (or type), their count and shallow size, the heaviest first, and, with
// --per N (the number of connections), both divided by N: what each connection costs.
//
//   node bench/heap-summary.mjs bench/results/profiles/switchyard-1234.heapsnapshot --per 2000
import fs from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node bench/heap-summary.mjs <file.heapsnapshot> [--per N] [--top N]");
  process.exit(2);
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 ? Number(process.argv[i + 1]) : dflt;
};
const per = arg("per", 0);
const top = arg("top", 30);

const snap = JSON.parse(fs.readFileSync(file, "utf8"));
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const nf = fields.length;
const iType = fields.indexOf("type");
const iName = fields.indexOf("name");
const iSize = fields.indexOf("self_size");
const { nodes, strings } = snap;

const groups = new Map();
let total = 0;
for (let i = 0; i < nodes.length; i += nf) {
  const type = types[nodes[i + iType]];
  const size = nodes[i + iSize];
  total += size;
  // Objects and closures by name; strings, arrays, code etc. by type.
  const key =
    type === "object" || type === "closure" || type === "native"
      ? `${type === "closure" ? "closure " : ""}${strings[nodes[i + iName]]}`
      : `(${type})`;
  const g = groups.get(key) ?? { count: 0, size: 0 };
  g.count++;
  g.size += size;
  groups.set(key, g);
}

console.log(`${file}: ${(total / 2 ** 20).toFixed(1)} MiB in ${nodes.length / nf} objects`);
const head = per
  ? `${"count".padStart(9)} ${"size".padStart(10)} ${"count/N".padStart(8)} ${"B/N".padStart(8)}  constructor`
  : `${"count".padStart(9)} ${"size".padStart(10)}  constructor`;
console.log(head);
for (const [k, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
  const base = `${String(g.count).padStart(9)} ${String(g.size).padStart(10)}`;
  console.log(
    per
      ? `${base} ${(g.count / per).toFixed(2).padStart(8)} ${(g.size / per).toFixed(0).padStart(8)}  ${k}`
      : `${base}  ${k}`,
  );
}
