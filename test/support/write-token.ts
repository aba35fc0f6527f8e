import { tokenFor } from "./auth";

/** The `Authorization: Bearer` token a browser page sends on writes acting as `userId`. */
export function writeToken(userId: number): Promise<string> {
  return tokenFor(userId);
}
