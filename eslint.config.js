// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** The parts of src/ (folders, and the top-level modules that are parts of their own). */
const ALL_PARTS = [
  "triggers",
  "config",
  "net",
  "redis",
  "runs",
  "producer",
  "metrics",
  "tools",
  "worker",
  "api",
  "runtime",
  "cli",
  "index",
];
const IO_PACKAGES = [
  "bullmq",
  "ioredis",
  "express",
  "undici",
  "pino",
  "node:fs",
  "node:http",
  "node:net",
  "fs",
  "http",
  "net",
];
const without = (parts, allowed) => parts.filter((part) => !allowed.includes(part));

/** The import paths of a part of src/, from anywhere inside src/ (`../worker/x.js`, `../../metrics.js`). */
function pathsOf(part) {
  const folder = ["metrics", "runtime", "cli", "index"].includes(part) ? null : part;
  return folder === null
    ? [`../${part}.js`, `../../${part}.js`]
    : [`./${folder}/*`, `../${folder}/*`, `../../${folder}/*`];
}

/** One no-restricted-imports block per layer. */
function layers(blocks) {
  return blocks.map(({ files, why, forbid, packages = [] }) => ({
    files,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [...forbid.flatMap(pathsOf), ...packages],
              message: why,
            },
          ],
        },
      ],
    },
  }));
}

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", "bench/results/", "test/artifacts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "error",
    },
  },
  // Layers, lowest first: triggers ← config ← net, redis ← runs ← producer ← metrics, tools, worker, api ←
  // runtime, cli, index. A module imports only from layers below its own (and its own folder); one block
  // per layer says what it may not import, and madge (in `npm run lint`) finds any cycle left.
  ...layers([
    {
      files: ["src/triggers/**/*.ts"],
      why: "src/triggers is the pure domain: no I/O, no other part of tickler.",
      forbid: ALL_PARTS,
      packages: IO_PACKAGES,
    },
    {
      files: ["src/config/**/*.ts"],
      why: "config reads env and YAML into a Config, over the domain only.",
      forbid: without(ALL_PARTS, ["triggers"]),
    },
    {
      files: ["src/net/**/*.ts", "src/redis/**/*.ts"],
      why: "net and redis are the I/O primitives.",
      forbid: without(ALL_PARTS, ["triggers", "config", "net", "redis"]),
    },
    {
      files: ["src/runs/**/*.ts"],
      why: "runs store run records over redis.",
      forbid: without(ALL_PARTS, ["triggers", "config", "redis", "runs"]),
    },
    {
      files: ["src/producer/**/*.ts"],
      why: "the producer is below the worker, the API and the tools.",
      forbid: ["worker", "api", "tools", "metrics", "runtime", "cli", "index"],
    },
    {
      files: ["src/metrics.ts"],
      why: "metrics read the producer's stores only.",
      forbid: ["worker", "api", "tools", "runtime", "cli", "index"],
    },
    {
      files: ["src/tools/**/*.ts"],
      why: "the tools are over the producer only.",
      forbid: ["worker", "api", "metrics", "runtime", "cli", "index"],
    },
    {
      files: ["src/worker/**/*.ts"],
      why: "the worker does not know the API or the tools.",
      forbid: ["api", "tools", "runtime", "cli", "index"],
    },
    {
      files: ["src/api/**/*.ts"],
      why: "the API does not know the worker.",
      forbid: ["worker", "runtime", "cli", "index"],
    },
  ]),
  {
    // The console's browser script: browser globals, no module system.
    files: ["src/api/console/*.js"],
    languageOptions: { sourceType: "script" },
    rules: { "no-undef": "off" },
  },
  {
    // Build scripts run on Node.
    files: ["scripts/*.mjs"],
    languageOptions: { globals: { URL: "readonly", process: "readonly", console: "readonly" } },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "src/cli.ts", "examples/**/*"],
    rules: { "no-console": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
);
