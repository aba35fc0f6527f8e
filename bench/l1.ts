import { hc } from "hono/client";
import type { AppType } from "../src/app";
import { parseEnv } from "../src/env";
import { BENCH_TOKEN } from "./auth";
import type { Options } from "./config";
import { interleave, type Participant } from "./interleave";
import { writeSpec } from "./load";
import { merge, rawPrefix, service, serviceEnv, type Cells } from "./scenarios";
import { startServer, type Server } from "./servers";
import { specFor, type Workload } from "./workload";

// The two cache tiers (README "Cache tiers"): the cached profile read with L1 on and off against
// the raw Bun + ioredis server, interleaved; then how long a write through one instance takes to
// reach the L1 of another.

export interface Invalidation {
  /** Per probe: the writer's acknowledgment → the first read on the other instance that saw the write. */
  delaysMs: number[];
  /** Per probe: the PATCH sent → that first fresh read sent (the write's own time included). */
  fromSendMs: number[];
  /** Reads on the other instance that still returned the old value after the write was acknowledged. */
  stale: number;
}

type Say = (s: string) => void;

const serviceProfileTtlMs = parseEnv({}).CACHE_TTL_USER_S * 1000;

// The setup and probe calls go through Hono's typed client (paths, bodies and answers checked by
// tsc); the load itself is the generator's (loadgen.ts), which hc would only slow down.
const api = (s: Server) => hc<AppType>(s.url);

const timing = (res: { headers: Headers }) => /cache;[^,]*desc="([^"]+)"/.exec(res.headers.get("server-timing") ?? "")?.[1];

/** Reads until the reader answers this profile from its L1 (at most 50 tries). */
async function warmL1(reader: Server, id: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const res = await api(reader).users[":id"].$get({ param: { id: String(id) } });
    await res.arrayBuffer();
    if (timing(res) === "l1-hit") return true;
  }
  return false;
}

const patchBio = (writer: Server, id: number, bio: string | null) =>
  api(writer).users[":id"].$patch({ param: { id: String(id) }, json: { bio } }, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });

/** The profile as the reader serves it (a 200: the probe users exist). */
async function readBio(reader: Server, id: number): Promise<string | null | undefined> {
  const res = await api(reader).users[":id"].$get({ param: { id: String(id) } });
  if (res.status !== 200) throw new Error(`GET /users/${id} on ${reader.name}: ${res.status}`);
  return (await res.json()).bio;
}

/**
 * One probe per user: warm the reader's L1, PATCH the bio through the writer, then read through
 * the reader back to back until it returns the new bio. The delay is from the PATCH's response to
 * the send time of that first fresh read (resolution: one read round trip, ~0.2-1 ms here), so it
 * bounds how long a reader may see the old value once the writer acknowledged. The bio is put back.
 */
export async function measureInvalidation(reader: Server, writer: Server, ids: number[], out: Invalidation, say: Say) {
  for (const [i, id] of ids.entries()) {
    say(`invalidation delay · probe ${i + 1}/${ids.length}`);
    const before = await readBio(reader, id);
    if (!(await warmL1(reader, id))) throw new Error(`user ${id} never became an L1 hit on ${reader.name}`);
    const bio = `l1 bench probe ${i} ${Date.now()}`;
    const sentWrite = performance.now();
    const res = await patchBio(writer, id, bio);
    if (!res.ok) throw new Error(`PATCH /users/${id} through ${writer.name}: ${res.status} ${await res.text()}`);
    const acked = performance.now();
    for (let poll = 0; ; poll++) {
      const sent = performance.now();
      if ((await readBio(reader, id)) === bio) {
        out.delaysMs.push(Math.max(0, sent - acked));
        out.fromSendMs.push(sent - sentWrite);
        break;
      }
      out.stale++;
      if (poll > 5000) throw new Error(`user ${id}: ${reader.name} still served the old bio 5000 reads after the write`);
    }
    await patchBio(writer, id, before ?? null);
  }
}

/** Cells l1-on/profile, l1-off/profile, l1-raw/profile (interleaved), then the invalidation probes. */
export async function l1Phase(o: Options, w: Workload, cells: Cells, inv: Invalidation, say: Say, servers: Server[]) {
  const p = o.profile;
  say("starting servers");
  const l1 = { CACHE_L1: "on" };
  // The cell measures the L1 hit: profiles stay in L1 as long as in Redis (the default 2 s would
  // send the Zipf tail to Redis and measure a blend of both tiers).
  const on = await service(o, "l1-on", { ...l1, CACHE_L1_CLASSES: `profiles:${serviceProfileTtlMs}` });
  servers.push(on);
  const off = await service(o, "l1-off");
  servers.push(off);
  const raw = await startServer("l1-raw", ["bun", "run", "bench/limits/redis.ts"], { ...serviceEnv(o), REDIS_KEY_PREFIX: rawPrefix(o) });
  servers.push(raw);
  const spec = await writeSpec("l1-profile", specFor(p, w, "profile", "keyset"));
  const parts: Participant[] = [
    { key: "l1-on", server: on, specBase: spec },
    { key: "l1-off", server: off, specBase: spec },
    { key: "l1-raw", server: raw, specBase: spec },
  ];
  await merge(cells, "profile", await interleave(p, parts, p.windows, (s) => say(`l1 profile · ${s}`)));
  // A second instance with L1 as the writer; the reader is l1-on.
  const writer = await service(o, "l1-writer", l1);
  servers.push(writer);
  const step = Math.max(1, Math.floor(p.users / p.invalidationProbes));
  const ids = Array.from({ length: p.invalidationProbes }, (_, i) => 1 + i * step);
  await measureInvalidation(on, writer, ids, inv, say);
}
