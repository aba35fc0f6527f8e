import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, type Registry } from "prom-client";

// Process-wide facts, so one sampler per process however many apps (registries) read it.
// prom-client's collectDefaultMetrics is not used: it starts a new event-loop monitor and GC
// observer per registry that can never be stopped, and per-app registries (tests) would pile
// them up. The names below are the ones it uses, so the usual dashboards still work.

interface LagSampler {
  /** [p50, p99, max] in seconds since the previous read, then starts a new window. */
  read(): [number, number, number];
}

let sampler: LagSampler | undefined;

function createSampler(): LagSampler {
  try {
    // Bun 1.4 implements it (verified: a 100 ms block reads as max ≈ 100 ms).
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    return {
      read() {
        const out: [number, number, number] = h.count
          ? [h.percentile(50) / 1e9, h.percentile(99) / 1e9, h.max / 1e9]
          : [0, 0, 0];
        h.reset();
        return out;
      },
    };
  } catch {
    // Fallback: how late an unref'd 10 ms timer fires, the same quantity measured by hand.
    const samples: number[] = [];
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (samples.length < 10_000) samples.push(Math.max(0, now - last - 10));
      last = now;
    }, 10).unref();
    return {
      read() {
        const s = samples.splice(0).sort((a, b) => a - b);
        const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! / 1000 : 0);
        return [at(0.5), at(0.99), s.length ? s[s.length - 1]! / 1000 : 0];
      },
    };
  }
}

export function registerProcessMetrics(registry: Registry): void {
  sampler ??= createSampler();
  const lag = sampler;
  const registers = [registry];
  const gauge = (name: string, help: string, collect?: (g: Gauge) => void) =>
    new Gauge({ name, help, registers, ...(collect ? { collect() { collect(this); } } : {}) });

  // Each group is read once per scrape, by its first gauge, so its values describe one instant.
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", (g) => {
    const m = process.memoryUsage();
    g.set(m.rss);
    heapUsed.set(m.heapUsed);
    heapTotal.set(m.heapTotal);
    external.set(m.external);
  });
  const heapUsed = gauge("nodejs_heap_size_used_bytes", "JS heap used in bytes.");
  const heapTotal = gauge("nodejs_heap_size_total_bytes", "JS heap size in bytes.");
  const external = gauge("nodejs_external_memory_bytes", "Memory held outside the JS heap (buffers) in bytes.");
  let cpuSeen = 0;
  new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent in seconds.",
    registers,
    collect() {
      const u = process.cpuUsage();
      const now = (u.user + u.system) / 1e6;
      this.inc(Math.max(0, now - cpuSeen));
      cpuSeen = now;
    },
  });
  gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", (g) =>
    g.set(Math.round(Date.now() / 1000 - process.uptime())),
  );
  gauge("nodejs_eventloop_lag_p50_seconds", "Event loop delay, median since the last scrape.", (g) => {
    const [a, b, c] = lag.read();
    g.set(a);
    p99.set(b);
    max.set(c);
  });
  const p99 = gauge("nodejs_eventloop_lag_p99_seconds", "Event loop delay, p99 since the last scrape.");
  const max = gauge("nodejs_eventloop_lag_max_seconds", "Event loop delay, max since the last scrape.");
}
