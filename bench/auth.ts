import { mintToken } from "../src/auth/tokens";

// The bench servers verify tokens like production (AUTH on); writes carry an admin token for
// this secret (admin: the mixed workload writes for any user, as the seed's clients did).
export const BENCH_JWT_SECRET = "bench-secret-for-hotpath-benchmarks-0123456789";
export const BENCH_TOKEN = await mintToken(new TextEncoder().encode(BENCH_JWT_SECRET), { sub: 0, admin: true, ttlS: 24 * 3600 });
