import { describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { badProxyEntry, clientAddress, trustedProxies } from "../src/lib/client-address";
import { freshDatabase, freshPrefix, REDIS_URL } from "./support/env";
import { startService } from "./support/spawn";

// TRUSTED_PROXIES: behind a load balancer the client address (the failed-token limit's key) comes
// from X-Forwarded-For, walked from the right; from any other peer the header is ignored.

describe("the list", () => {
  test("IPv4 and IPv6 addresses and CIDR ranges, /0 to /32 and /0 to /128", () => {
    for (const ok of ["10.0.0.5", "10.0.0.0/8", "0.0.0.0/0", "192.168.1.1/32", "::1", "fd00::/8", "::/0", "2001:db8::1/128", "::ffff:10.0.0.0/104"]) {
      expect(badProxyEntry(ok)).toBeUndefined();
    }
    expect(badProxyEntry("10.0.0.0/33")).toContain("0 to 32");
    expect(badProxyEntry("fd00::/129")).toContain("0 to 128");
    for (const bad of ["10.0.0", "10.0.0.256", "example.com", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "10.0.0.0/8/8", "fe80::1%eth0", "[::1]", "10.0.0.1:80", "*"]) {
      expect(badProxyEntry(bad)).toBeString();
    }
  });

  test("matching: single addresses, ranges at their edges, IPv4-mapped IPv6 both ways", () => {
    const t = trustedProxies(["127.0.0.1", "10.0.0.0/8", "192.168.1.1/32", "fd00::/8", "::ffff:172.16.0.0/108"]);
    expect(t.has("127.0.0.1")).toBe(true);
    expect(t.has("127.0.0.2")).toBe(false);
    expect(t.has("10.255.255.255")).toBe(true);
    expect(t.has("11.0.0.0")).toBe(false);
    expect(t.has("192.168.1.1")).toBe(true);
    expect(t.has("192.168.1.2")).toBe(false);
    expect(t.has("fd12:3456::1")).toBe(true);
    expect(t.has("fe00::1")).toBe(false);
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    expect(t.has("::ffff:127.0.0.1")).toBe(true);
    expect(t.has("::ffff:10.1.2.3")).toBe(true);
    expect(t.has("::ffff:127.0.0.2")).toBe(false);
    expect(t.has("172.16.5.5")).toBe(true);
    expect(t.has("172.32.0.1")).toBe(false);
    // Not an address: never trusted (BlockList alone would read some of these as 0.0.0.0).
    for (const junk of ["", "unknown", "1.2.3", "garbage", "0.0.0.0.0"]) expect(trustedProxies(["0.0.0.0/0", "::/0"]).has(junk)).toBe(false);
    expect(trustedProxies(["0.0.0.0/0"]).has("203.0.113.9")).toBe(true);
    expect(trustedProxies(["::/0"]).has("2001:db8::9")).toBe(true);
    expect(trustedProxies(["2001:db8::/128"]).has("2001:db8::")).toBe(true);
    expect(trustedProxies(["2001:db8::/128"]).has("2001:db8::1")).toBe(false);
    expect(trustedProxies([]).has("127.0.0.1")).toBe(false);
  });
});

describe("the walk", () => {
  const t = trustedProxies(["10.0.0.0/8", "fd00::/8"]);
  const lb = "10.0.0.1";

  test("an untrusted peer is the client: its X-Forwarded-For is ignored", () => {
    expect(clientAddress("198.51.100.7", "203.0.113.1", t)).toBe("198.51.100.7");
    expect(clientAddress("198.51.100.7", undefined, t)).toBe("198.51.100.7");
    expect(clientAddress("127.0.0.1", "203.0.113.1", trustedProxies([]))).toBe("127.0.0.1");
    expect(clientAddress("unknown", "203.0.113.1", t)).toBe("unknown");
  });

  test("from a trusted peer: the rightmost untrusted entry, skipping trusted hops", () => {
    expect(clientAddress(lb, "203.0.113.1", t)).toBe("203.0.113.1");
    expect(clientAddress(lb, "203.0.113.1, 10.0.0.2, 10.9.9.9", t)).toBe("203.0.113.1");
    expect(clientAddress("::ffff:10.0.0.1", "203.0.113.1", t)).toBe("203.0.113.1");
    expect(clientAddress("fd00::1", "2001:db8::5, fd00::2", t)).toBe("2001:db8::5");
    expect(clientAddress(lb, "::ffff:203.0.113.1", t)).toBe("::ffff:203.0.113.1");
    // The client prepends whatever it likes; the proxy appends what it saw: that is believed.
    expect(clientAddress(lb, "1.1.1.1, 10.0.0.7, 203.0.113.1", t)).toBe("203.0.113.1");
  });

  test("no header, or every entry trusted: the peer", () => {
    expect(clientAddress(lb, undefined, t)).toBe(lb);
    expect(clientAddress(lb, "", t)).toBe(lb);
    expect(clientAddress(lb, "10.0.0.2, fd00::3", t)).toBe(lb);
  });

  test("malformed entries: blanks are skipped; anything else ends the walk at the peer, never believing what lies left of it", () => {
    expect(clientAddress(lb, "203.0.113.1, , ", t)).toBe("203.0.113.1");
    expect(clientAddress(lb, "garbage, 203.0.113.1", t)).toBe("203.0.113.1");
    expect(clientAddress(lb, "203.0.113.1, garbage", t)).toBe(lb);
    expect(clientAddress(lb, "203.0.113.1, 10.0.0.2, unknown", t)).toBe(lb);
    for (const junk of ["203.0.113.1:4711", "[2001:db8::1]", "1.2.3", "999.0.0.1", "for=203.0.113.1", "\u0000"]) {
      expect(clientAddress(lb, junk, t)).toBe(lb);
    }
  });
});

describe("end to end: the failed-token limit behind a proxy", () => {
  // A refused token: counted against the client address (RATE_LIMIT_AUTH_FAILURES=2 here).
  const refused = (url: string, forwardedFor: string) =>
    fetch(`${url}/flags/tp`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: "Bearer wrong.token.here", "x-forwarded-for": forwardedFor },
      body: '{"enabled":true}',
    }).then(async (r) => (await r.body?.cancel(), r.status));

  async function service(prefix: string, extra: Record<string, string>) {
    const { url } = await freshDatabase(`client_address_${prefix}`);
    return startService({
      DATABASE_URL: url,
      REDIS_URL,
      REDIS_KEY_PREFIX: await freshPrefix(`hp_ca_${prefix}`),
      REDIS_COMMAND_TIMEOUT_MS: "5000",
      DB_SEED_DEMO: "false",
      RATE_LIMIT_AUTH_FAILURES: "2",
      RATE_LIMIT_AUTH_FAILURES_WINDOW_S: "60",
      ...extra,
    });
  }

  test("TRUSTED_PROXIES=127.0.0.1: each forwarded client has its own budget, and prepending cannot spoof", async () => {
    const svc = await service("trusted", { TRUSTED_PROXIES: "127.0.0.1" });
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    try {
      expect(await refused(svc.url, "203.0.113.1")).toBe(401);
      expect(await refused(svc.url, "203.0.113.1")).toBe(401);
      expect(await refused(svc.url, "203.0.113.1")).toBe(429);
      // The client wrote 203.0.113.2; the proxy appended 203.0.113.1: still .1's budget.
      expect(await refused(svc.url, "203.0.113.2, 203.0.113.1")).toBe(429);
      expect(await refused(svc.url, "203.0.113.2")).toBe(401);
      expect(Number(await redis.get("hp_ca_trusted:rl:auth_failures:203.0.113.1"))).toBe(2);
      expect(Number(await redis.get("hp_ca_trusted:rl:auth_failures:203.0.113.2"))).toBe(1);
      expect(await redis.get("hp_ca_trusted:rl:auth_failures:127.0.0.1")).toBeNull();
    } finally {
      redis.disconnect();
      await svc.stop();
    }
  });

  test("unset: X-Forwarded-For is ignored, every request counts against the peer 127.0.0.1", async () => {
    const svc = await service("untrusted", {});
    try {
      expect(await refused(svc.url, "203.0.113.1")).toBe(401);
      expect(await refused(svc.url, "203.0.113.1")).toBe(401);
      expect(await refused(svc.url, "203.0.113.2")).toBe(429);
    } finally {
      await svc.stop();
    }
  });
});
