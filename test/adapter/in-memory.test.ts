/** The adapter suite on the default in-memory adapter (one node). */
import { Adapter, type AdapterConstructor } from "../../src";
import { adapterSuite, startCluster } from "./suite";

adapterSuite("in-memory", () => startCluster(1, () => Adapter as AdapterConstructor));
