import { parseArgs } from "node:util";
import postgres from "postgres";
import { env as loadEnv } from "../env";
import { databaseView } from "../obs/pg-stat-statements";
import { fetchSnapshot, renderDatabaseView, renderTable } from "../obs/top";

// `bun run top [--url http://127.0.0.1:3000] [--token T] [--database URL] [--watch [--interval 2]]`:
// the per-route latency table of a running service (GET /debug/routes), heaviest route first; with
// a database URL (--database or DATABASE_URL) also the database's view from pg_stat_statements.
// The token comes from --token or DEBUG_TOKEN, the URL from --url or HOTPATH_URL.

const env = loadEnv();
const { values } = parseArgs({
  options: {
    url: { type: "string", default: env.HOTPATH_URL },
    token: { type: "string", default: env.DEBUG_TOKEN },
    database: { type: "string", default: env.DATABASE_URL },
    watch: { type: "boolean", default: false },
    interval: { type: "string", default: "2" },
  },
});
const url = values.url!;
const sql = values.database ? postgres(values.database, { max: 1, onnotice: () => {}, fetch_types: false, connection: { application_name: "hotpath-top" } }) : undefined;
let failed = false;
const render = async () => {
  const parts: string[] = [];
  try {
    parts.push(renderTable(await fetchSnapshot(url, values.token), url));
  } catch (err) {
    failed = true;
    console.error(`top: ${(err as Error).message}`);
  }
  if (sql) {
    try {
      parts.push(renderDatabaseView(await databaseView(sql)));
    } catch (err) {
      failed = true;
      console.error(`top: database: ${(err as Error).message}`);
    }
  }
  return parts.join("\n\n");
};
if (!values.watch) {
  const text = await render();
  if (text) console.log(text);
  await sql?.end({ timeout: 1 });
  process.exit(failed ? 1 : 0);
}
const every = Math.max(0.5, Number(values.interval) || 2) * 1000;
for (;;) {
  failed = false;
  const text = await render();
  if (failed && !text) process.exit(1);
  process.stdout.write(`\x1b[2J\x1b[H${text}\n`);
  await Bun.sleep(every);
}
