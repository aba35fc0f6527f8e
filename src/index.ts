import { env as loadEnv } from "./env";
import { logger } from "./lib/log";
import { runServer } from "./server";
import { isWorker, supervise, workerCount } from "./workers/supervisor";

// WORKERS=1 (default): this process serves. WORKERS=N|auto: it supervises N that do (README "All cores").
const env = loadEnv();
const n = workerCount(env.WORKERS);
if (n > 1 && !isWorker(env)) process.exit(await supervise({ n, env, log: logger(env.LOG_LEVEL) }));
else await runServer(env);
