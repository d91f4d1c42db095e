/**
 * The adapter conformance suite (test/adapter/suite.ts) on three Switchyard nodes joined by the Postgres adapter,
 * each node with its own pool; the attachment table is the adapter's own (created if missing), dropped after.
 */
import { Pool } from "pg";
import type { AdapterConstructor } from "../../src";
import { createAdapter } from "../../src/adapters/postgres";
import { adapterSuite, startCluster } from "../adapter/suite";
import { PG_CONFIG, adminPool, dropTable, uniqueNames } from "../support/postgres";

adapterSuite("postgres (3 nodes)", async () => {
  const { prefix, table } = uniqueNames("suite");
  const pools = [0, 1, 2].map(() => new Pool({ ...PG_CONFIG, application_name: "sy-test-suite" }));
  let i = 0;
  const cluster = await startCluster(
    3,
    () =>
      createAdapter(pools[i++]!, {
        channelPrefix: prefix,
        tableName: table,
        requestsTimeout: 3000,
      }) as unknown as AdapterConstructor,
  );
  return {
    nodes: cluster.nodes,
    async close() {
      await cluster.close();
      await Promise.allSettled(pools.map((pool) => pool.end()));
      const admin = adminPool();
      await dropTable(admin, table);
      await admin.end();
    },
  };
});
