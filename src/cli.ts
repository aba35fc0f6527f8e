// The image's entrypoint (`ENTRYPOINT ["bun", "src/cli.ts"]`, `CMD ["serve"]`). Dispatching in
// bun rather than in a shell script keeps bun itself as PID 1, so SIGTERM reaches the server's own
// handler, and works on images without a shell. Each command loads only what it needs.
export {};

const USAGE = "usage: bun src/cli.ts [serve | migrate | healthcheck]";

const command = process.argv[2] ?? "serve";
switch (command) {
  case "serve":
    await import("./index");
    break;
  case "migrate":
    // Migrating serves no request: the production rule that a key must be configured (JWT_SECRET)
    // is for serving, so a release pipeline can migrate with DATABASE_URL alone.
    process.env.AUTH ||= "off";
    await (await import("./db/migrate")).migrateCommand();
    break;
  case "healthcheck":
    process.exit(await (await import("./healthcheck")).healthcheck());
  default:
    console.error(`hotpath: unknown command "${command}"\n${USAGE}`);
    process.exit(2);
}
