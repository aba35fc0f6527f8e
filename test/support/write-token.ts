/**
 * The `Authorization: Bearer` token that tests send on writes acting as `userId`; the one place
 * that knows how a test gets one. Authentication is not on this branch yet, so the service does
 * not read it: when JWT verification lands, this mints a real token (sub = String(userId)) with
 * the tests' key, and every caller keeps working unchanged.
 */
export function writeToken(userId: number): string {
  return `unverified-test-token-for-user-${userId}`;
}
