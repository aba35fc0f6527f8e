// A latency distribution. A log-linear histogram (the HdrHistogram layout) rather than a sample
// reservoir: recording is O(1) with no allocation, memory is fixed (864 counters per series),
// every request counts (a reservoir of 1 000 would blur p99 and lose the rare slow one), and the
// relative error of any percentile is bounded by 1/32 ≈ 3 %. Values are integer microseconds, so
// sub-millisecond cache hits resolve to the microsecond.
//
// The same record also counts the Prometheus buckets (`bounds`, in seconds): their edges do not
// fall on the log-linear ones (250 µs lies inside a bucket), and a `le` count must be exact, so
// each observation is placed in both. One series then serves /metrics and the route table.

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32 sub-buckets per power of two
const MAX_US = 2 ** 31 - 1; // ~36 minutes; anything longer is clamped (count and max stay exact)
const BUCKETS = (31 - SUB_BITS + 1) * SUB;

function indexOf(us: number): number {
  if (us < 2 * SUB) return us;
  const e = 31 - Math.clz32(us); // floor(log2(us)) >= SUB_BITS + 1
  return (e - SUB_BITS) * SUB + (us >>> (e - SUB_BITS));
}

/** Midpoint of bucket i in microseconds. */
function valueOf(i: number): number {
  if (i < 2 * SUB) return i;
  const step = 2 ** ((i >>> SUB_BITS) - 1);
  const low = ((i & (SUB - 1)) | SUB) * step;
  return low + (step - 1) / 2;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  /** Per Prometheus bucket (`le` = bounds[i] seconds), not cumulative; the last slot is +Inf. */
  readonly le: Float64Array;
  count = 0;
  sumMs = 0;
  maxMs = 0;

  /** `bounds`: the Prometheus bucket upper bounds in seconds, ascending (none: quantiles only). */
  constructor(readonly bounds: readonly number[] = []) {
    this.le = new Float64Array(bounds.length + 1);
  }

  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
    this.counts[indexOf(us)]!++;
    const s = ms / 1000;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && s > bounds[i]!) i++;
    this.le[i]!++;
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Adds another histogram's observations (same bounds): a route's row over all its statuses. */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    for (let i = 0; i < this.le.length; i++) this.le[i]! += other.le[i]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** The q-quantile (0 < q ≤ 1) in ms: the value at rank ceil(q·count), never above max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (rank >= this.count) return this.maxMs;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, valueOf(i) / 1000);
    }
    return this.maxMs;
  }
}
