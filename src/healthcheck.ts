import { env as loadEnv } from "./env";

/**
 * The image's HEALTHCHECK (slim and distroless images have no curl): GET /readyz on the local
 * port. Returns the exit code: 0 when ready, 1 otherwise (not ready, refused, or no answer in 3 s).
 */
export async function healthcheck(): Promise<number> {
  const env = loadEnv();
  // Listening on every address: ask loopback. A specific HOST is where the server is.
  const host = ["0.0.0.0", "::", ""].includes(env.HOST) ? "127.0.0.1" : env.HOST.includes(":") ? `[${env.HOST}]` : env.HOST;
  const url = `http://${host}:${env.PORT}/readyz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    if (res.ok) return 0;
    console.error(`${url}: ${res.status} ${await res.text()}`);
  } catch (err) {
    console.error(`${url}: ${(err as Error).message}`);
  }
  return 1;
}
