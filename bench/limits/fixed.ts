// LIMIT SERVER 3: plain Bun.serve returning a fixed body the size of a profile response — the
// ceiling of HTTP on this machine with this load generator (no I/O behind the request at all).

const body = JSON.stringify({
  id: 4242,
  email: "user4242@example.com",
  name: "User 4242",
  bio: "Bio of user 4242",
  createdAt: "2025-10-22T10:00:00.000Z",
  updatedAt: "2025-10-22T10:00:00.000Z",
});
const headers = { "content-type": "application/json; charset=UTF-8" };

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3103),
  fetch: () => new Response(body, { headers }),
});

process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
