import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");

/**
 * No Docker engine runs here, so the compose file and the image's context are checked by reading them:
 * what a user of `docker compose up` relies on must be in them.
 */
describe("the Docker Compose file and the image's build context", () => {
  const compose = parse(read("docker-compose.yml")) as {
    services: Record<
      string,
      { environment?: Record<string, string>; volumes?: unknown[]; healthcheck?: { test: string[] } }
    >;
  };

  it("gives the API a health check on /readyz and each worker one on its metrics port's /healthz", () => {
    const { api, worker } = compose.services;
    expect(api!.healthcheck?.test.join(" ")).toContain(`127.0.0.1:${api!.environment!.PORT}/readyz`);
    const metricsPort = worker!.environment!.TICKLER_METRICS_PORT;
    expect(metricsPort).toMatch(/^\d+$/);
    expect(worker!.healthcheck?.test.join(" ")).toContain(`127.0.0.1:${metricsPort}/healthz`);
  });

  it("mounts ./tickler.yaml so that a missing file stops compose instead of becoming an empty directory", () => {
    for (const name of ["api", "worker"]) {
      const mounts = compose.services[name]!.volumes!;
      const config = mounts.find(
        (mount) =>
          typeof mount === "object" && (mount as { target?: string }).target === "/config/tickler.yaml",
      );
      expect(config, name).toMatchObject({
        type: "bind",
        source: "./tickler.yaml",
        read_only: true,
        bind: { create_host_path: false },
      });
      expect(
        mounts.some((mount) => typeof mount === "string" && mount.includes("tickler.yaml")),
        name,
      ).toBe(false);
    }
  });

  it("keeps node_modules, data, dist and .git out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "data", "dist", ".git"]));
  });

  it("has a cluster file whose six nodes are joined once before the API and workers start, all with one partition count", () => {
    const cluster = parse(read("docker-compose.cluster.yml"), { merge: true }) as {
      services: Record<
        string,
        {
          command?: string[];
          environment?: Record<string, string>;
          depends_on?: Record<string, { condition: string }>;
        }
      >;
    };
    const nodes = Object.keys(cluster.services).filter((name) => name.startsWith("redis-node-"));
    expect(nodes).toHaveLength(6);
    for (const node of nodes)
      expect(cluster.services[node]!.command!.join(" ")).toContain("--cluster-enabled yes");
    const init = cluster.services["redis-cluster-init"]!;
    expect(init.command!.join(" ")).toMatch(/--cluster create .*--cluster-replicas 1 --cluster-yes/);
    expect(Object.keys(init.depends_on!).sort()).toEqual([...nodes].sort());
    const { api, worker } = cluster.services;
    for (const service of [api!, worker!]) {
      expect(service.environment!.REDIS_URL).toBe("redis://redis-node-1:6379");
      expect(service.depends_on).toEqual({
        "redis-cluster-init": { condition: "service_completed_successfully" },
      });
    }
    expect(api!.environment!.TICKLER_PARTITIONS).toBe(worker!.environment!.TICKLER_PARTITIONS);
  });
});
