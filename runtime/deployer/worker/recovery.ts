/**
 * Recovery after a crash, on start-up and every few seconds: runs whose
 * worker is gone (a dead pid on this host, or a heartbeat older than the
 * stale limit anywhere) are marked `interrupted` with what to do next; the
 * engine processes a dead worker on this host left are stopped; the stack's
 * engine lock is cleared once no live process holds it. A scheduled drift
 * check interrupted so is not queued again (its slot was claimed once and
 * stays so; the schedule's next slot checks again), and a slot whose
 * claiming replica stopped before queuing its check is settled here.
 */
import { hostname } from "node:os";
import { prepareStack } from "../../engine/stack-runner";
import type { DeployerPaths } from "../paths";
import { redact } from "../redact";
import type { Db } from "../store/db";
import type { RunBus } from "./bus";
import { clearStaleEngineLock } from "./engine-lock";
import { processAlive, stopProcessesOfWorker } from "./orphans";
import type { RunQueue, WorkerIdentity } from "./queue";

export interface RecoveryDeps {
    db: Db;
    queue: RunQueue;
    bus: RunBus;
    paths: DeployerPaths;
    identity: WorkerIdentity;
    /** A worker silent this long is presumed dead. */
    staleAfterSeconds: number;
    /** Look for work now (a stack's lock was cleared). */
    wake: () => void;
    /** Settles schedule slots claimed by a replica that stopped before queuing their check (worker/scheduler.ts). */
    resumeSlots?: (staleAfterSeconds: number) => Promise<void>;
}

/**
 * Marks runs of dead workers as interrupted and clears the stack locks
 * they left, unless a live process still holds them (then retried later).
 */
export async function recover(d: RecoveryDeps): Promise<void> {
    for (const run of await d.queue.orphaned(d.identity, d.staleAfterSeconds)) {
        const who = `${run.worker_host ?? "?"} pid ${run.worker_pid ?? "?"}`;
        const scheduled =
            run.trigger === "schedule"
                ? " This scheduled drift check is not run again for its slot (claimed once); the schedule's next slot checks again, or queue a drift run now."
                : "";
        const marked = await d.db
            .updateTable("runs")
            .set({
                status: "interrupted",
                finished_at: new Date(),
                lock_pending: true,
                error: `the deployer running this run (${who}) stopped mid-run (crash, kill or restart); the engine's work was cut short. Run a refresh, then a preview, to see where the stack stands.${scheduled}`,
            })
            .where("id", "=", run.id)
            .where("status", "=", "running")
            .where("worker_id", "=", run.worker_id)
            .executeTakeFirst();
        if (Number(marked.numUpdatedRows) === 0) continue;
        // Provably dead on this host (not just silent): stop the engine processes it left.
        const dead = run.worker_host === hostname() && run.worker_pid !== null && (run.worker_pid === process.pid || !processAlive(run.worker_pid));
        if (dead && run.worker_id) {
            const stopped = stopProcessesOfWorker(run.worker_id);
            if (stopped.length > 0) {
                await d.db
                    .updateTable("runs")
                    .set({ message: `stopped ${stopped.length} engine process(es) the dead deployer left (pids ${stopped.map((p) => p.pid).join(", ")})` })
                    .where("id", "=", run.id)
                    .execute();
            }
        }
        d.bus.changed(run.id);
    }
    const pending = await d.db.selectFrom("runs").select(["id", "stack", "message"]).where("lock_pending", "=", true).execute();
    for (const run of pending) {
        const busy = await d.db.selectFrom("runs").select("id").where("stack", "=", run.stack).where("status", "=", "running").executeTakeFirst();
        if (busy) continue;
        const result = await clearStaleEngineLock(run.stack, () => prepareStack(run.stack, d.paths), d.paths.backendUrl).catch((err: unknown) => ({
            cleared: false,
            note: `could not clear the stack's lock: ${redact((err as Error).message)}`,
        }));
        // Keep the note about stopped engine processes; replace an earlier lock note.
        const reaped = run.message?.startsWith("stopped ") ? `${run.message.split("; ")[0]}; ` : "";
        await d.db
            .updateTable("runs")
            .set({ lock_pending: !result.cleared, message: reaped + result.note })
            .where("id", "=", run.id)
            .execute();
        d.bus.changed(run.id);
    }
    if (pending.length > 0) d.wake();
    await d.resumeSlots?.(d.staleAfterSeconds);
}
