// Zipf-like ids and the request each endpoint sends; the load generator (loadgen.ts) imports this file.

/**
 * A rank in 1..n with P(rank = k) ≈ k^-s: inverse CDF of the continuous bounded power law, so it
 * costs one random number and a pow/exp per request (no table). For s = 1 it is log-uniform:
 * P(rank ≤ k) = ln(k + 1) / ln(n + 1), i.e. the top 1 % of ids draw ~half of the traffic.
 */
export function zipfRank(n: number, s: number, u: number): number {
  const x = s === 1 ? Math.exp(u * Math.log(n + 1)) : Math.pow((Math.pow(n + 1, 1 - s) - 1) * u + 1, 1 / (1 - s));
  return Math.min(n, Math.max(1, Math.floor(x)));
}

/**
 * Scatters ranks over 1..n (mul coprime with n): rank 2 is id 1 + mul, and so on, so the hot set
 * is spread over the whole id space. Rank 1 stays id 1 — with the seed's skew that is the user
 * with the most documents (46 544 of 1 M): the hottest user is also the heaviest.
 */
export const permute = (rank: number, n: number, mul: number): number => (((rank - 1) * mul) % n) + 1;

/** A prime multiplier that does not divide n (so rank → id is a bijection). */
export function multiplierFor(n: number): number {
  for (const p of [7919, 104729, 15485863, 2147483647]) if (n % p !== 0) return p;
  return 1;
}

export const ENDPOINTS = ["profile", "first", "next", "doc", "ustats", "gstats", "mixed"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export type Kind = Exclude<Endpoint, "mixed"> | "list100" | "fixed" | "patchUser" | "postDoc" | "patchDoc" | "postUser";

export const ENDPOINT_LABEL: Record<Endpoint, string> = {
  profile: "GET /users/:id (profile)",
  first: "GET /users/:id/documents (first page)",
  next: "GET /users/:id/documents (next page)",
  doc: "GET /documents/:id (with author)",
  ustats: "GET /users/:id/stats",
  gstats: "GET /stats",
  mixed: "mixed (90 % reads, 10 % writes)",
};

/** The mixed workload: mostly reads, 10 % writes (each write evicts cache entries). */
export const MIX: [Kind, number][] = [
  ["profile", 30], ["first", 20], ["next", 10], ["doc", 20], ["ustats", 8], ["gstats", 2],
  ["patchUser", 4], ["postDoc", 3], ["patchDoc", 2], ["postUser", 1],
];

export interface Spec {
  kind: Kind | "mixed";
  users: number;
  documents: number;
  s: number;
  userMul: number;
  docMul: number;
  /** Users with enough documents for the "next page"; cursors[i] belongs to deepUsers[i] (or one for all). */
  deepUsers: number[];
  cursors: string[];
  pageSize: number;
  /** Document ids uniform instead of Zipf (the pool sweep's cold document reads). */
  uniformDocs: boolean;
  nonce: string;
  /** Bearer token sent with every write (the service requires one). */
  token: string;
  /** Extra request header lines ("Name: value") sent with every read. */
  headers?: string[];
}

export interface Req {
  method: "GET" | "POST" | "PATCH";
  path: string;
  /** Writes only; sent with `Authorization: Bearer <spec.token>`. */
  body?: string;
}

export function makeRequester(spec: Spec, rnd: () => number, thread: number) {
  let counter = 0;
  const run = Math.random().toString(36).slice(2, 10); // e-mails stay unique across runs of one spec
  const mul = spec.deepUsers.length > 0 ? multiplierFor(spec.deepUsers.length) : 1;
  const user = () => permute(zipfRank(spec.users, spec.s, rnd()), spec.users, spec.userMul);
  const doc = () =>
    spec.uniformDocs ? 1 + Math.floor(rnd() * spec.documents) : permute(zipfRank(spec.documents, spec.s, rnd()), spec.documents, spec.docMul);
  const build = (kind: Kind): Req => {
    switch (kind) {
      case "profile": return { method: "GET", path: `/users/${user()}` };
      case "first": return { method: "GET", path: `/users/${user()}/documents?limit=${spec.pageSize}` };
      case "next": {
        const n = spec.deepUsers.length;
        const i = permute(zipfRank(n, spec.s, rnd()), n, mul) - 1;
        const cursor = spec.cursors.length === 1 ? spec.cursors[0] : spec.cursors[i];
        return { method: "GET", path: `/users/${spec.deepUsers[i]}/documents?limit=${spec.pageSize}&cursor=${cursor}` };
      }
      // The first page of 100 of a user who has at least 100 documents: always 100 items.
      case "list100": {
        const n = spec.deepUsers.length;
        return { method: "GET", path: `/users/${spec.deepUsers[permute(zipfRank(n, spec.s, rnd()), n, mul) - 1]}/documents?limit=100` };
      }
      case "doc": return { method: "GET", path: `/documents/${doc()}` };
      case "ustats": return { method: "GET", path: `/users/${user()}/stats` };
      case "gstats": return { method: "GET", path: "/stats" };
      case "fixed": return { method: "GET", path: "/" };
      case "patchUser": { const id = user(); return { method: "PATCH", path: `/users/${id}`, body: `{"name":"User ${id}"}` }; }
      case "postDoc": return { method: "POST", path: "/documents", body: `{"userId":${user()},"title":"Bench document","body":"bench","status":"draft"}` };
      case "patchDoc": { const id = doc(); return { method: "PATCH", path: `/documents/${id}`, body: `{"title":"Document ${id}"}` }; }
      case "postUser":
        counter++;
        return { method: "POST", path: "/users", body: `{"email":"bench-${spec.nonce}-${run}-${thread}-${counter}@example.com","name":"Bench user"}` };
    }
  };
  const total = MIX.reduce((a, [, w]) => a + w, 0);
  return (): Req => {
    if (spec.kind !== "mixed") return build(spec.kind);
    let u = rnd() * total;
    for (const [kind, w] of MIX) if ((u -= w) < 0) return build(kind);
    return build("profile");
  };
}
