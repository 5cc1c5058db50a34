# live's image: `docker build -t live .` (multi-stage: the compiler and dev dependencies stay in the
# build stage). It holds the tools live drives: certbot, openssl, easy-rsa and openvpn (the local VPN
# runner); the docker VPN runner is not used inside a container (it would need the host's Docker
# socket, which is root on the host): compose.yaml shares the PKI volume with kylemanna/openvpn instead.
# Not built in CI (no registry here); `docker-compose config` validates compose.yaml there.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends certbot openssl easy-rsa openvpn ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin live \
 && install -d -o live -g live -m 750 /data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY public ./public
# Data files the compiled code reads from the sources (tsc copies none).
COPY src/auth/common-passwords ./src/auth/common-passwords
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data EASYRSA_BIN=/usr/share/easy-rsa/easyrsa
USER live
VOLUME ["/data"]
EXPOSE 8000
# /health answers 200 (ok), 200 (degraded) or 503; asked as localhost, which ALLOWED_HOSTS must keep.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health',{headers:{host:'localhost'},signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]
CMD ["node", "--no-memory-reducer", "dist/src/main.js"]
