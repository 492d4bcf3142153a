import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import express, { Router } from "express";
import type { Config } from "../../config/index.js";
import type { Producer } from "../../producer/producer.js";
import { adminPages } from "../auth.js";
import { BOARD_PATH, bullBoard } from "../bull-board.js";

/** The console's page, script and styles, beside this module (copied there in dist/ by the build). */
const CONSOLE_DIR = fileURLToPath(new URL("../console/", import.meta.url));

/** Swagger UI's files, served by /docs. */
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/**
 * Where the pages a browser opens live: not API operations, so not in /openapi.json. Every other route
 * of the app is an operation (a test holds Express's routes against the document and this list).
 */
export const PAGE_PATHS = ["/console", "/docs", BOARD_PATH] as const;

/** The interactive docs page (Swagger UI, served from the swagger-ui-dist package under /docs/assets). */
const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>tickler API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

/** Started from a file (not inline) so a strict Content-Security-Policy can forbid inline scripts. */
const DOCS_INIT_JS = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs", deepLinking: true, persistAuthorization: true });`;

/** The admin pages (Bull Board, the operator console: admin tokens, HTTP Basic for browsers) and the docs UI. */
export function pagesRouter({ config, producer }: { config: Config; producer: Producer }): Router {
  const router = Router();
  const board = bullBoard(
    producer.partitions.map((partition) => partition.fires.queue),
    config.tokens,
  );
  router.use(board.path, board.guard, board.router);
  const adminOnly = adminPages(config.tokens);
  router.get("/console", adminOnly, (_req, res) => {
    res.sendFile("index.html", { root: CONSOLE_DIR });
  });
  router.use("/console/assets", adminOnly, express.static(CONSOLE_DIR, { index: false }));
  router.get("/docs", (_req, res) => {
    res.type("html").send(DOCS_HTML);
  });
  router.get("/docs/init.js", (_req, res) => {
    res.type("js").send(DOCS_INIT_JS);
  });
  router.use("/docs/assets", express.static(SWAGGER_UI_DIR, { index: false, maxAge: "1h" }));
  return router;
}
