import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { adminOnly, caller, requireSelfOrAdmin } from "../auth/authorize";
import { notFound } from "../lib/errors";
import { idParam, patchOf } from "../lib/params";
import { authenticated, bodyWrites, conditionalRead, errors, jsonBody, lsnParameter, notModified, ok, openApiRouter, stored, writeParameters } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { jsonBodyGuard } from "../lib/validate";
import { authenticate } from "../middleware/authenticate";
import { PublicUser, User } from "./schemas";
import type { Entry } from "../cache/entry";
import { ifMatchOf } from "../lib/preconditions";
import { usersRepository, type UsersRepository } from "../repositories/users";
import type { AppEnv } from "../context/app-env";
import type { Auth } from "../auth/authorize";
import type { Deps } from "../types";

const email = z.string().trim().toLowerCase().email().max(254);
const name = z.string().trim().min(1).max(200);
const bio = z.string().max(5000).nullable();
const createUser = z.object({ email, name, bio: bio.optional() }).strict();
const updateUser = patchOf({ email, name, bio });

/**
 * PATCH /users/:id: someone else's profile is a 403 before the body is validated. Route
 * middleware runs before the route's validators, so an invalid id is left to them (400).
 */
const selfOrAdmin: MiddlewareHandler<AppEnv> = async function selfOrAdmin(c, next) {
  const params = idParam.safeParse(c.req.param());
  if (params.success) requireSelfOrAdmin(c, params.data.id);
  await next();
};

const getMe = (auth: Auth) =>
  createRoute({
    method: "get",
    path: "/me",
    tags: ["users"],
    summary: "The caller's own profile, email included (never cached)",
    middleware: [authenticate(auth)],
    ...authenticated,
    parameters: [lsnParameter],
    responses: { 200: ok(User, "The caller's profile"), ...errors(...stored, 400, 401, 404, 429) },
  });
const getUser = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["users"],
  summary: "A public profile (cached)",
  request: { params: idParam },
  ...conditionalRead,
  responses: { 200: ok(PublicUser, "The profile", { etag: true }), ...notModified, ...errors(...stored, 400, 404) },
});
const postUser = createRoute({
  method: "post",
  path: "/",
  tags: ["users"],
  summary: "Create a user (admin)",
  middleware: [adminOnly, jsonBodyGuard],
  request: { body: jsonBody(createUser) },
  ...authenticated,
  ...writeParameters(),
  responses: { 201: ok(User, "Created", { location: true }), ...errors(...bodyWrites) },
});
const patchUser = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["users"],
  summary: "Change a profile (the user themself or an admin)",
  middleware: [selfOrAdmin, jsonBodyGuard],
  request: { params: idParam, body: jsonBody(updateUser) },
  ...authenticated,
  ...writeParameters({ ifMatch: true }),
  responses: { 200: ok(User, "The changed profile"), ...errors(...bodyWrites, 404, 412) },
});

/**
 * The cached public profile (JSON text without the email, or null when there is no such user).
 * The one filler of keys.user(id): every route that reads it goes through here, so the cached
 * shape cannot drift — and the email never reaches the cache.
 */
export function cachedProfile({ cache, keys, env }: Deps, users: UsersRepository, id: number): Promise<Entry | null> {
  return cache.getOrLoadEntry(keys.user(id), env.CACHE_TTL_USER_S, () => users.publicProfile(id), "profiles");
}

export function usersRouter(deps: Deps) {
  const { cache, keys } = deps;
  const users = usersRepository(deps.reads.primary);

  return openApiRouter()
    // Before /:id. The caller's full profile, email included: private, never cached.
    .openapi(getMe(deps.auth), async (c) => {
      // Uncached, may read a replica: the caller's own writes are seen through Hotpath-LSN.
      const user = await deps.reads.read(c, (on) => users.fullProfile(caller(c).userId, on));
      if (!user) throw notFound("user");
      return c.json(user);
    })
    .openapi(getUser, async (c) => {
      const { id } = c.req.valid("param");
      const entry = await cachedProfile(deps, users, id);
      if (entry === null) throw notFound("user");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .openapi(postUser, async (c) => {
      const user = await users.create(c.req.valid("json"));
      // The new id may have been asked for before it existed: drop the cached 404s (the profile's
      // and the stats', which GET /users/:id/stats negative-caches under its own key).
      await cache.evict(keys.user(user.id), keys.userStats(user.id));
      c.header("Location", `/users/${user.id}`);
      return c.json(user, 201);
    })
    .openapi(patchUser, async (c) => {
        const { id } = c.req.valid("param");
        const user = await users.update(id, c.req.valid("json"), ifMatchOf(c));
        if (!user) throw notFound("user");
        await cache.evict(keys.user(id));
        return c.json(user);
      },
    );
}
