import Redis from "ioredis";
import postgres from "postgres";
import { cacheKeys } from "../../src/cache/keys";

// LIMIT SERVER 1: the least work a cached profile read can be — plain Bun.serve, one ioredis GET
// of the same key the service uses (auto-pipelined, as in the service); on a miss one SELECT of
// the same columns and a SET with the same TTL. No framework, no validation, no instrumentation.
// x-cache tells the load generator hit or miss (the service says it in Server-Timing).

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { enableAutoPipelining: true });
const sql = postgres(process.env.DATABASE_URL!, { max: Number(process.env.DB_POOL_MAX ?? 4), onnotice: () => {} });
const keys = cacheKeys(process.env.REDIS_KEY_PREFIX ?? "hpbench");
const ttlMs = Number(process.env.CACHE_TTL_USER_S ?? 300) * 1000;
const json = { "content-type": "application/json; charset=UTF-8" };

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3101),
  async fetch(req) {
    const path = req.url.slice(req.url.indexOf("/", 8));
    if (path === "/healthz") return new Response("ok");
    const m = /^\/users\/(\d+)$/.exec(path);
    if (!m) return new Response("not found", { status: 404 });
    const key = keys.user(Number(m[1]));
    const hit = await redis.get(key);
    if (hit !== null) return new Response(hit, { headers: { ...json, "x-cache": "hit" } });
    const [row] = await sql`select id, email, name, bio, created_at as "createdAt", updated_at as "updatedAt"
                            from users where id = ${Number(m[1])}`;
    if (!row) return new Response('{"error":{"code":"not_found"}}', { status: 404, headers: json });
    const value = JSON.stringify(row);
    await redis.set(key, value, "PX", ttlMs);
    return new Response(value, { headers: { ...json, "x-cache": "miss" } });
  },
});

process.on("SIGTERM", async () => {
  server.stop(true);
  redis.disconnect();
  await sql.end({ timeout: 1 });
  process.exit(0);
});
