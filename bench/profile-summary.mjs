// Summarizes a V8 CPU profile (from `npm run bench -- --profile`, or `node --cpu-prof`): self time
// by function and by file/package, the top entries of each.
//
//   node bench/profile-summary.mjs bench/results/profiles/fanout-switchyard-0.cpuprofile [--top 25]
//     [--stacks NAME]   also the heaviest call stacks (8 frames) under functions named NAME
import fs from "node:fs";
import path from "node:path";

const file = process.argv[2];
if (!file) {
  console.error("usage: node bench/profile-summary.mjs <file.cpuprofile> [--top N]");
  process.exit(2);
}
const topIdx = process.argv.indexOf("--top");
const top = topIdx !== -1 ? Number(process.argv[topIdx + 1]) : 25;

const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

// Self time per node from the samples and their time deltas (µs).
const self = new Map();
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  const dt = timeDeltas[i + 1] ?? 0;
  self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
}
// Percentages are of the busy time: the "(idle)" samples (waiting in epoll) are left out.
let total = 0;
let idle = 0;
for (const [id, v] of self) {
  if (byId.get(id).callFrame.functionName === "(idle)") idle += v;
  else total += v;
}

// Where a function lives: a package under node_modules, a file of ours, node's internals, or V8.
function where(url) {
  if (!url) return "(native/V8)";
  const u = url.replace(/^file:\/\//, "");
  const nm = u.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const rest = u.slice(nm + "node_modules/".length).split("/");
    const pkg = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    return `${pkg}: ${rest.slice(rest[0].startsWith("@") ? 2 : 1).join("/")}`;
  }
  if (u.startsWith("node:")) return u;
  return path.relative(process.cwd(), u);
}

const fnTime = new Map();
const fileTime = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  if (cf.functionName === "(idle)") continue;
  const w = where(cf.url);
  const name = cf.functionName || "(anonymous)";
  const fkey = `${name}  ${w}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
  fnTime.set(fkey, (fnTime.get(fkey) ?? 0) + t);
  const group = w.startsWith("node:") ? "node internals" : w.split(":")[0];
  fileTime.set(group, (fileTime.get(group) ?? 0) + t);
}

function print(title, map) {
  console.log(`\n${title}`);
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, t] of rows) {
    console.log(
      `${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`,
    );
  }
}

const stacksIdx = process.argv.indexOf("--stacks");
if (stacksIdx !== -1) {
  const wanted = process.argv[stacksIdx + 1];
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map();
  for (const [id, t] of self) {
    if (byId.get(id).callFrame.functionName !== wanted) continue;
    const frames = [];
    for (let c = id, k = 0; c !== undefined && k < 8; c = parent.get(c), k++) {
      const cf = byId.get(c).callFrame;
      frames.push(`${cf.functionName || "(anonymous)"} ${where(cf.url)}:${cf.lineNumber + 1}`);
    }
    const key = frames.join("\n      < ");
    stacks.set(key, (stacks.get(key) ?? 0) + t);
  }
  console.log(`\nheaviest stacks under ${wanted}`);
  for (const [k, t] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 6)) {
    console.log(`${(t / 1000).toFixed(0).padStart(5)} ms ${k}`);
  }
}

console.log(
  `${file}: ${(total / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle (left out below)`,
);
print("self time by file/package", fileTime);
print("self time by function", fnTime);
