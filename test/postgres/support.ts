/**
 * Test helpers for the Postgres adapter: the connection settings of the test database, unique channel prefixes
 * and attachment tables per test (dropped afterwards), and a pool for administrative queries.
 */
import { randomBytes } from "node:crypto";
import { Pool, type PoolConfig } from "pg";
import type { PostgresNodeConfig } from "../redis/node";

export const PG_CONFIG: PoolConfig = {
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
export function adminPool(): Pool {
  const pool = new Pool({ ...PG_CONFIG, application_name: "sy-test-admin", max: 2 });
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

/** The Postgres part of a child-process node's configuration (test/redis/node.ts with `backend: "postgres"`). */
export function nodePg(
  table: string,
  applicationName: string,
  heartbeat: { heartbeatInterval?: number; heartbeatTimeout?: number } = {},
): PostgresNodeConfig {
  return {
    host: PG_CONFIG.host as string,
    port: PG_CONFIG.port as number,
    user: PG_CONFIG.user as string,
    database: PG_CONFIG.database as string,
    applicationName,
    tableName: table,
    ...heartbeat,
  };
}
