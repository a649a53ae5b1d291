# syntax=docker/dockerfile:1
# The chat gateway image: a build stage with every dependency compiles
# TypeScript to dist/; the runtime stage holds production dependencies and
# dist/ only, and runs as the unprivileged `node` user.
#
#   docker build -t chat-gateway .
#   docker run --rm -p 8000:8000 -e NODE_ENV=production -e JWT_SECRET=... chat-gateway
#
# docker-compose.yml builds this image for its two gateway replicas.

# Node 24, the current LTS line (the project also runs on Node 20.19+).
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY client ./client
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Served at /api/asyncapi.yaml.
COPY docs/asyncapi.yaml ./docs/asyncapi.yaml
COPY --from=build /app/client/demo/build ./client/demo/build
# UPLOAD_DIR in the compose file: a volume mounted here takes this owner.
RUN mkdir -p /app/uploads && chown node:node /app/uploads
USER node
EXPOSE 8000
# Liveness, not readiness: an instance whose Redis is away keeps serving its
# local connections and must not be restarted for it (/health/ready reports
# that case). Slim images have no curl; Node's fetch does the request.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, drains (1012) and exits 0.
CMD ["node", "dist/main.js"]
