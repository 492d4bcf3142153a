import { readFileSync } from "node:fs";

/** tickler's version, from package.json (resolved from the package root, as from src/ and dist/ alike). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
