import type { Profile } from "./config";
import { runLoad, type Sample } from "./load";
import type { Server } from "./servers";

// Servers compared with each other are measured interleaved: warm each up, then window 1 of A,
// window 1 of B, window 2 of A, ... so a slow drift of this shared, noisy machine hits all of
// them alike, and ratios are taken window by window (stats.pairedRatio). Load goes to one server
// at a time; the others sit idle.

export interface Participant {
  key: string;
  server: Server;
  specBase: string;
  /** Run after each load run: requests the generator abandoned must be gone before the next run. */
  settle?: () => Promise<void>;
  /** A slow server (the naive one): a probe instead of a warm-up, windows sized from its latency. */
  slow?: boolean;
}

export interface Measured {
  warmup: number[];
  windowS: number;
  samples: Sample[];
}

/**
 * Warm-up until throughput is stable: slices until two in a row agree within the tolerance.
 * A slow server (the naive one) has nothing to warm but the table (prewarmed) and gets one probe
 * instead, which sizes its windows: ~3 × its latency if every connection was answered within
 * the probe, else the longest window.
 */
async function warm(p: Profile, part: Participant, say: (s: string) => void) {
  const rates: number[] = [];
  if (part.slow) {
    if (p.warmMax === 0) return { rates, windowS: p.beforeWindowS };
    const probeS = Math.ceil(p.beforeWindowS / 2);
    say(`${part.key}: probe (${probeS} s)`);
    const probe = await runLoad(part.server, part.specBase, p.connections, probeS);
    await part.settle?.();
    const fit = Math.max(p.beforeWindowS, Math.min(p.maxSlowWindowS, Math.ceil((3 * probe.avgMs) / 1000)));
    return { rates: [Math.round(probe.rps)], windowS: probe.requests >= p.connections ? fit : p.maxSlowWindowS };
  }
  for (let i = 1; i <= p.warmMax; i++) {
    say(`${part.key}: warm-up ${i} (${p.warmSliceS} s)`);
    const slice = await runLoad(part.server, part.specBase, p.connections, p.warmSliceS);
    await part.settle?.();
    rates.push(Math.round(slice.rps));
    const [a, b] = rates.slice(-2);
    if (i >= p.warmMin && a !== undefined && b !== undefined && Math.abs(a - b) <= p.warmTolerance * Math.max(a, b)) break;
  }
  return { rates, windowS: p.windowS };
}

export async function interleave(
  p: Profile,
  parts: Participant[],
  windows: number,
  say: (s: string) => void,
): Promise<Record<string, Measured>> {
  const out: Record<string, Measured> = {};
  for (const part of parts) {
    const { rates, windowS } = await warm(p, part, say);
    out[part.key] = { warmup: rates, windowS, samples: [] };
  }
  for (let w = 1; w <= windows; w++) {
    for (const part of parts) {
      const m = out[part.key]!;
      const n = part.slow ? Math.min(windows, p.beforeWindows) : windows;
      if (w > n) continue;
      say(`${part.key}: window ${w}/${n} (${m.windowS} s)`);
      m.samples.push(await runLoad(part.server, part.specBase, p.connections, m.windowS));
      await part.settle?.();
    }
  }
  return out;
}
