import { BlockList, isIP } from "node:net";

/** The proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES); `has` is false for anything not an IP. */
export interface TrustedProxies {
  has(address: string): boolean;
}

const family = (address: string) => (isIP(address) === 4 ? "ipv4" : "ipv6");

/** Why `entry` is not an IP address or a CIDR range (`10.0.0.0/8`, `fd00::/8`), or undefined. */
export function badProxyEntry(entry: string): string | undefined {
  const [ip = "", prefix, ...rest] = entry.split("/");
  const version = ip.includes("%") ? 0 : isIP(ip); // a zone (fe80::1%eth0) names no address another host sees
  if (version === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8)`;
  const max = version === 4 ? 32 : 128;
  if (prefix !== undefined && (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max)) {
    return `"${entry}": the prefix length must be 0 to ${max}`;
  }
  return undefined;
}

/**
 * Matches addresses against the list (entries already checked by badProxyEntry). node:net's
 * BlockList does the CIDR arithmetic, and matches IPv4-mapped IPv6 (::ffff:10.0.0.1, what a
 * dual-stack socket reports for an IPv4 peer) against IPv4 entries and the reverse.
 */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip, prefix] = entry.split("/") as [string, string | undefined];
    if (prefix === undefined) list.addAddress(ip, family(ip));
    else list.addSubnet(ip, Number(prefix), family(ip));
  }
  const empty = entries.length === 0;
  return {
    // BlockList takes a malformed address silently (some as 0.0.0.0): only real IPs are checked.
    has: (address) => !empty && isIP(address) !== 0 && list.check(address, family(address)),
  };
}

/**
 * The client's address for per-client limits. A peer that is not a trusted proxy is the client
 * (its X-Forwarded-For, which anyone can write, is ignored). From a trusted proxy, X-Forwarded-For
 * is walked from the right — each proxy appends the address it saw — skipping trusted proxies;
 * the first untrusted address is the client. Entries left of it were written by the client
 * itself, so prepending cannot spoof. No header, every entry trusted, or a malformed entry reached
 * first: the peer (continuing past a malformed entry would believe entries no trusted hop vouched for).
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: TrustedProxies): string {
  if (forwardedFor === undefined || !trusted.has(peer)) return peer;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === "") continue; // "a, , b" or a trailing comma: no address, nothing said
    if (isIP(hop) === 0) break;
    if (!trusted.has(hop)) return hop;
  }
  return peer;
}
