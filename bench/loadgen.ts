import { makeRequester, type Req, type Spec } from "./zipf";

// The load generator (why this one: load.ts): closed loop, N keep-alive HTTP/1.1
// connections on raw Bun sockets (no fetch: its per-request overhead would make the generator
// the bottleneck sooner), each sending its next request when the previous response is complete.
// Prints one BENCH_JSON line with its counts and latency percentiles. Run as its own process by load.ts.
// argv: <config json> = { host, port, connections, durationS, specFile }

const cfg = JSON.parse(process.argv[2]!) as { host: string; port: number; connections: number; durationS: number; specFile: string };
const spec = JSON.parse(await Bun.file(cfg.specFile).text()) as Spec;
const hostHeader = `${cfg.host}:${cfg.port}`;
const extra = (spec.headers ?? []).map((h) => `${h}\r\n`).join("");
const format = (r: Req) =>
  r.body === undefined
    ? `${r.method} ${r.path} HTTP/1.1\r\nHost: ${hostHeader}\r\n${extra}\r\n`
    : `${r.method} ${r.path} HTTP/1.1\r\nHost: ${hostHeader}\r\nAuthorization: Bearer ${spec.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;

let latencies = new Float64Array(1 << 16);
let requests = 0;
let bytes = 0;
let hits = 0;
let misses = 0;
const errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };
const start = performance.now();
const deadline = start + cfg.durationS * 1000;

function record(us: number) {
  if (requests === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[requests++] = us;
}

function connection(thread: number): Promise<void> {
  const next = makeRequester(spec, Math.random, thread);
  let buf = "";
  let sentAt = 0;
  return new Promise((resolve) => {
    const send = (s: Bun.Socket<undefined>) => {
      sentAt = performance.now();
      s.write(format(next()));
    };
    Bun.connect({
      hostname: cfg.host,
      port: cfg.port,
      socket: {
        open: send,
        data(s, chunk) {
          buf += chunk.toString("latin1");
          for (;;) {
            const headEnd = buf.indexOf("\r\n\r\n");
            if (headEnd < 0) return;
            const head = buf.slice(0, headEnd);
            const len = /\r\ncontent-length: *(\d+)/i.exec(head);
            let total: number;
            if (len) total = headEnd + 4 + Number(len[1]);
            else {
              const endChunk = buf.indexOf("\r\n0\r\n\r\n", headEnd);
              if (endChunk < 0) return;
              total = endChunk + 7;
            }
            if (buf.length < total) return;
            record((performance.now() - sentAt) * 1000);
            bytes += total;
            if (Number(head.slice(9, 12)) > 399) errors.status++;
            const cache = /\r\n(?:server-timing:[^\r]*desc="|x-cache: *)(l1-hit|hit|miss)/i.exec(head)?.[1];
            if (cache === "hit" || cache === "l1-hit") hits++;
            else if (cache === "miss") misses++;
            buf = buf.slice(total);
            if (performance.now() >= deadline) return void s.end();
            send(s);
          }
        },
        close: () => resolve(),
        error: () => void errors.read++,
        connectError: () => {
          errors.connect++;
          resolve();
        },
      },
    }).catch(() => {
      errors.connect++;
      resolve();
    });
  });
}

await Promise.race([
  Promise.all(Array.from({ length: cfg.connections }, (_, i) => connection(i + 1))),
  Bun.sleep(cfg.durationS * 1000 + 2000),
]);
const elapsedUs = Math.round((Math.min(performance.now(), deadline) - start) * 1000);
const sorted = latencies.slice(0, requests).sort();
const at = (p: number) => (requests ? Math.round(sorted[Math.min(requests - 1, Math.ceil((p / 100) * requests) - 1)] ?? 0) : 0);
const mean = requests ? sorted.reduce((a, b) => a + b, 0) / requests : 0;
const pcts = [1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.99, 100];
const out = {
  durationUs: elapsedUs,
  requests,
  bytes,
  errors,
  latencyUs: { min: at(0.0001), mean, max: at(100), stdev: 0, pct: pcts.map((p) => [p, at(p)]) },
  hits,
  misses,
};
console.log(`BENCH_JSON ${JSON.stringify(out)}`);
process.exit(0);
