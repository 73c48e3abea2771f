/**
 * The run queue, in the database, shared by every deployer replica.
 *
 * Claiming a run is one short transaction that takes a transaction-scoped
 * advisory lock, checks the global bound (running runs across all replicas),
 * and picks the oldest queued run whose stack has nothing running and no
 * older queued run (first come, first served per stack), with
 * `FOR UPDATE SKIP LOCKED` on the candidate row. The advisory lock is there
 * because both rules are conditions on *other* rows (a count, a NOT EXISTS)
 * that row locks alone cannot make atomic; the transaction lasts
 * milliseconds while runs last tens of seconds, so serialising claims costs
 * nothing. A partial unique index (one `running` row per stack) backs the
 * rule inside the database. A paused stack, or a paused deployer, starts
 * nothing: its runs stay queued (a run already running is let finish).
 *
 * Why not a queue library: the well-kept ones for PostgreSQL (pg-boss,
 * graphile-worker) bring their own schema and a pg-only driver, so the
 * embedded backend could not run them; per-stack FIFO with a global bound is
 * a dozen lines of SQL that run the same on PGlite and PostgreSQL.
 */
import { hostname } from "node:os";
import { sql } from "kysely";
import type { Db } from "../store/db";
import { deployerScope, PausesRepository } from "../store/pauses";
import { activeStatuses, type RunRow } from "../store/runs";
import { processAlive } from "./orphans";

export interface WorkerIdentity {
    id: string;
    host: string;
    pid: number;
}

export interface QueuePlace {
    /** 1 = next to run on its stack. */
    position: number;
    /** What the run waits for, in words. */
    waitingFor: string;
}

export class RunQueue {
    private readonly db: Db;
    readonly maxConcurrentRuns: number;

    constructor(db: Db, maxConcurrentRuns: number) {
        this.db = db;
        this.maxConcurrentRuns = maxConcurrentRuns;
    }

    /** Claims the next runnable run for this worker, or undefined when none may start now. */
    async claim(worker: WorkerIdentity): Promise<RunRow | undefined> {
        return this.db.transaction().execute(async (tx) => {
            await sql`SELECT pg_advisory_xact_lock(hashtext('x1-deployer-run-queue'))`.execute(tx);
            const running = await tx.selectFrom("runs").select(sql<number>`count(*)::int`.as("n")).where("status", "=", "running").executeTakeFirstOrThrow();
            if (running.n >= this.maxConcurrentRuns) return undefined;
            const candidate = await sql<{ id: string }>`
                SELECT r.id FROM runs r
                WHERE r.status = 'queued'
                  AND (r.not_before IS NULL OR r.not_before <= now())
                  AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = r.stack OR p.scope = ${deployerScope})
                  AND NOT EXISTS (
                      SELECT 1 FROM runs o
                      WHERE o.stack = r.stack
                        AND (o.status = 'running' OR (o.status = 'queued' AND o.seq < r.seq)))
                ORDER BY r.seq
                LIMIT 1
                FOR UPDATE SKIP LOCKED`.execute(tx);
            const id = candidate.rows[0]?.id;
            if (!id) return undefined;
            return (await tx
                .updateTable("runs")
                .set({
                    status: "running",
                    started_at: new Date(),
                    heartbeat_at: new Date(),
                    worker_id: worker.id,
                    worker_host: worker.host,
                    worker_pid: worker.pid,
                    attempts: sql`attempts + 1`,
                    not_before: null,
                })
                .where("id", "=", id)
                .returningAll()
                .executeTakeFirstOrThrow()) as RunRow;
        });
    }

    /** Where a queued run stands: how many runs are ahead of it on its stack, or that it waits for a free slot. */
    async place(run: Pick<RunRow, "id" | "stack" | "seq" | "not_before" | "message">): Promise<QueuePlace> {
        const ahead = await this.db
            .selectFrom("runs")
            .select(["id", "status"])
            .where("stack", "=", run.stack)
            .where("status", "in", activeStatuses)
            .where("seq", "<", run.seq)
            .orderBy("seq")
            .execute();
        const pause = await new PausesRepository(this.db).forStack(run.stack);
        const pausedText = pause
            ? `${pause.scope === deployerScope ? "the deployer" : `stack '${run.stack}'`} is paused (by ${pause.paused_by} at ${pause.paused_at.toISOString()}: ${pause.reason})`
            : undefined;
        const paused = pausedText ? `; and ${pausedText}` : "";
        if (ahead.length > 0) {
            const running = ahead.find((r) => r.status === "running");
            return {
                position: ahead.length + 1,
                waitingFor: `${ahead.length} earlier run(s) on stack '${run.stack}'${running ? ` (run ${running.id} is running)` : ""}${paused}`,
            };
        }
        if (pausedText) return { position: 1, waitingFor: `the pause to be lifted: ${pausedText}` };
        if (run.not_before && run.not_before.getTime() > Date.now()) return { position: 1, waitingFor: run.message ?? "a retry" };
        const running = await this.db.selectFrom("runs").select(sql<number>`count(*)::int`.as("n")).where("status", "=", "running").executeTakeFirstOrThrow();
        return {
            position: 1,
            waitingFor:
                running.n >= this.maxConcurrentRuns ? `a free slot (${running.n} of ${this.maxConcurrentRuns} runs in progress)` : "a worker to pick it up",
        };
    }

    /** Marks this worker's runs alive; returns those whose cancellation was requested. */
    async heartbeat(worker: WorkerIdentity): Promise<{ id: string; cancel_requested_by: string | null }[]> {
        return this.db
            .updateTable("runs")
            .set({ heartbeat_at: new Date() })
            .where("worker_id", "=", worker.id)
            .where("status", "=", "running")
            .returning(["id", "cancel_requested_by"])
            .execute();
    }

    /**
     * Running runs whose worker is gone: on this host, a dead pid (or our own
     * pid under another worker id: a restarted container); anywhere, a
     * heartbeat older than `staleSeconds`.
     */
    async orphaned(worker: WorkerIdentity, staleSeconds: number): Promise<RunRow[]> {
        const rows = (await this.db.selectFrom("runs").selectAll().where("status", "=", "running").where("worker_id", "!=", worker.id).execute()) as RunRow[];
        const staleBefore = Date.now() - staleSeconds * 1000;
        return rows.filter((r) => {
            if (!r.heartbeat_at || r.heartbeat_at.getTime() < staleBefore) return true;
            if (r.worker_host !== hostname() || r.worker_pid === null) return false;
            return r.worker_pid === worker.pid || !processAlive(r.worker_pid);
        });
    }

    /** Puts a claimed run back in the queue for a later try (the stack is locked by something outside the deployer). */
    async requeue(id: string, worker: WorkerIdentity, delaySeconds: number, message: string): Promise<void> {
        await this.db
            .updateTable("runs")
            .set({
                status: "queued",
                not_before: new Date(Date.now() + delaySeconds * 1000),
                worker_id: null,
                worker_host: null,
                worker_pid: null,
                heartbeat_at: null,
                message,
            })
            .where("id", "=", id)
            .where("worker_id", "=", worker.id)
            .execute();
    }
}
