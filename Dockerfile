# tickler: one image for every role (api, worker, all).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Lua scripts and the console's static files are read from src/ at run time.
COPY --from=build /app/src ./src
COPY package.json ./
USER node
EXPOSE 3000
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["all"]
