// SQL fingerprints for logs and metric labels: literals never leave the process (they can be
// personal data), and two requests that differ only in values land on the same line.

// One scanner so quoted identifiers and strings are skipped as a whole: a digit inside "t1" or
// 'a 1' must not be touched, and a quote inside a comment must not open a string.
const TOKEN =
  /"(?:[^"]|"")*"|[eE]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*'|(\$[A-Za-z_]*\$)[\s\S]*?\1|\$\d+|--[^\n]*|\/\*[\s\S]*?\*\/|[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+|\s+/g;

// IN lists and VALUES rows of nothing but placeholders, whose length
// varies with the data and would otherwise make a new fingerprint per length.
const LIST = String.raw`\(\s*(?:\?|\$\d+|default)(?:\s*,\s*(?:\?|\$\d+|default))*\s*\)`;
const LISTS = new RegExp(`\\b(in|values)\\s*${LIST}(?:\\s*,\\s*${LIST})*`, "gi");

/** SQL with every literal replaced by `?`, comments dropped, lists collapsed, spaces squeezed. */
export function normalizeSql(text: string): string {
  const out = text.replace(TOKEN, (tok) => {
    const c = tok.charCodeAt(0);
    if (c === 34 /* " */) return tok;
    if (c === 39 /* ' */ || ((c === 69 || c === 101) && tok.charCodeAt(1) === 39)) return "?";
    if (c === 36 /* $ */) return /^\$\d+$/.test(tok) ? tok : "?";
    if (tok.startsWith("--") || tok.startsWith("/*")) return " ";
    if ((c >= 48 && c <= 57) || c === 46 /* . */) return "?";
    if (c <= 32) return " ";
    return tok;
  });
  return out.replace(LISTS, "$1 (...)").replace(/\s+/g, " ").trim();
}

const HEAD = /^\s*(?:with\b[\s\S]*?\)\s*)?(select|insert|update|delete|explain|begin|commit|rollback|set|show|vacuum|analyze|create|alter|drop|truncate|copy)\b/i;
const TABLE = /\b(?:from|into|update|join)\s+((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)/i;

/** "select documents", "insert users": a readable, schema-bounded label for unnamed statements. */
export function statementLabel(normalized: string): string {
  const verb = HEAD.exec(normalized)?.[1]?.toLowerCase() ?? "other";
  const table = TABLE.exec(normalized)?.[1]?.replaceAll('"', "").toLowerCase();
  return table ? `${verb} ${table}` : verb;
}

export interface Fingerprint {
  normalized: string;
  /** Metric label: the prepared statement's name when known, else statementLabel(), capped. */
  label: string;
}

/**
 * Memoized fingerprints. Statement texts come from the code (drizzle emits $n parameters), so
 * the set is small; the caps keep a pathological caller from growing memory or label sets.
 */
export function fingerprinter(names: ReadonlyMap<string, string>, opts: { maxTexts?: number; maxLabels?: number } = {}) {
  const maxTexts = opts.maxTexts ?? 2000;
  const maxLabels = opts.maxLabels ?? 50;
  const memo = new Map<string, Fingerprint>();
  // Keyed by normalized text, so a copy that differs only in layout still finds its name.
  const byNormalized = new Map([...names].map(([text, name]) => [normalizeSql(text), name]));
  const labels = new Set<string>(names.values());
  return (text: string): Fingerprint => {
    const hit = memo.get(text);
    if (hit) return hit;
    const normalized = normalizeSql(text);
    let label = byNormalized.get(normalized);
    if (!label) {
      label = statementLabel(normalized);
      if (!labels.has(label)) {
        if (labels.size >= byNormalized.size + maxLabels) label = "other";
        else labels.add(label);
      }
    }
    const fp = { normalized, label };
    if (memo.size < maxTexts) memo.set(text, fp);
    return fp;
  };
}
