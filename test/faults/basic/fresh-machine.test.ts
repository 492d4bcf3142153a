import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const CLI = new URL("../../../src/cli.ts", import.meta.url).pathname;
/** tsx's loader by absolute path: the script runs in a temporary directory where "tsx" does not resolve. */
const TSX = new URL("../../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
/** A private network namespace has its own loopback, where nothing answers on 6379 (the shared Redis is not there). */
const canUnshare = spawnSync("unshare", ["-n", "true"]).status === 0;

describe("npm start on a machine where no Redis is running", () => {
  it.skipIf(!canUnshare)(
    "starts a private redis-server with AOF under ./data, serves the API, and stops it on SIGTERM",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "tickler-fresh-"));
      const script = join(dir, "run.sh");
      writeFileSync(
        script,
        `set -u
ip link set lo up
cd "${dir}"
"${process.execPath}" --import "${TSX}" "${CLI}" all > tickler.log 2>&1 &
pid=$!
for i in $(seq 1 200); do grep -q "API listening" tickler.log && break; sleep 0.05; done
curl -s -o put.json -w "%{http_code}" -X PUT http://127.0.0.1:3000/v1/users/a/triggers/first -H 'content-type: application/json' -d '{"prompt":"hi","delay":"1h"}' > status.txt
kill -TERM $pid
wait $pid
echo $? > exit.txt
pgrep -f "redis-server.*${dir}" > left.txt || true
`,
      );
      const result = spawnSync("unshare", ["-n", "bash", script], {
        cwd: join(dirname(CLI), ".."),
        timeout: 30_000,
        encoding: "utf8",
        env: { ...process.env, REDIS_URL: "", LOG_LEVEL: "info" },
      });
      expect(result.status).toBe(0);
      const read = (name: string) => spawnSync("cat", [join(dir, name)], { encoding: "utf8" }).stdout.trim();
      const log = read("tickler.log");
      expect(log).toContain("started a private redis-server");
      expect(read("status.txt")).toBe("201");
      expect(read("exit.txt")).toBe("0");
      expect(log).toContain('"msg":"stopped"');
      expect(existsSync(join(dir, "data", "appendonlydir"))).toBe(true);
      expect(read("left.txt")).toBe("");
    },
  );

  it.skipIf(!canUnshare)("says in one line how to get Redis when there is no redis-server either", () => {
    const result = spawnSync(
      "unshare",
      [
        "-n",
        "bash",
        "-c",
        `ip link set lo up; PATH=/nonexistent "${process.execPath}" --import "${TSX}" "${CLI}" all`,
      ],
      {
        cwd: join(dirname(CLI), ".."),
        timeout: 30_000,
        encoding: "utf8",
        env: { ...process.env, REDIS_URL: "" },
      },
    );
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/redis-server is not on PATH; install Redis .* or set REDIS_URL/);
  });
});
