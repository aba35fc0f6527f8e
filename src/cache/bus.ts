import type { Cluster, Redis } from "ioredis";

/**
 * The invalidation bus between instances: every eviction publishes the evicted key (inside the
 * eviction script, see redis-store.ts, so a replayed eviction is announced too) and every
 * instance drops that key from its L1. `connected` is true only while the subscription is
 * acknowledged: messages published while it is not are lost, so L1 must not be trusted then.
 */
export interface InvalidationBus {
  readonly connected: boolean;
  onInvalidate(fn: (key: string) => void): void;
  /** Called on every change of `connected`. */
  onState(fn: (connected: boolean) => void): void;
  close(): Promise<void>;
}

/** Cache evictions are published on this channel (one per key prefix). */
export const busChannel = (prefix: string) => `${prefix}:inv`;

/**
 * A dedicated subscriber connection (a connection in subscribe mode cannot send other commands).
 * Regular PUBLISH/SUBSCRIBE also on a cluster: a message reaches subscribers on every node, and
 * the eviction script may publish on a channel whatever slot its keys are in — SPUBLISH would
 * have to share the keys' slot, one channel per slot.
 */
export function createRedisBus(client: Redis | Cluster, channel: string, onError?: (err: Error) => void): InvalidationBus {
  // Resubscribing is done here, on "ready", so `connected` flips only once the server said yes.
  // Named, so an operator (or a test) can find it in CLIENT LIST.
  const connectionName = `l1-bus:${channel}`;
  const sub: Redis | Cluster = client.isCluster
    ? (client as Cluster).duplicate(undefined, {
        // duplicate() merges shallowly: keep the node options (timeouts, retries) and add ours.
        redisOptions: { ...(client as Cluster).options.redisOptions, autoResubscribe: false, connectionName },
      })
    : (client as Redis).duplicate({ autoResubscribe: false, enableOfflineQueue: false, connectionName });
  const invalidate: ((key: string) => void)[] = [];
  const state: ((connected: boolean) => void)[] = [];
  let connected = false;
  let closing = false;
  const set = (v: boolean) => {
    if (v === connected) return;
    connected = v;
    for (const fn of state) fn(v);
  };
  sub.on("error", (err: Error) => onError?.(err));
  sub.on("ready", async () => {
    try {
      await sub.subscribe(channel);
      set(true);
    } catch (err) {
      onError?.(err as Error);
      // Not subscribed: force a reconnect, which retries the subscription on the next "ready".
      if (!closing) sub.disconnect(true);
    }
  });
  // At shutdown the connection ends on purpose: nothing to announce.
  for (const ev of ["close", "end", "reconnecting"]) sub.on(ev, () => (closing ? (connected = false) : set(false)));
  sub.on("message", (ch: string, key: string) => {
    if (ch !== channel) return;
    for (const fn of invalidate) fn(key);
  });
  return {
    get connected() {
      return connected;
    },
    onInvalidate(fn) {
      invalidate.push(fn);
    },
    onState(fn) {
      state.push(fn);
    },
    async close() {
      closing = true;
      try {
        await sub.quit();
      } catch {
        sub.disconnect();
      }
    },
  };
}
