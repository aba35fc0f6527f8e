import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import postgres from "postgres";
import { createApp } from "../src/app";
import { createServices } from "../src/services";
import { TEST_JWT_SECRET, tokenFor } from "./support/auth";
import { harness, type Harness } from "./support/harness";
import { expectError, requester } from "./support/http";

// Authentication (bearer JWT on every write) and authorization (owner-only) on the real Postgres
// and Redis. Every denial is checked three ways: status + WWW-Authenticate, the one error shape,
// and nothing changed (rows and cache entries compared before and after).

let h: Harness;
let sql: ReturnType<typeof postgres>;
let alice: number;
let bob: number;
let aliceDoc: number;
let bobDoc: number;
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

beforeAll(async () => {
  h = await harness("auth", { env: { JWT_ISSUER: "https://issuer.test", JWT_CLOCK_SKEW_S: "30" } });
  sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
  const iss = { issuer: "https://issuer.test" };
  const admin = { authorization: `Bearer ${await tokenFor("admin", iss)}` };
  const mk = async (email: string) => (await (await h.request("/users", { method: "POST", headers: admin, json: { email, name: email } })).json()).id;
  alice = await mk("alice@example.com");
  bob = await mk("bob@example.com");
  const doc = async (userId: number) => (await (await h.request("/documents", { method: "POST", headers: admin, json: { userId, title: "t" } })).json()).id;
  aliceDoc = await doc(alice);
  bobDoc = await doc(bob);
  await h.request("/flags/f", { method: "PUT", headers: admin, json: { enabled: false } });
});
afterAll(async () => {
  await sql.end();
  await h.close();
});

/** Every row and every cache entry (values and generation counters) of this file. */
async function snapshot() {
  const rows = {
    users: await sql`select * from users order by id`,
    documents: await sql`select * from documents order by id`,
    flags: await sql`select * from feature_flags order by key`,
  };
  const keys = (await h.redis.keys(`${h.prefix}:*`)).filter((k) => !k.includes(":rl:")).sort();
  const values = keys.length ? await h.redis.mget(...keys) : [];
  return { rows, cache: Object.fromEntries(keys.map((k, i) => [k, values[i]])) };
}

/** Fill the cache entries a write would evict, so a denial that evicted would show. */
async function warm() {
  for (const p of [`/users/${alice}`, `/users/${bob}`, `/documents/${aliceDoc}`, `/documents/${bobDoc}`, `/users/${alice}/stats`, "/flags/f", "/flags"]) {
    expect((await h.request(p)).status).toBe(200);
  }
}

const writes = () =>
  [
    ["POST", "/users", { email: "mallory@example.com", name: "M" }],
    ["PATCH", `/users/${alice}`, { email: "attacker@example.com" }],
    ["POST", "/documents", { userId: alice, title: "forged" }],
    ["PATCH", `/documents/${aliceDoc}`, { title: "defaced" }],
    ["DELETE", `/documents/${aliceDoc}`, undefined],
    ["PUT", "/flags/f", { enabled: true }],
  ] as const;

const sign = (claims: Record<string, unknown>, header: { alg: string } = { alg: "HS256" }, key: Uint8Array = secret) =>
  new SignJWT(claims).setProtectedHeader(header).sign(key);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("401: no valid token, nothing changes", () => {
  test("missing token: 401 with the bare Bearer challenge (RFC 6750 §3.1: no error code)", async () => {
    await warm();
    const before = await snapshot();
    for (const [method, path, json] of writes()) {
      const res = await h.request(path, { method, json });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="hotpath"');
      expect(res.headers.get("cache-control")).toBe("no-store");
      await expectError(res, 401, "unauthorized");
    }
    expect(await snapshot()).toEqual(before);
    // Writes to routes that do not exist are refused the same way: the token is checked first.
    await expectError(await h.request("/nope", { method: "DELETE" }), 401, "unauthorized");
  });

  const iss = "https://issuer.test";
  const bad: [string, () => Promise<string>][] = [
    ["malformed header (no Bearer)", async () => `Basic ${Buffer.from("a:b").toString("base64")}`],
    ["garbage token", async () => "Bearer not.a.jwt"],
    ["empty bearer", async () => "Bearer "],
    ["expired (beyond the clock skew)", async () => `Bearer ${await sign({ sub: String(alice), iss, exp: now() - 120 })}`],
    ["not yet valid (nbf beyond the skew)", async () => `Bearer ${await sign({ sub: String(alice), iss, exp: now() + 600, nbf: now() + 600 })}`],
    ["no exp", async () => `Bearer ${await sign({ sub: String(alice), iss })}`],
    ["no sub", async () => `Bearer ${await sign({ iss, exp: now() + 600, role: "admin" })}`],
    ["sub not a user id", async () => `Bearer ${await sign({ sub: "alice", iss, exp: now() + 600 })}`],
    ["sub past int4", async () => `Bearer ${await sign({ sub: "99999999999", iss, exp: now() + 600 })}`],
    ["wrong issuer", async () => `Bearer ${await sign({ sub: String(alice), iss: "https://evil.test", exp: now() + 600, role: "admin" })}`],
    ["no issuer", async () => `Bearer ${await sign({ sub: String(alice), exp: now() + 600 })}`],
    ["wrong secret", async () => `Bearer ${await sign({ sub: String(alice), iss, exp: now() + 600, role: "admin" }, { alg: "HS256" }, new TextEncoder().encode("another-secret-another-secret-0123456789"))}`],
    ["alg none", async () => `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: String(alice), iss, exp: now() + 600, role: "admin" })}.`],
    ["HS512 (not an accepted alg)", async () => `Bearer ${await sign({ sub: String(alice), iss, exp: now() + 600 }, { alg: "HS512" })}`],
    ["tampered payload (role added)", async () => {
      const [hd, , sig] = (await sign({ sub: String(alice), iss, exp: now() + 600 })).split(".");
      return `Bearer ${hd}.${b64({ sub: String(alice), iss, exp: now() + 600, role: "admin" })}.${sig}`;
    }],
  ];

  test.each(bad)("%s → 401 invalid_token, nothing changed", async (_label, header) => {
    await warm();
    const before = await snapshot();
    const authorization = await header();
    for (const [method, path, json] of writes()) {
      const res = await h.request(path, { method, json, headers: { authorization } });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="hotpath", error="invalid_token", error_description="[^"]+"$/);
      await expectError(res, 401, "unauthorized");
    }
    expect(await snapshot()).toEqual(before);
  });

  test("a token expired within JWT_CLOCK_SKEW_S is still accepted", async () => {
    const token = await sign({ sub: String(alice), iss: "https://issuer.test", exp: now() - 5 });
    const res = await h.request(`/users/${alice}`, { method: "PATCH", json: { bio: "skew ok" }, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  test("a cross-site form post is still 415 (content type checked before any token)", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      await expectError(await h.request(`/users/${alice}`, { method: "PATCH", body: "email=attacker@example.com", headers: { "content-type": type } }), 415, "unsupported_media_type");
    }
  });

  test("GET /users/me without a token is 401; reads never need one", async () => {
    await expectError(await h.request("/users/me"), 401, "unauthorized");
    expect((await h.request(`/users/${alice}`)).status).toBe(200);
  });
});

describe("403: a valid token acting on what it does not own, nothing changes", () => {
  const as = async (who: number | "admin") => ({ authorization: `Bearer ${await tokenFor(who, { issuer: "https://issuer.test" })}` });

  type Req = () => [string, string, object | undefined];
  test.each<[string, Req]>([
    ["POST /users by a non-admin", () => ["POST", "/users", { email: "x@example.com", name: "X" }]],
    ["PATCH another user's profile", () => ["PATCH", `/users/${alice}`, { email: "attacker@example.com" }]],
    ["PATCH a user id that does not exist (403, not 404: ids reveal nothing)", () => ["PATCH", "/users/999999", { name: "ghost" }]],
    ["POST /documents for another user", () => ["POST", "/documents", { userId: alice, title: "forged" }]],
    ["PATCH another user's document", () => ["PATCH", `/documents/${aliceDoc}`, { title: "defaced" }]],
    ["DELETE another user's document", () => ["DELETE", `/documents/${aliceDoc}`, undefined]],
    ["PUT /flags/:key by a non-admin", () => ["PUT", "/flags/f", { enabled: true }]],
    ["PUT a new flag by a non-admin", () => ["PUT", "/flags/new-one", { enabled: true }]],
  ])("%s", async (_label, req) => {
    await warm();
    const before = await snapshot();
    const [method, path, json] = req();
    const res = await h.request(path, { method, json, headers: await as(bob) });
    expect(res.headers.get("www-authenticate")).toBeNull();
    await expectError(res, 403, "forbidden");
    expect(await snapshot()).toEqual(before);
  });

  test("a missing document is 404 for anyone (owner test never reveals which ids exist)", async () => {
    for (const who of [bob, "admin"] as const) {
      for (const method of ["PATCH", "DELETE"]) {
        const json = method === "PATCH" ? { title: "x" } : undefined;
        await expectError(await h.request("/documents/999999", { method, json, headers: await as(who) }), 404, "not_found");
      }
    }
  });
});

describe("allowed: owners and admins", () => {
  const as = async (who: number | "admin") => ({ authorization: `Bearer ${await tokenFor(who, { issuer: "https://issuer.test" })}` });

  test("a user edits their own profile; the write is private, no-store", async () => {
    const res = await h.request(`/users/${bob}`, { method: "PATCH", json: { name: "Bob B." }, headers: await as(bob) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect((await (await h.request(`/users/${bob}`)).json()).name).toBe("Bob B.");
  });

  test("POST /documents takes userId from the token; naming yourself is fine too", async () => {
    const res = await h.request("/documents", { method: "POST", json: { title: "mine" }, headers: await as(bob) });
    expect(res.status).toBe(201);
    expect((await res.json()).userId).toBe(bob);
    const named = await h.request("/documents", { method: "POST", json: { userId: bob, title: "mine too" }, headers: await as(bob) });
    expect(named.status).toBe(201);
  });

  test("the owner patches and deletes their document; an admin may act for anyone", async () => {
    expect((await h.request(`/documents/${bobDoc}`, { method: "PATCH", json: { title: "by bob" }, headers: await as(bob) })).status).toBe(200);
    expect((await h.request(`/documents/${bobDoc}`, { method: "PATCH", json: { title: "by admin" }, headers: await as("admin") })).status).toBe(200);
    expect((await (await h.request(`/documents/${bobDoc}`)).json()).title).toBe("by admin");
    const forAlice = await h.request("/documents", { method: "POST", json: { userId: alice, title: "for alice" }, headers: await as("admin") });
    expect((await forAlice.json()).userId).toBe(alice);
    expect((await h.request(`/documents/${bobDoc}`, { method: "DELETE", headers: await as(bob) })).status).toBe(204);
    expect((await h.request(`/users/${alice}`, { method: "PATCH", json: { name: "Alice A." }, headers: await as("admin") })).status).toBe(200);
    expect((await h.request("/flags/f", { method: "PUT", json: { enabled: true }, headers: await as("admin") })).status).toBe(200);
  });
});

describe("JWT_JWKS_URL: RS256 / ES256 keys fetched from a JWKS endpoint", () => {
  let j: Harness;
  let jwks: ReturnType<typeof Bun.serve>;
  let rsa: CryptoKeyPair;
  let ec: CryptoKeyPair;
  beforeAll(async () => {
    rsa = await generateKeyPair("RS256");
    ec = await generateKeyPair("ES256");
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ];
    jwks = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys }) });
    j = await harness("auth_jwks", {
      env: { JWT_SECRET: "", JWT_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks.json`, JWT_AUDIENCE: "hotpath-api" },
    });
  });
  afterAll(async () => {
    await j.close();
    jwks.stop(true);
  });

  const token = (alg: "RS256" | "ES256", key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT({ sub: "0", role: "admin", aud: "hotpath-api", exp: now() + 600, ...claims })
      .setProtectedHeader({ alg, kid: alg === "RS256" ? "rsa-1" : "ec-1" })
      .sign(key);

  test("RS256 and ES256 tokens from the key set are accepted", async () => {
    for (const [alg, key] of [["RS256", rsa.privateKey], ["ES256", ec.privateKey]] as const) {
      const res = await j.request("/flags/jwks", { method: "PUT", json: { enabled: true }, headers: { authorization: `Bearer ${await token(alg, key)}` } });
      expect(res.status).toBeOneOf([200, 201]);
    }
  });

  test("wrong audience, a foreign key, or an HS256 token are 401", async () => {
    const stranger = await generateKeyPair("RS256");
    const tokens = [
      await token("RS256", rsa.privateKey, { aud: "someone-else" }),
      await token("RS256", stranger.privateKey),
      await tokenFor("admin", { audience: "hotpath-api" }),
    ];
    for (const t of tokens) {
      const res = await j.request("/flags/jwks2", { method: "PUT", json: { enabled: true }, headers: { authorization: `Bearer ${t}` } });
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
      await expectError(res, 401, "unauthorized");
    }
    expect((await j.request("/flags/jwks2")).status).toBe(404);
  });

  test("key server unreachable: 503 unavailable (not the client's fault), nothing written", async () => {
    const services = await createServices({ ...j.env, JWT_JWKS_URL: "http://127.0.0.1:1/jwks.json" });
    try {
      const request = requester(createApp(services));
      const res = await request("/flags/jwks3", { method: "PUT", json: { enabled: true }, headers: { authorization: `Bearer ${await token("RS256", rsa.privateKey)}` } });
      await expectError(res, 503, "unavailable");
      expect((await j.request("/flags/jwks3")).status).toBe(404);
    } finally {
      await services.close();
    }
  });
});
