# forgejo-arc: one image, two roles (`forgejo-arc controller`, `forgejo-arc listener`), the
# chart's helm test (`forgejo-arc check-webhooks`) and its pre-delete hook (`forgejo-arc before-uninstall`).
# The build stage bundles the TypeScript sources with their dependencies into one ES module
# (scripts/build.ts); the image holds Node 24 and that file only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY schemas ./schemas
COPY src ./src
COPY webhooks ./webhooks
COPY scripts/build.ts ./scripts/build.ts
RUN node scripts/build.ts

FROM node:24-bookworm-slim
# Heap limits and two malloc arenas keep the resident set near the live set
# (npm run bench:controller reads both from here; docs/operations.md, "Memory").
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX="2" \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=4"
WORKDIR /app
COPY --from=build /app/dist/forgejo-arc.mjs ./forgejo-arc.mjs
RUN chmod 0755 /app/forgejo-arc.mjs && ln -s /app/forgejo-arc.mjs /usr/local/bin/forgejo-arc
# Non-root; nothing is written at run time, so a read-only root filesystem works.
USER 65532:65532
ENTRYPOINT ["forgejo-arc"]
CMD ["--help"]
