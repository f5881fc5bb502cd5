# syntax=docker/dockerfile:1
# One image for all four services; the service name is the CMD (compose: `command: ["order"]`).
# Stages: base -> source (app files only) -> build (dev dependencies; esbuild bundles the services
# and the CLI into dist/) -> node (runtime: node + dist/, no node_modules, no tsx).
# deps (production node_modules) + source -> deno (the same TypeScript run by Deno).
# compose builds `target: node` explicitly, so the stage order does not pick the runtime.

# An exact release, not the floating `24`: the same build gives the same image (test/compose.unit.spec.ts).
# Node 24 LTS's current patch, the one .ci/run installs.
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-slim AS base
WORKDIR /app
ENV NODE_ENV=production

# --- deps: only runtime dependencies (for the deno stage, which runs the TypeScript sources) ---
FROM base AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# --- source: just what runs, no tests/bench/docs; reusable by other runtime stages ---
FROM scratch AS source
# LICENSE travels with every image (Apache-2.0, section 4(a)).
COPY package.json tsconfig.json LICENSE /app/
COPY services/ /app/services/
COPY shared/ /app/shared/
COPY host/ /app/host/
# nats/ holds TypeScript (subjects, stream setup) next to the server configs.
COPY nats/ /app/nats/
COPY otel/ /app/otel/
COPY inspection/ /app/inspection/
COPY scripts/ /app/scripts/
COPY cli/ /app/cli/

# --- build: `npm run build` (scripts/build.ts) with the dev dependencies (esbuild) ---
FROM base AS build
COPY package.json package-lock.json ./
# base sets NODE_ENV=production, which would leave the dev dependencies out.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --include=dev --no-audit --no-fund
COPY --from=source /app/ ./
RUN npm run build

# --- node: the runtime image ---
FROM base AS node
# The bundles hold every npm dependency they use, so the image needs no node_modules and no tsx.
# Files stay root-owned: the `node` user can read and run them but not modify them.
# The CLI ships too: `docker compose exec order node dist/cli.mjs <command>`.
COPY --from=build /app/dist ./dist
COPY --from=source /app/LICENSE ./
USER node
EXPOSE 3000 3001 3002 3003 3004
# PORT is set per service by compose; without it, the port is derived from the service name
# (PID 1's last argument) so `docker run IMAGE payment` still reports healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const d={order:3000,payment:3001,shipping:3002,notification:3003,loyalty:3004};let n='';try{n=require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0').filter(Boolean).pop()}catch{}const p=process.env.PORT||d[n]||3000;fetch('http://127.0.0.1:'+p+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The flags are SERVICE_NODE_ARGS of scripts/build.ts (source-mapped stack traces, a smaller V8
# heap under load); test/bundle.int.spec.ts checks that they agree.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/service.mjs"]
CMD ["order"]

# --- deno: the same services on the official Deno image (compose.deno.yaml builds this target) ---
# The same source as the build stage, with the production node_modules; Deno resolves npm packages from node_modules
# (deno.json: "nodeModulesDir": "manual"), so nothing is downloaded, at build or at run time.
# The tag follows the `deno` dev dependency (package.json), which the test suite runs.
FROM denoland/deno:2.9.6 AS deno
WORKDIR /app
ENV NODE_ENV=production \
    DENO_NO_UPDATE_CHECK=1
COPY --from=deps /app/node_modules ./node_modules
COPY --from=source /app/ ./
COPY deno.json ./
USER deno
# Transpiles the entries (the opt-in loyalty's too) into DENO_DIR (/deno-dir, the deno user's) now, not at first start.
RUN deno cache services/order/main.deno.ts services/payment/main.deno.ts \
    services/shipping/main.deno.ts services/notification/main.deno.ts services/loyalty/main.deno.ts
EXPOSE 3000 3001 3002 3003 3004
# No node here: the probe runs under `deno eval`; the default port comes from the entry's path.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const d={order:3000,payment:3001,shipping:3002,notification:3003,loyalty:3004};let n='';try{n=Deno.readTextFileSync('/proc/1/cmdline').split('services/')[1]?.split('/')[0]??''}catch{}const p=Deno.env.get('PORT')||d[n]||3000;fetch('http://127.0.0.1:'+p+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>Deno.exit(r.ok?0:1),()=>Deno.exit(1))"]
ENTRYPOINT ["deno", "run", "-A"]
CMD ["services/order/main.deno.ts"]
