/** The adapter suite on three nodes of the heartbeat cluster base, over the in-process bus of ./bus. */
import { Bus } from "./bus";
import { adapterSuite, startCluster } from "./suite";

adapterSuite("heartbeat cluster base (in-process bus)", () => {
  const bus = new Bus();
  return startCluster(3, () => bus.adapter());
});
