import { expect, test } from "bun:test";
import postgres from "postgres";
import { freshDatabase, REDIS_URL, freshPrefix } from "./support/env";
import { startService } from "./support/spawn";
import { tokenFor } from "./support/auth";
import { activeStatements, eventually, lockTable, type TableLock } from "./support/pg-lock";

const ADMIN_JSON = { "content-type": "application/json", authorization: `Bearer ${await tokenFor("admin")}` };

test("SIGTERM: stops accepting, finishes the in-flight request, closes pool and Redis, exits 0", async () => {
  const { url: dbUrl } = await freshDatabase("shutdown");
  const svc = await startService({
    DATABASE_URL: dbUrl,
    DB_SEED_DEMO: "true", // user 1 for the in-flight read
    REDIS_URL,
    REDIS_KEY_PREFIX: await freshPrefix("hpt-shutdown"),
    LOG_LEVEL: "info",
    SHUTDOWN_TIMEOUT_S: "10",
    // No drain period here: this test is about what happens once the listener closes.
    SHUTDOWN_DRAIN_S: "0",
  });
  const locker = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    // Hold a lock that the next profile read must wait for: a request guaranteed to be in flight.
    const tx = locker.reserve();
    const conn = await tx;
    await conn`begin`;
    await conn`lock table users in access exclusive mode`;
    const inflight = fetch(`${svc.url}/users/1`);
    await Bun.sleep(300);
    svc.proc.kill("SIGTERM");
    await Bun.sleep(300);
    // No new connections once shutdown has begun.
    expect(await fetch(`${svc.url}/healthz`).then(() => "served", () => "refused")).toBe("refused");
    await conn`commit`;
    conn.release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: number }).id).toBe(1);
    expect(await svc.stop("SIGTERM")).toBe(0);
    expect(svc.output()).toContain("bye");
    // The service's connections are gone from Postgres.
    const [row] = await locker<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'hotpath'`;
    expect(row?.n).toBe(0);
  } finally {
    await locker.end();
    svc.proc.kill("SIGKILL");
  }
}, 60_000);

/** A keep-alive HTTP/1.1 connection of the test's own: requests are written by hand, answers read raw. */
async function rawConnection(port: number) {
  let buf = "";
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, d) {
        buf += d.toString();
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  return {
    async get(path: string): Promise<string> {
      buf = "";
      socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
      for (let i = 0; i < 400; i++) {
        const m = /content-length: (\d+)\r\n/i.exec(buf);
        const head = buf.indexOf("\r\n\r\n");
        if (m && head >= 0 && buf.length >= head + 4 + Number(m[1])) return buf;
        if (closed) break;
        await Bun.sleep(10);
      }
      throw new Error(`no complete answer to ${path}: ${JSON.stringify(buf)}`);
    },
    async closedByServer(): Promise<boolean> {
      for (let i = 0; i < 200 && !closed; i++) await Bun.sleep(10);
      return closed;
    },
    end: () => socket.end(),
  };
}

test("SIGTERM under keep-alive load: /readyz 503 at once, Connection: close while draining, no request sent before the listener closed is lost", async () => {
  const { url: dbUrl } = await freshDatabase("shutdown_drain");
  const svc = await startService({
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: await freshPrefix("hpt-shutdown-drain"),
    LOG_LEVEL: "info",
    SHUTDOWN_DRAIN_S: "2",
    SHUTDOWN_TIMEOUT_S: "5",
  });
  try {
    const created = await fetch(`${svc.url}/users`, { method: "POST", headers: ADMIN_JSON, body: JSON.stringify({ email: "d@example.com", name: "D" }) });
    expect(created.status).toBe(201);
    const idle = await rawConnection(svc.port);
    expect(await idle.get("/healthz")).toContain("200 OK");

    // Load the way a load balancer sends it: 8 keep-alive connections (fetch pools them) carrying
    // requests back to back, while a health check polls /readyz; once it fails, no new request is
    // routed here (those already sent must still be answered). Each request is timed on our clock.
    type Outcome = { sentAt: number; status?: number; error?: string; connection?: string | null };
    const outcomes: Outcome[] = [];
    let routed = true;
    let signalledAt = Infinity;
    let healthCheckFailedAt = Infinity;
    // Like a balancer's health check: every 100 ms, out of rotation after 3 failures in a row.
    const healthCheck = (async () => {
      let failures = 0;
      while (routed) {
        const status = await fetch(`${svc.url}/readyz`).then((r) => r.status, () => 0);
        failures = status === 200 ? 0 : failures + 1;
        if (failures === 3) {
          routed = false;
          healthCheckFailedAt = Date.now();
        } else await Bun.sleep(100);
      }
    })();
    const client = async () => {
      while (routed) {
        const o: Outcome = { sentAt: Date.now() };
        outcomes.push(o);
        try {
          const res = await fetch(`${svc.url}/users/1`);
          await res.arrayBuffer();
          o.status = res.status;
          o.connection = res.headers.get("connection");
        } catch (err) {
          o.error = (err as { code?: string }).code ?? (err as Error).message;
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await Bun.sleep(300);
    expect(outcomes.length).toBeGreaterThan(0);

    signalledAt = Date.now();
    svc.proc.kill("SIGTERM");
    expect(await svc.waitFor("shutting down: draining")).toBe(true);
    // The balancer's probe fails at once, with the one error shape.
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { code: string } }).error.code).toBe("shutting_down");
    // A keep-alive connection opened before the signal: still answered, then closed by the server.
    const drained = await idle.get("/healthz");
    expect(drained).toContain("200 OK");
    expect(drained.toLowerCase()).toContain("connection: close");
    expect(await idle.closedByServer()).toBe(true);

    await healthCheck;
    await Promise.all(clients);
    expect(await svc.waitFor("listener closed")).toBe(true);
    expect(await svc.stop("SIGTERM")).toBe(0);

    const closedAt = (
      JSON.parse(svc.output().split("\n").find((l) => l.includes('"msg":"listener closed"'))!) as { at: number }
    ).at;
    // Every request sent before the listener closed got its answer: none reset, none refused.
    const sentBeforeClose = outcomes.filter((o) => o.sentAt < closedAt);
    expect(sentBeforeClose.length).toBe(outcomes.length);
    expect(sentBeforeClose.filter((o) => o.status !== 200)).toEqual([]);
    // Load ran into the drain: requests sent after the signal, before the health check failed,
    // were served, and their answers told the keep-alive clients to leave.
    const duringDrain = outcomes.filter((o) => o.sentAt >= signalledAt);
    expect(duringDrain.length).toBeGreaterThan(0);
    expect(duringDrain.some((o) => o.connection === "close")).toBe(true);
    expect(outcomes.every((o) => o.sentAt <= healthCheckFailedAt)).toBe(true);
    const order = ["shutting down: draining", "listener closed", "bye"].map((m) => svc.output().indexOf(m));
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!))).toBe(true);
  } finally {
    svc.proc.kill("SIGKILL");
  }
}, 60_000);

test("SIGTERM: requests still running at SHUTDOWN_TIMEOUT_S are answered 503 shutting_down, their statements cancelled; the write never commits and its Idempotency-Key is free", async () => {
  const { url: dbUrl } = await freshDatabase("shutdown_deadline");
  const env = {
    DATABASE_URL: dbUrl,
    DB_SEED_DEMO: "true", // users 2 and 3: the write and the read
    REDIS_URL,
    REDIS_KEY_PREFIX: await freshPrefix("hpt-shutdown-deadline"),
    LOG_LEVEL: "info",
    SHUTDOWN_DRAIN_S: "1",
    SHUTDOWN_TIMEOUT_S: "1",
  };
  const svc = await startService(env);
  let next: Awaited<ReturnType<typeof startService>> | undefined;
  let lock: TableLock | undefined;
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const nameOf = async (id: number) => (await sql<{ name: string }[]>`select name from users where id = ${id}`)[0]?.name;
  const waitingOnLock = async () => (await activeStatements(dbUrl)).filter((s) => s.wait_event_type === "Lock").length;
  try {
    const before = await nameOf(2);
    lock = await lockTable(dbUrl, "users");
    const key = crypto.randomUUID();
    const patch = () =>
      fetch(`${next?.url ?? svc.url}/users/2`, {
        method: "PATCH",
        headers: { ...ADMIN_JSON, "idempotency-key": key },
        body: JSON.stringify({ name: "Changed at shutdown" }),
      });
    // The write first: its Idempotency-Key is claimed before the read takes the point lane.
    const write = patch();
    expect(await eventually(async () => (await waitingOnLock()) === 1)).toBe(true);
    const read = fetch(`${svc.url}/users/3`);
    expect(await eventually(async () => (await waitingOnLock()) === 2)).toBe(true);

    svc.proc.kill("SIGTERM");
    // Both held past SHUTDOWN_DRAIN_S + SHUTDOWN_TIMEOUT_S: an HTTP answer each, not a reset.
    for (const res of await Promise.all([write, read])) {
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("connection")).toBe("close");
      const body = (await res.json()) as { error: { code: string }; requestId: string };
      expect(body.error.code).toBe("shutting_down");
      expect(body.requestId).toBe(res.headers.get("x-request-id")!);
    }
    expect(await svc.stop("SIGTERM")).toBe(0);
    const warning = svc.output().split("\n").find((l) => l.includes("shutdown timeout"));
    expect(JSON.parse(warning!)).toMatchObject({ level: "warn", answered503: 2 });
    expect(svc.output()).toContain("bye");

    // The statements were cancelled, not left waiting: once the lock goes, nothing of the
    // service runs any more and the write answered 503 did not commit.
    expect(await eventually(async () => (await waitingOnLock()) === 0)).toBe(true);
    await lock.release();
    expect(await eventually(async () => (await activeStatements(dbUrl)).length === 0)).toBe(true);
    expect(await nameOf(2)).toBe(before);

    // The key recorded nothing (the write was rolled back): a retry on the next instance applies it, once.
    next = await startService(env);
    const retried = await patch();
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(await nameOf(2)).toBe("Changed at shutdown");
  } finally {
    await lock?.release();
    await sql.end();
    svc.proc.kill("SIGKILL");
    next?.proc.kill("SIGKILL");
  }
}, 60_000);
