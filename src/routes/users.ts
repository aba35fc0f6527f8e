import { Hono } from "hono";
import { z } from "zod";
import { adminOnly, caller, requireSelfOrAdmin } from "../auth/authorize";
import { notFound } from "../lib/errors";
import { idParam, patchOf } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import type { Entry } from "../cache/entry";
import { ifMatchOf } from "../lib/preconditions";
import { authenticate } from "../middleware/authenticate";
import { usersRepository, type UsersRepository } from "../repositories/users";
import type { AppEnv } from "../context/app-env";
import type { Deps } from "../types";

const email = z.string().trim().toLowerCase().email().max(254);
const name = z.string().trim().min(1).max(200);
const bio = z.string().max(5000).nullable();
const createUser = z.object({ email, name, bio: bio.optional() }).strict();
const updateUser = patchOf({ email, name, bio });

/**
 * The cached public profile (its JSON text without the email, and the compressed representations
 * stored with it; null when there is no such user).
 * The one filler of keys.user(id): every route that reads it goes through here, so the cached
 * shape cannot drift — and the email never reaches the cache.
 */
export function cachedProfile({ cache, keys, env }: Deps, users: UsersRepository, id: number): Promise<Entry | null> {
  return cache.getOrLoadEntry(keys.user(id), env.CACHE_TTL_USER_S, () => users.publicProfile(id), "profiles");
}

export function usersRouter(deps: Deps) {
  const { cache, keys } = deps;
  const users = usersRepository(deps.reads.primary);

  return new Hono<AppEnv>()
    // Before /:id. The caller's full profile, email included: private, never cached.
    .get("/me", authenticate(deps.auth), async (c) => {
      // Uncached, may read a replica: the caller's own writes are seen through Hotpath-LSN.
      const user = await deps.reads.read(c, (on) => users.fullProfile(caller(c).userId, on));
      if (!user) throw notFound("user");
      return c.json(user);
    })
    .get("/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const entry = await cachedProfile(deps, users, id);
      if (entry === null) throw notFound("user");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .post("/", adminOnly, validate("json", createUser), async (c) => {
      const user = await users.create(c.req.valid("json"));
      // The new id may have been asked for before it existed: drop the cached 404s (the profile's
      // and the stats', which GET /users/:id/stats negative-caches under its own key).
      await cache.evict(keys.user(user.id), keys.userStats(user.id));
      c.header("Location", `/users/${user.id}`);
      return c.json(user, 201);
    })
    .patch(
      "/:id",
      validate("param", idParam),
      async (c, next) => {
        requireSelfOrAdmin(c, c.req.valid("param").id);
        await next();
      },
      validate("json", updateUser),
      async (c) => {
        const { id } = c.req.valid("param");
        const user = await users.update(id, c.req.valid("json"), ifMatchOf(c));
        if (!user) throw notFound("user");
        await cache.evict(keys.user(id));
        return c.json(user);
      },
    );
}
