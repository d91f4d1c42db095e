/** A route between the nodes of a deployment, on which forwarded polling requests travel (wire.ts). */
export interface ForwardingRoute {
  /** This node's id on the route (unique among the nodes). */
  readonly nodeId: string;
  /** Sends `message` to node `to`, or to every other node when `to` is null. Never throws. */
  send(to: string | null, message: Buffer): void;
  /** Starts delivering the messages sent to this node (or to all) to `handler`. */
  listen(handler: (message: Buffer) => void): void;
  /** Stops listening. */
  close(): void;
}
