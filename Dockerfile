# syntax=docker/dockerfile:1
#
# Gatehouse container image.
#
#   docker build -t gatehouse .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 \
#     -v ./gatehouse.yaml:/etc/gatehouse/gatehouse.yaml:ro -v ./secrets:/etc/gatehouse/secrets:ro gatehouse
#
# There is no build step: Node 24 runs the TypeScript sources directly (type stripping), so the
# image needs only cmd/, src/, package.json and the production node_modules.
#
# Two stages, two bases, on purpose:
# - "deps" runs on node:24-bookworm-slim because it needs npm. `npm ci --omit=dev` installs exactly
#   the lockfile's production tree; devDependencies (typescript, biome, oidc-provider, playwright…)
#   never reach the image, and --ignore-scripts is safe because no production dependency has an
#   install script (the test checks package-lock.json for that).
# - "runtime" runs on distroless nodejs24 (:nonroot): no shell, no package manager, no npm, so far
#   fewer CVEs to triage and nothing for an intruder to work with. Both bases are Debian 12 (bookworm)
#   with Node 24, so a native addon built in "deps" would load at runtime (today every production
#   dependency is pure JavaScript). For a shell while debugging, use the :debug-nonroot tag.
# Pin both bases by digest (FROM image:tag@sha256:…) in your own builds for reproducibility.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Identity-aware reverse proxy: OIDC login, encrypted cookie sessions, local bearer-token validation, route policies and signed identity headers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"

WORKDIR /app
# Code is owned by root and read-only to the runtime user (no --chown): a compromised process
# cannot rewrite the program it runs.
COPY package.json ./
COPY cmd/ ./cmd/
COPY src/ ./src/
COPY --from=deps /app/node_modules ./node_modules

# 65532 is distroless's "nonroot"; numeric so that Kubernetes runAsNonRoot can check it.
USER 65532:65532

# Read-only root friendly: gatehouse writes nothing to disk (logs go to stdout). No VOLUME is
# declared: it would create an anonymous volume on every `docker run` and Kubernetes ignores it;
# mount a tmpfs at /tmp (`--tmpfs /tmp`, or the chart's emptyDir) for anything Node may need there.
ENV NODE_ENV=production \
    GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml

# 8080: proxy (server.listen); 9090: admin (/healthz /readyz /metrics; admin.listen). The admin
# listener defaults to 127.0.0.1:9090, which the HEALTHCHECK below reaches from inside the
# container; set admin.listen: 0.0.0.0:9090 to scrape or probe it from outside.
EXPOSE 8080 9090

# SIGTERM drains in-flight requests (server.shutdown_grace, 10s by default), then exits 0;
# give `docker stop -t` more than that.
STOPSIGNAL SIGTERM

# No curl in distroless: Node's own fetch. Exec form, because there is no /bin/sh.
# GATEHOUSE_HEALTHCHECK_URL overrides the URL when admin.listen is not 127.0.0.1:9090.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch(process.env.GATEHOUSE_HEALTHCHECK_URL||'http://127.0.0.1:9090/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Distroless has node at /nodejs/bin/node (its own ENTRYPOINT), not on a PATH directory.
ENTRYPOINT ["/nodejs/bin/node", "cmd/gatehouse.ts"]
CMD ["serve"]
