import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// podman on this kind of machine (no Docker engine, no registry); each flag below fixes a failure
// seen here, see shared/containers.md: chroot isolation (cgroups in hybrid mode), docker format
// (OCI drops HEALTHCHECK), runc (crun fails on this cgroup setup), explicit ulimits (setrlimit).
const RUNTIME = ["--runtime", "runc"];
export const BUILD_FLAGS = ["--isolation=chroot", "--format", "docker"];
export const RUN_FLAGS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `podman ...args`; never throws (the caller asserts on the code). */
export async function podman(args: string[], opts: { stdin?: Blob; quiet?: boolean } = {}): Promise<Result> {
  const proc = Bun.spawn(["podman", ...RUNTIME, ...args], {
    stdin: opts.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Like podman() but throws with the output when the command fails. */
export async function podmanOk(args: string[], opts: { stdin?: Blob } = {}): Promise<string> {
  const r = await podman(args, opts);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

export const imageExists = async (ref: string) => (await podman(["image", "exists", ref])).code === 0;

const BUN_VERSION = "1.4.5";
const DEBIAN = "localhost/debian:bookworm-minbase";
/** Stand-in for oven/bun:<pinned>-slim: Debian bookworm minbase + this machine's bun, user bun (1000). */
export const STAND_IN = `localhost/hotpath-ci/bun:${BUN_VERSION}-slim`;

/** The Debian mirror from the machine's apt sources (the URI ending in /debian), never hard-coded. */
function debianMirror(): string {
  const dir = "/etc/apt/sources.list.d";
  const files = [...readdirSync(dir).map((f) => join(dir, f)), "/etc/apt/sources.list"];
  for (const f of files) {
    let text = "";
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    const m = text.match(/(?:URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s/m);
    if (m?.[1]) return m[1];
  }
  throw new Error("no Debian mirror (a URI ending in /debian) in the apt sources");
}

async function sh(cmd: string[], what: string): Promise<void> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${what} failed (${code}):\n${out.slice(-2000)}\n${err.slice(-2000)}`);
}

/**
 * Builds the stand-in base once and keeps it (podman's image store is the cache): debootstrap a
 * minimal bookworm, import it, then add bun, user bun and the host CA bundle (this machine reaches
 * the npm registry through an intercepting proxy, so `bun install` in the build needs its CA;
 * the official image needs nothing of the kind). Returns the tag and what it did.
 */
export async function ensureStandIn(log: (line: string) => void = () => {}): Promise<string> {
  if (await imageExists(STAND_IN)) {
    log(`stand-in base ${STAND_IN}: cached`);
    return STAND_IN;
  }
  const work = mkdtempSync(join(tmpdir(), "hotpath-base-"));
  try {
    if (!(await imageExists(DEBIAN))) {
      const rootfs = join(work, "rootfs");
      const mirror = debianMirror();
      const t0 = performance.now();
      await sh(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror], "debootstrap");
      log(`debootstrap bookworm minbase from ${mirror}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const tar = Bun.spawn(["tar", "-C", rootfs, "-c", "."], { stdout: "pipe" });
      const imp = Bun.spawn(["podman", "import", "--change", 'CMD ["/bin/bash"]', "-", DEBIAN], {
        stdin: tar.stdout,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, err] = await Promise.all([imp.exited, new Response(imp.stderr).text()]);
      if (code !== 0 || (await tar.exited) !== 0) throw new Error(`podman import failed:\n${err}`);
      rmSync(rootfs, { recursive: true, force: true });
    }
    const ctx = join(work, "ctx");
    Bun.spawnSync(["mkdir", "-p", ctx]);
    copyFileSync(realpathSync(Bun.which("bun")!), join(ctx, "bun"));
    copyFileSync("/etc/ssl/certs/ca-certificates.crt", join(ctx, "ca-certificates.crt"));
    writeFileSync(
      join(ctx, "Containerfile"),
      [
        `FROM ${DEBIAN}`,
        "COPY bun /usr/local/bin/bun",
        "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
        "RUN ln -s bun /usr/local/bin/bunx \\",
        " && groupadd --gid 1000 bun && useradd --uid 1000 --gid bun --shell /bin/sh --create-home bun \\",
        " && mkdir -p /home/bun/app && chown bun:bun /home/bun/app",
        "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
        "WORKDIR /home/bun/app",
        'CMD ["/usr/local/bin/bun"]',
        "",
      ].join("\n"),
    );
    await podmanOk(["build", ...BUILD_FLAGS, "-t", STAND_IN, ctx]);
    log(`stand-in base ${STAND_IN}: built`);
    return STAND_IN;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const t0 = performance.now();
  await ensureStandIn(console.log);
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
