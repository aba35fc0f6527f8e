import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cycles, importGraph, importSpecifiers, LAYERS, layerGraph, layerOf, upwardEdges } from "../src/scripts/import-graph";

// Layers of src/, lowest first (the table is LAYERS in src/scripts/import-graph.ts):
//   0 context     src/context/: per-request stats, telemetry channel, Hono variables; imports nothing of ours
//   1 base        src/env.ts, src/lib/
//   2 adapters    src/db/, src/cache/, src/auth/, src/workers/, src/lifecycle.ts
//   3 repositories src/repositories/: each resource's data access (the routes call it)
//   4 obs         src/obs/ (the views take their inputs from app.ts)
//   5 deps        src/types.ts (Deps: what the root hands the routes)
//   6 middleware  src/middleware/
//   7 routes      src/routes/
//   8 root        src/services.ts, src/app.ts, src/server.ts
//   9 entry       src/index.ts, src/cli.ts, src/healthcheck.ts, src/scripts/
// An import may point to its own layer or a lower one, and no import cycle is allowed; type-only
// and dynamic imports count. `bun run import-graph [--files]` prints the graph.

const graph = importGraph();

test("the layer table in this comment is the one the check uses", () => {
  expect(LAYERS.map((l) => l.name)).toEqual(["context", "base", "adapters", "repositories", "obs", "deps", "middleware", "routes", "root", "entry"]);
});

test("every file of src/ is in a layer, and every relative import names a file", () => {
  expect(graph.files.length).toBeGreaterThan(50);
  expect(graph.files.filter((f) => layerOf(f) < 0)).toEqual([]);
  expect(graph.unresolved).toEqual([]);
});

test("no import points up a layer", () => {
  expect(upwardEdges(graph.edges)).toEqual([]);
});

test("no import cycle", () => {
  expect(cycles(graph.files, graph.edges)).toEqual([]);
});

test("the context layer is a leaf, and the observability views import no backend module", () => {
  expect(graph.edges.filter((e) => e.from.startsWith("src/context/") && !e.to.startsWith("src/context/"))).toEqual([]);
  const views = ["src/obs/index.ts", "src/obs/metrics.ts", "src/obs/route-table.ts", "src/obs/query-watch.ts", "src/obs/request-log.ts"];
  const backend = /^src\/(db|cache|auth|workers|routes|middleware)\/|^src\/(types|services|app|server)\.ts$/;
  expect(graph.edges.filter((e) => views.includes(e.from) && backend.test(e.to))).toEqual([]);
});

test("the layer graph: each layer imports only the ones below it", () => {
  const lines = layerGraph(graph.edges);
  expect(lines.at(-1)).toBe("0 context      → (nothing of ours)");
  for (const line of lines) {
    const [, i, targets] = line.match(/^(\d+) \S+\s+→ (.*)$/)!;
    for (const name of targets!.split(", ")) {
      if (name !== "(nothing of ours)") expect(LAYERS.findIndex((l) => l.name === name)).toBeLessThan(Number(i));
    }
  }
});

test("the parser sees every form of import, type-only and dynamic included, and no commented one", () => {
  const source = [
    'import { a } from "./a";',
    'import type { B } from "../b";',
    "import {\n  c,\n  type C,\n} from './c';",
    'export { d } from "./d";',
    'export type { E } from "./e";',
    'export * from "./f";',
    'import "./g";',
    'const h = await import("./h");',
    'import { z } from "zod";',
    '// import { x } from "./commented";',
    '/* import { y } from "./block-commented"; */',
    'const s = "import { w } from \'./in-a-string\'";',
  ].join("\n");
  expect(importSpecifiers(source).sort()).toEqual(["../b", "./a", "./c", "./d", "./e", "./f", "./g", "./h"]);
});

const tmp = mkdtempSync(join(tmpdir(), "hp-layers-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("an upward import and a cycle are found (a tree that breaks both rules)", () => {
  const files: Record<string, string> = {
    // context → lib: up a layer. db/a ↔ db/b: a cycle inside one layer (type-only on one side).
    "src/context/request.ts": 'import { ApiError } from "../lib/errors";\n',
    "src/lib/errors.ts": "export class ApiError {}\n",
    "src/db/a.ts": 'import type { B } from "./b";\nexport type A = 1;\n',
    "src/db/b.ts": 'import type { A } from "./a";\nexport type B = 2;\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp, path)), { recursive: true });
    writeFileSync(join(tmp, path), text);
  }
  const g = importGraph(tmp);
  expect(upwardEdges(g.edges)).toEqual(["src/context/request.ts (context) → src/lib/errors.ts (base)"]);
  expect(cycles(g.files, g.edges)).toEqual([["src/db/a.ts", "src/db/b.ts"]]);
});
