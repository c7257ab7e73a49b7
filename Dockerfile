# meridian: multi-stage build. Compile with tsc, run on node as a non-root user.
#   docker build -t meridian .
#   docker run -p 53:5300/udp -p 53:5300/tcp -v "$PWD/zones:/app/zones" meridian
# Inside the container it listens on 0.0.0.0:5300 (unprivileged); publish 53/udp and 53/tcp
# to it as above, so no capability is needed. The admin API stays on the container's
# loopback unless you give it an address and a token:
#   -e MERIDIAN_ADMIN=0.0.0.0:5380 -e MERIDIAN_ADMIN_TOKEN=<16+ chars> -p 5380:5380
# Volumes: /app/zones (zone and policy files; writable if the admin API is to edit them),
# /app/geoip (MMDB files), /app/.meridian-state (health state kept across restarts).
# deploy/docker-compose.yml runs the same with a health check and a read-only root.
FROM node:24-bookworm-slim AS build
# node-gyp builds the native UDP socket layer (native/udp) at `npm ci`; the image's node has
# its headers, and MERIDIAN_REQUIRE_NATIVE makes a failed build fail the image build.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ make python3 >/dev/null && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY native ./native
RUN MERIDIAN_REQUIRE_NATIVE=1 npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY tools ./tools
RUN npx tsc -p . && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production MERIDIAN_LISTEN=0.0.0.0:5300
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The country centroid table (compiled into dist/src/geoip) is ODbL: its licence goes with it.
COPY src/geoip/LICENSE-country-centroids.txt ./dist/src/geoip/
COPY --from=build /src/native/udp/build/Release/meridian_udp.node ./native/udp/build/Release/meridian_udp.node
COPY package.json ./
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# Owned by the runtime user: the admin API writes zone files (temp file + rename in the
# folder) and the health monitor saves its state under .meridian-state.
COPY --chown=node:node zones ./zones
COPY geoip ./geoip
RUN mkdir -p .meridian-state && chown node:node .meridian-state
USER node
EXPOSE 5300/udp 5300/tcp
VOLUME ["/app/zones", "/app/geoip", "/app/.meridian-state"]
# Healthy when the DNS listener answers a query (see deploy/healthcheck.mjs).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
# Node handles SIGTERM itself (finishes queries in flight, then exits 0); the default
# 10 s stop timeout of `docker stop` is ample.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--v8-pool-size=1", "dist/src/cli/main.js"]
CMD ["serve", "--zones", "/app/zones"]
