// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
  {
    // The domain is pure: it may not do I/O or know about Redis, BullMQ or HTTP.
    files: ["src/triggers/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
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
              ],
              message: "src/triggers is the I/O-free domain.",
            },
            {
              group: ["../producer/*", "../worker/*", "../api/*", "../runs/*", "../redis/*", "../config/*"],
              message: "src/triggers may not depend on I/O modules.",
            },
          ],
        },
      ],
    },
  },
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
