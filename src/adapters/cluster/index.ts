/**
 * `switchyard/cluster-adapter`: every core of a machine, with `node:cluster` workers joined over IPC in the
 * wire format of `@socket.io/cluster-adapter` 0.3 (official workers and Switchyard workers form one cluster).
 *
 *   // primary
 *   const { setupPrimary } = require("switchyard/cluster-adapter");
 *   setupPrimary();
 *   cluster.setupPrimary({ serialization: "advanced" });
 *   // each worker
 *   const { createAdapter } = require("switchyard/cluster-adapter");
 *   const io = new Server(httpServer, { adapter: createAdapter() });
 *
 * The README's "Every core of one machine" section is the guide.
 */
export {
  createAdapter,
  NodeClusterAdapter,
  MESSAGE_SOURCE,
  type NodeClusterAdapterOptions,
} from "./adapter";
export { setupPrimary } from "./primary";
export { MessageType, RequestTimeoutError } from "../../adapter/cluster";
