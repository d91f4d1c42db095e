/**
 * Test helpers for the Postgres adapter: the settings of the shared test database, unique channel prefixes and
 * attachment tables per test file (created before its tests, dropped after), child-process nodes on Postgres
 * (test/redis/node.ts with `backend: "postgres"`), and a private PostgreSQL server for the tests that stop and
 * restart one (never the shared server on 5432).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { promisify } from "node:util";
import { Pool } from "pg";
import { startNode, type ClusterNode } from "../redis/cluster";
import type { PostgresNodeConfig } from "../redis/node";
import { freePort } from "./net";

/** Where a Postgres server answers. */
export interface PgServer {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** The shared test database (127.0.0.1:5432, database `test`, unless PG* variables say otherwise). */
export const PG_CONFIG: PgServer = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};

/** A channel prefix and attachment table no other test (or run) uses. */
export function uniqueNames(label: string): { prefix: string; table: string } {
  const tag = randomBytes(4).toString("hex");
  return { prefix: `sy-${label}-${tag}`, table: `sy_att_${label.replace(/\W/g, "_")}_${tag}` };
}

/** A pool for the test's own queries (table setup, pg_terminate_backend, ...). */
export function adminPool(server: PgServer = PG_CONFIG): Pool {
  const pool = new Pool({ ...server, application_name: "sy-test-admin", max: 2 });
  pool.on("error", () => undefined);
  return pool;
}

/** The attachment table, created as the official adapter's README says (the official adapter never creates it). */
export async function createTable(pool: Pool, table: string): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)`,
  );
}

export async function dropTable(pool: Pool, table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
}

/**
 * Unique names for this test file, with its attachment table created before its tests (an official node never
 * creates it; a Switchyard one would, but may start second) and dropped after them. `admin()` is the pool of
 * those hooks, for the tests' own queries.
 */
export function attachmentTable(label: string): { prefix: string; table: string; admin(): Pool } {
  const names = uniqueNames(label);
  let admin: Pool | undefined;
  before(async () => {
    admin = adminPool();
    await createTable(admin, names.table);
  });
  after(async () => {
    if (!admin) return;
    await dropTable(admin, names.table);
    await admin.end();
  });
  return {
    ...names,
    admin() {
      if (!admin) throw new Error("the admin pool exists only while the tests run");
      return admin;
    },
  };
}

export interface Heartbeat {
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
}

/** The Postgres part of a child-process node's configuration. */
export function nodePg(
  table: string,
  applicationName: string,
  heartbeat: Heartbeat = {},
  server: PgServer = PG_CONFIG,
): PostgresNodeConfig {
  return { ...server, applicationName, tableName: table, ...heartbeat };
}

/**
 * A node in its own process on Postgres: Switchyard with switchyard/postgres-adapter, or socket.io with the
 * official adapter. Its connections carry the application_name `${key}-${name}` (the fault tests find them by it).
 */
export function pgNode(opts: {
  key: string;
  name: string;
  table: string;
  impl?: "switchyard" | "socket.io";
  heartbeat?: Heartbeat;
  requestsTimeout?: number;
  server?: PgServer;
}): Promise<ClusterNode> {
  const impl = opts.impl ?? "switchyard";
  return startNode({
    name: opts.name,
    key: opts.key,
    backend: "postgres",
    pg: nodePg(opts.table, `${opts.key}-${opts.name}`, opts.heartbeat, opts.server),
    impl,
    adapter: impl === "switchyard" ? "switchyard" : "official",
    ...(opts.requestsTimeout === undefined ? {} : { requestsTimeout: opts.requestsTimeout }),
  });
}

const run = promisify(execFile);

/** Debian's server binaries; a test needing them fails (never skips) when they are missing. */
function pgBin(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  throw new Error(
    `no initdb/pg_ctl under ${root}/*/bin: install Debian's postgresql (scripts/provision.sh does)`,
  );
}

/** A PostgreSQL server of the test's own, which it may stop and start again (same port, same data). */
export interface PrivatePostgres {
  server: PgServer;
  start(): Promise<void>;
  stop(mode: "fast" | "immediate"): Promise<void>;
  /** Stops the server at once and deletes its data directory. */
  remove(): Promise<void>;
}

/** initdb into a temporary directory (trust auth), then pg_ctl start on a free port, on 127.0.0.1 only. */
export async function startPrivatePostgres(label: string): Promise<PrivatePostgres> {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), `sy-pg-${label}-`));
  const asRoot = process.getuid?.() === 0;
  // initdb and postgres refuse to run as root: run them as the `postgres` user then
  const pg = async (tool: string, args: string[]) => {
    const file = asRoot ? "runuser" : join(bin, tool);
    const argv = asRoot ? ["-u", "postgres", "--", join(bin, tool), ...args] : args;
    await run(file, argv, { timeout: 60000 });
  };
  if (asRoot) {
    const { stdout: uid } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(uid), Number(gid));
  }
  const port = await freePort();
  await pg("initdb", ["-D", dir, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  const server: PrivatePostgres = {
    server: { host: "127.0.0.1", port, user: "postgres", database: "postgres" },
    start: () =>
      pg("pg_ctl", ["-D", dir, "-l", join(dir, "server.log"), "-o", options, "-w", "start"]),
    stop: (mode) => pg("pg_ctl", ["-D", dir, "-m", mode, "-w", "stop"]),
    async remove() {
      await server.stop("immediate").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
