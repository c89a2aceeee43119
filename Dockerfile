# forgejo-arc: one image, two roles (`forgejo-arc controller`, `forgejo-arc listener`) and the
# chart's helm test (`forgejo-arc check-webhooks`).
# Node 24 runs the TypeScript sources directly (type stripping); only production dependencies ship.
FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
# Heap limits and two malloc arenas keep the resident set near the live set
# (npm run bench:controller reads both from here; docs/operations.md, "Memory").
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX="2" \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=4"
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY schemas ./schemas
COPY src ./src
COPY webhooks ./webhooks
RUN ln -s /app/src/cli.ts /usr/local/bin/forgejo-arc && chmod 0755 /app/src/cli.ts
# Non-root; nothing is written at run time, so a read-only root filesystem works.
USER 65532:65532
ENTRYPOINT ["forgejo-arc"]
CMD ["--help"]
