import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "bullmq";
import type { NextFunction, Request, Response, Router } from "express";
import type { Principal } from "../config/index.js";
import { adminPages } from "./auth.js";

/** Where Bull Board is mounted. */
export const BOARD_PATH = "/admin/queues";

/**
 * Bull Board for the fire queues (one per partition), admins only. A browser cannot send bearer headers, so HTTP Basic with any
 * user name and an admin token as the password works too (the browser prompts for it on the 401).
 *
 * Retrying or removing a failed fire from the board keeps the run records consistent: run ids derive from
 * (trigger, slot), so a retried fire rewrites its own run record, and a removed job's run stays in the
 * runs API. Cancel or pause triggers through the API: a pending fire removed here is re-planned by the
 * reconciler, because the trigger still says it should fire.
 */
export function bullBoard(
  queues: readonly Queue[],
  tokens: ReadonlyMap<string, Principal>,
): { path: string; guard: (req: Request, res: Response, next: NextFunction) => void; router: Router } {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    // Every partition's queue is named "fires" (under its own prefix): Bull Board tells them apart by the
    // adapter's prefix.
    queues: queues.map((queue, p) =>
      queues.length === 1
        ? new BullMQAdapter(queue, {
            displayName: "tickler fires",
            description: "One job per fire: delayed one-shots, scheduler iterations, catch-ups, manual runs",
          })
        : new BullMQAdapter(queue, {
            prefix: `p${p}-`,
            displayName: `tickler fires · partition ${p}`,
            description: `Partition ${p} of ${queues.length}: the fires of the users whose id hashes to it`,
          }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: "tickler" } },
  });
  return { path: BOARD_PATH, guard: adminPages(tokens), router: serverAdapter.getRouter() as Router };
}
