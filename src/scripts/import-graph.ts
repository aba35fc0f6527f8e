import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

// `bun run import-graph [--files]`: which layer of src/ imports which (with --files, every
// file-to-file edge). test/layers.test.ts holds src/ to the same table.

/**
 * The layers of src/, lowest first. A module may import its own layer or a lower one, never a
 * higher one, and no import cycle is allowed (type-only imports count: they are dependencies
 * too). Every file of src/ must fall in one layer.
 */
export const LAYERS: readonly { name: string; holds: string; paths: readonly string[] }[] = [
  { name: "context", holds: "the per-request context, the telemetry channel, the Hono variables (a leaf)", paths: ["src/context/"] },
  { name: "base", holds: "env parsing and helpers that know no backend", paths: ["src/env.ts", "src/lib/"] },
  { name: "adapters", holds: "Postgres, cache, auth, worker link, server lifecycle", paths: ["src/db/", "src/cache/", "src/auth/", "src/workers/", "src/lifecycle.ts"] },
  { name: "repositories", holds: "data access per resource: each resource's reads and writes (the routes call them)", paths: ["src/repositories/"] },
  { name: "obs", holds: "observability views, tracing, plan and pg_stat_statements readers", paths: ["src/obs/"] },
  { name: "deps", holds: "Deps: what the composition root hands the routes", paths: ["src/types.ts"] },
  { name: "middleware", holds: "Hono middleware", paths: ["src/middleware/"] },
  { name: "routes", holds: "Hono routers", paths: ["src/routes/"] },
  { name: "root", holds: "the composition root: builds the services and the app, serves it", paths: ["src/services.ts", "src/app.ts", "src/server.ts"] },
  { name: "entry", holds: "process entry points: the server, the image's CLI, the command-line tools", paths: ["src/index.ts", "src/cli.ts", "src/healthcheck.ts", "src/scripts/"] },
];

export const ROOT = resolve(import.meta.dir, "../..");

/** The layer index of a file (path relative to the repository), or -1 when it falls in none. */
export function layerOf(file: string): number {
  return LAYERS.findIndex((l) => l.paths.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
}

// Strings are kept and comments dropped, so an import named in a comment is no edge.
const TOKENS = /("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
const STATIC = /(?:^|[;}\n])\s*(?:import|export)\s[^;"'`]*?\bfrom\s*["']([^"']+)["']/g;
const BARE = /(?:^|[;}\n])\s*import\s*["']([^"']+)["']/g;
const DYNAMIC = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/** The relative specifiers a module imports: static, type-only, re-exports, side-effect, dynamic. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(TOKENS, (m, str: string | undefined) => str ?? "");
  const found: string[] = [];
  for (const re of [STATIC, BARE, DYNAMIC]) for (const m of code.matchAll(re)) found.push(m[1]!);
  return found.filter((s) => s.startsWith("."));
}

export interface Edge {
  from: string;
  to: string;
}

/** Every file of src/ and its imports of other files of src/ (paths relative to the repository). */
export function importGraph(root = ROOT): { files: string[]; edges: Edge[]; unresolved: Edge[] } {
  const files = [...new Bun.Glob("src/**/*.ts").scanSync({ cwd: root })].sort();
  const edges: Edge[] = [];
  const unresolved: Edge[] = [];
  for (const from of files) {
    for (const spec of importSpecifiers(readFileSync(join(root, from), "utf8"))) {
      const base = resolve(root, dirname(from), spec);
      const hit = [base, `${base}.ts`, join(base, "index.ts")].find((p) => p.endsWith(".ts") && existsSync(p));
      if (hit) edges.push({ from, to: relative(root, hit) });
      // A data file (package.json read for the version) is no module of ours: no layer, no edge.
      else if (!existsSync(base)) unresolved.push({ from, to: spec });
    }
  }
  return { files, edges, unresolved };
}

/** Edges into a higher layer, as "from (layer) → to (layer)". */
export function upwardEdges(edges: Edge[]): string[] {
  const name = (f: string) => `${f} (${LAYERS[layerOf(f)]?.name ?? "no layer"})`;
  return edges.filter((e) => layerOf(e.to) > layerOf(e.from)).map((e) => `${name(e.from)} → ${name(e.to)}`);
}

/** Import cycles among files, each as its files in order (Tarjan's strongly connected components). */
export function cycles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) out.push(scc.reverse());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

/** "layer → the lower layers it imports", one line per layer, highest first. */
export function layerGraph(edges: Edge[]): string[] {
  return LAYERS.map((layer, i) => {
    const to = new Set<number>();
    for (const e of edges) if (layerOf(e.from) === i && layerOf(e.to) !== i) to.add(layerOf(e.to));
    const names = [...to].sort((a, b) => b - a).map((j) => (j < 0 ? "(none)" : LAYERS[j]!.name));
    return `${i} ${layer.name.padEnd(Math.max(...LAYERS.map((l) => l.name.length)))} → ${names.join(", ") || "(nothing of ours)"}`;
  }).reverse();
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { files: { type: "boolean", default: false } } });
  const { edges } = importGraph();
  console.log(layerGraph(edges).join("\n"));
  if (values.files) {
    console.log("");
    for (const e of edges) console.log(`${e.from} → ${e.to}`);
  }
}
