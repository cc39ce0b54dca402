# syntax=docker/dockerfile:1
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY engine engine
COPY cli cli
COPY sagas sagas
COPY ui ui
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# nats-server for the embedded default (NATS_URL unset); harmless when NATS_URL is set.
RUN apt-get update && apt-get install -y --no-install-recommends nats-server && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production SAGA_DB=/data/sagad.db SAGA_HTTP_HOST=0.0.0.0 SAGA_HTTP_PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json saga-definitions.yaml ./
COPY bin bin
COPY sagas sagas
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SAGA_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/engine/main.js"]
