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
    // Migrating serves no request: no key needed (AUTH=off unless set, see scripts/migrate.ts).
    await (await import("./scripts/migrate")).migrateCommand();
    break;
  case "healthcheck":
    process.exit(await (await import("./healthcheck")).healthcheck());
  default:
    console.error(`hotpath: unknown command "${command}"\n${USAGE}`);
    process.exit(2);
}
