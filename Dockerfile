# hotpath as a single container: `docker build -t hotpath .` then `docker run -p 3000:3000 hotpath`.
# The base is a build argument so the official image is the default and CI can build on a local
# stand-in (no registry there): --build-arg BUN_IMAGE=...
ARG BUN_IMAGE=oven/bun:1.4.5-slim

# Production dependencies only, from the lockfile as committed.
FROM ${BUN_IMAGE} AS deps
WORKDIR /app
COPY package.json bun.lock ./
# --omit=peer: drizzle-orm lists bun-types (types only, ~12 MB) as an optional peer.
RUN bun install --frozen-lockfile --production --omit=peer --ignore-scripts \
 && mkdir -p /data/pglite

# Runs from source with `bun` (no `bun build --compile`: see README "Run it in a container").
# No RUN in this stage: nothing here needs a shell.
FROM ${BUN_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    PGLITE_DIR=/data/pglite
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY drizzle ./drizzle
COPY src ./src
# The embedded database lives under the volume; owned by the runtime user before VOLUME (changes
# to a volume path after VOLUME are discarded). Code stays root-owned: the app cannot rewrite it.
COPY --from=deps --chown=1000:1000 /data /data
VOLUME /data
# Numeric, so Kubernetes' runAsNonRoot can verify it (user "bun" in the official image).
USER 1000:1000
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["bun", "src/cli.ts", "healthcheck"]
# Exec form, no shell: bun is PID 1 and handles SIGTERM/SIGINT itself (drain, close, exit 0).
# `docker run IMAGE migrate` runs the migrations once and exits.
ENTRYPOINT ["bun", "src/cli.ts"]
CMD ["serve"]
