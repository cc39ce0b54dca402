# sagad as a container, fit for a sidecar: Node 22 LTS, tini as PID 1 (reaps the embedded
# nats-server), a healthcheck on /readyz at the configured address, /data writable by any
# uid in group 0, and no definitions of its own: mount yours (see deploy/README.md).
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# Native addons (better-sqlite3) build against the base image's own headers, not ones
# downloaded from nodejs.org, when no prebuilt binary can be had.
ENV npm_config_nodedir=/usr/local
# Only for a build behind a TLS-intercepting proxy: its CA certificate as PEM text, trusted by
# npm in this stage alone (`--build-arg NPM_EXTRA_CA="$(cat proxy-ca.pem)"`). Empty by
# default: the registry is then verified against Node's own CAs, as for any user.
ARG NPM_EXTRA_CA=""
COPY package.json package-lock.json ./
RUN if [ -n "$NPM_EXTRA_CA" ]; then printf '%s\n' "$NPM_EXTRA_CA" >/tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --ignore-scripts && npm rebuild better-sqlite3 && rm -f /tmp/extra-ca.pem
COPY tsconfig.json tsconfig.build.json ./
COPY engine engine
COPY cli cli
COPY sagas sagas
COPY ui ui
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
# tini: PID 1 that forwards signals and reaps children; nats-server: the embedded default
# when NATS_URL is unset (a sidecar usually sets NATS_URL to the shared server).
RUN apt-get update && apt-get install -y --no-install-recommends tini nats-server && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    SAGA_DEFINITIONS=/etc/sagad/saga-definitions.yaml \
    SAGA_DB=/data/sagad.db \
    SAGA_HTTP_HOST=0.0.0.0 \
    SAGA_HTTP_PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/engine dist/engine
COPY --from=build /app/dist/cli dist/cli
COPY --from=build /app/dist/ui dist/ui
COPY package.json ./
COPY bin bin
COPY deploy/healthcheck.js deploy/healthcheck.js
# OpenShift style: the image runs as any uid whose group is 0, so /data belongs to group 0
# with the owner's rights; Kubernetes volumes mounted there get the pod's fsGroup instead.
RUN mkdir -p /data /etc/sagad && chown -R node:0 /data && chmod -R g=u /data
USER node:0
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/deploy/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/engine/main.js"]
