// Copies the files tickler reads at run time (its Lua scripts, the console's page) beside the compiled
// modules, so dist/ runs on its own: `npm run build` and `npm start` call this after tsc.
import { cpSync } from "node:fs";

const root = new URL("..", import.meta.url);
for (const dir of ["redis/scripts", "api/console"]) {
  cpSync(new URL(`src/${dir}`, root), new URL(`dist/${dir}`, root), { recursive: true });
}
