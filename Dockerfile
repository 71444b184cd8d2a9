# syntax=docker/dockerfile:1
#
# utskick: one image for the delivery worker, the CLIs and the 1177 simulator.
#
#   docker compose build
#   docker compose up -d                      # redis, simulator, worker-1, worker-2, prometheus
#
# The default command is the delivery worker. Every other command runs in the
# same image, for example:
#   docker compose run --rm worker-1 node dist/scripts/enqueue.js ...
#   docker compose run --rm worker-1 node dist/scripts/report.js ...
#   docker compose run --rm worker-1 node dist/scripts/campaign.js ...
#   docker compose run --rm worker-1 node dist/scripts/dlq.js ...
#   (also dist/scripts/approve.js, unit.js, simulator.js)
# docker-compose.yml also has `cli` (Redis user utskick-enqueue) and `ops`
# (Redis user utskick-ops) services for these, with ./in and ./out mounted.
#
# The base image is pinned by exact version tag. Pin it by digest as well when
# building for production (NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:...,
# digest from `docker buildx imagetools inspect node:20.20.2-bookworm-slim`).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
RUN npm run build

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production

# No system packages: 7-Zip (archives) and libxml2 (the simulator's XSD
# validation) run in-process as WebAssembly from the npm packages.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config

# The code stays owned by root and read-only for the service user (uid 1000,
# "node" in the base image); only out/ (reports) is writable.
RUN mkdir -p /app/out && chown 1000:1000 /app/out
USER 1000:1000

# /metrics, /healthz and /readyz of the worker.
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# The worker traps SIGTERM, stops taking jobs and finishes the calls in flight.
STOPSIGNAL SIGTERM
CMD ["node", "dist/workers/deliver.js"]
