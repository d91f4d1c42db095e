// The ESM entry exports the same names as the CommonJS one (test/package.test.ts keeps the two lists equal).
import switchyard from "./index.cjs";

export const { Server, Namespace, Socket, BroadcastOperator, RemoteSocket, Adapter, SessionAwareAdapter, parser, protocol } =
  switchyard;
export default switchyard;
