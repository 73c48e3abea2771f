/**
 * Runs queued runs through the Automation API, one replica's share of them.
 *
 * Each claimed run gets an AbortController: cancel (asked here or on another
 * replica, seen through the heartbeat), the run's timeout and a shutdown all
 * abort it, which the Automation API turns into SIGINT for the engine: a
 * clean cancel that releases the stack's lock. Pulumi's concurrent-update
 * error never reaches a caller: a stack locked by a process outside the
 * deployer puts the run back in the queue to try again.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { projectRoot } from "../engine/project";
import { engineEnv, pulumiCommand, runOperation, type Operation, type RunResult } from "../engine/stack-runner";
import { type Db, processAlive } from "./db";
import { clearStaleEngineLock, engineLock } from "./engine-lock";
import { stopProcessesOfWorker, workerIdVariable } from "./orphans";
import { type ChangeCounts, EventDigest, EventRecorder, projectEvent } from "./events";
import type { RunQueue, RunRow, WorkerIdentity } from "./queue";
import { redact } from "./redact";
import { proposedConfigFile, readStackText, removeStackFile, writeStackFile } from "./stack-files";

/** A config change carried by a run: previewed from a copy, written to the stack file after a successful `up`. */
export interface ConfigChange {
    kind: "workspace-add" | "workspace-remove" | "tier-upgrade";
    summary: string;
    baseRevision: string;
    proposedText: string;
}

export interface PolicyRecord {
    /** Whether the policy pack ran with this run. */
    applied: boolean;
    pack: string | null;
    note?: string;
    results: { policyPack: string; policy: string; enforcement: string; message: string; resource?: string | null }[];
    mandatory: number;
    advisory: number;
}

export interface WorkerOptions {
    /** Folder of the CrossGuard pack applied to every run (policies/). */
    policyPackDir: string;
    /** A worker silent for this long is presumed dead and its runs interrupted. */
    staleAfterSeconds: number;
    /** How often to look for queued work posted by other replicas. */
    pollIntervalMs: number;
    /** Retries while something outside the deployer holds the stack's lock (5 s apart). */
    lockedRetries: number;
}

type AbortReason = "cancel" | "timeout" | "shutdown";

interface ActiveRun {
    controller: AbortController;
    reason?: AbortReason;
    done: Promise<void>;
}

class LockedByOtherProcess extends Error {}

/** Tells listeners (SSE streams, waiters) that a run changed: new events or a new status. */
export class RunBus extends EventEmitter {
    constructor() {
        super();
        this.setMaxListeners(0);
    }

    changed(runId: string): void {
        this.emit(runId);
        this.emit("*", runId);
    }
}

export class Worker {
    readonly identity: WorkerIdentity = { id: randomUUID(), host: hostname(), pid: process.pid };
    private readonly db: Db;
    private readonly queue: RunQueue;
    private readonly bus: RunBus;
    private readonly options: WorkerOptions;
    private readonly active = new Map<string, ActiveRun>();
    private timers: NodeJS.Timeout[] = [];
    private claiming = false;
    private again = false;
    /** True until start() and after stop(): no claiming. */
    private stopping = true;
    /** Highest number of runs this worker had in flight at once (reported by the tests). */
    peakConcurrency = 0;

    constructor(db: Db, queue: RunQueue, bus: RunBus, options: WorkerOptions) {
        this.db = db;
        this.queue = queue;
        this.bus = bus;
        this.options = options;
    }

    /** Recovers runs left by dead workers, then starts claiming, beating and watching. */
    async start(): Promise<void> {
        this.stopping = false;
        // Every engine process this worker starts inherits the mark, so a later
        // start-up can find and stop them if this process is killed.
        process.env[workerIdVariable] = this.identity.id;
        await this.recover();
        this.timers.push(setInterval(() => this.wake(), this.options.pollIntervalMs));
        this.timers.push(setInterval(() => void this.beat().catch(() => undefined), 1000));
        this.timers.push(setInterval(() => void this.recover().catch(() => undefined), Math.max(2000, (this.options.staleAfterSeconds * 1000) / 4)));
        this.wake();
    }

    /** Look for work now (a run was queued or finished). */
    wake(): void {
        if (this.stopping) return;
        if (this.claiming) {
            this.again = true;
            return;
        }
        this.claiming = true;
        void this.claimLoop()
            .catch(() => undefined)
            .finally(() => {
                this.claiming = false;
                if (this.again) {
                    this.again = false;
                    this.wake();
                }
            });
    }

    private async claimLoop(): Promise<void> {
        while (!this.stopping) {
            const run = await this.queue.claim(this.identity);
            if (!run) return;
            this.bus.changed(run.id);
            const entry: ActiveRun = { controller: new AbortController(), done: Promise.resolve() };
            this.active.set(run.id, entry);
            this.peakConcurrency = Math.max(this.peakConcurrency, this.active.size);
            entry.done = this.execute(run, entry).finally(() => {
                this.active.delete(run.id);
                this.bus.changed(run.id);
                this.wake();
            });
        }
    }

    /** Aborts a run this worker is executing; false when it runs elsewhere. */
    abort(runId: string, reason: AbortReason): boolean {
        const entry = this.active.get(runId);
        if (!entry) return false;
        entry.reason ??= reason;
        entry.controller.abort();
        return true;
    }

    private async beat(): Promise<void> {
        const rows = await this.queue.heartbeat(this.identity);
        for (const r of rows) if (r.cancel_requested_by) this.abort(r.id, "cancel");
    }

    /**
     * Marks runs of dead workers as interrupted and clears the stack locks
     * they left, unless a live process still holds them (then retried later).
     */
    async recover(): Promise<void> {
        for (const run of await this.queue.orphaned(this.identity, this.options.staleAfterSeconds)) {
            const who = `${run.worker_host ?? "?"} pid ${run.worker_pid ?? "?"}`;
            const marked = await this.db
                .updateTable("runs")
                .set({
                    status: "interrupted",
                    finished_at: new Date(),
                    lock_pending: true,
                    error: `the deployer running this run (${who}) stopped mid-run (crash, kill or restart); the engine's work was cut short. Run a refresh, then a preview, to see where the stack stands.`,
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
                    await this.db
                        .updateTable("runs")
                        .set({ message: `stopped ${stopped.length} engine process(es) the dead deployer left (pids ${stopped.map((p) => p.pid).join(", ")})` })
                        .where("id", "=", run.id)
                        .execute();
                }
            }
            this.bus.changed(run.id);
        }
        const pending = await this.db.selectFrom("runs").select(["id", "stack", "message"]).where("lock_pending", "=", true).execute();
        for (const run of pending) {
            const busy = await this.db.selectFrom("runs").select("id").where("stack", "=", run.stack).where("status", "=", "running").executeTakeFirst();
            if (busy) continue;
            const result = await clearStaleEngineLock(run.stack).catch((err: unknown) => ({ cleared: false, note: `could not clear the stack's lock: ${redact((err as Error).message)}` }));
            // Keep the note about stopped engine processes; replace an earlier lock note.
            const reaped = run.message?.startsWith("stopped ") ? `${run.message.split("; ")[0]}; ` : "";
            await this.db
                .updateTable("runs")
                .set({ lock_pending: !result.cleared, message: reaped + result.note })
                .where("id", "=", run.id)
                .execute();
            this.bus.changed(run.id);
        }
        if (pending.length > 0) this.wake();
    }

    private async execute(run: RunRow, entry: ActiveRun): Promise<void> {
        const operation = run.operation as Operation;
        const recorder = new EventRecorder(this.db, run.id, run.event_count, () => this.bus.changed(run.id));
        const digest = new EventDigest();
        const timer = setTimeout(() => this.abort(run.id, "timeout"), run.timeout_seconds * 1000);
        const change = run.change_json ? (JSON.parse(run.change_json) as ConfigChange) : undefined;
        const policy = this.policyRecord();
        let proposed: { file: string; cleanup: () => void } | undefined;
        let message: string | null = null;
        try {
            await this.checkEngineLock(run.stack);
            if (change) {
                const current = readStackText(run.stack);
                if (current.revision !== change.baseRevision) {
                    throw new Error(
                        `stacks/Pulumi.${run.stack}.yaml changed since this change was proposed (revision ${change.baseRevision}, now ${current.revision}): propose the change again`,
                    );
                }
                proposed = proposedConfigFile(run.stack, change.proposedText);
            }
            entry.controller.signal.throwIfAborted();
            const result: RunResult = await runOperation(run.stack, operation, {
                onEvent: (e) => {
                    const p = projectEvent(e);
                    if (!p) return;
                    digest.add(p.kind, p.data, operation);
                    recorder.push(p.kind, p.data);
                },
                policyPacks: policy.applied && policy.pack ? [policy.pack] : undefined,
                signal: entry.controller.signal,
                configFile: proposed?.file,
            });
            await recorder.flush();
            if (change && operation === "up") {
                writeStackFile(run.stack, change.proposedText, change.baseRevision);
                message = `config change applied: ${change.summary}; stacks/Pulumi.${run.stack}.yaml updated`;
            }
            if (run.remove_stack && operation === "destroy") {
                await this.removeStack(run.stack);
                message = `stack '${run.stack}' destroyed and removed (state and stacks/Pulumi.${run.stack}.yaml)`;
            }
            await this.finish(run, "succeeded", {
                counts_json: JSON.stringify(result.counts),
                outputs_json: operation === "up" ? JSON.stringify(result.outputs) : null,
                message,
            }, digest, policy, recorder);
        } catch (err) {
            await recorder.flush().catch(() => undefined);
            if (err instanceof LockedByOtherProcess || isConcurrentUpdate(err)) {
                if (run.attempts < this.options.lockedRetries && !entry.reason) {
                    await this.queue.requeue(run.id, this.identity, 5, `waiting: ${redact((err as Error).message.split("\n")[0] ?? "")}`);
                    return;
                }
            }
            const status = entry.reason === "timeout" ? "timed_out" : entry.reason === "cancel" ? "cancelled" : entry.reason === "shutdown" ? "interrupted" : "failed";
            const canceller = entry.reason === "cancel" ? await this.cancelledBy(run.id) : null;
            // An up or destroy that stopped early has changed what it reached: say what, and what to do.
            const counts = digest.counts();
            const partial = (operation === "up" || operation === "destroy") && counts.create + counts.update + counts.delete + counts.replace > 0;
            await this.finish(
                run,
                status,
                {
                    counts_json: JSON.stringify(counts),
                    error: describeFailure(err, digest, entry.reason, run, canceller),
                    message: partial ? partlyApplied(operation, counts) : message,
                },
                digest,
                policy,
                recorder,
            );
        } finally {
            clearTimeout(timer);
            proposed?.cleanup();
        }
    }

    /**
     * This worker holds the stack's slot in the queue, so a lock left by a
     * dead engine is stale: clear it. A live holder is a process outside the
     * deployer (an operator's `pulumi up`): wait for it.
     */
    private async checkEngineLock(stack: string): Promise<void> {
        const lock = engineLock(stack);
        if (!lock.inspectable || lock.holders.length === 0) return;
        const result = await clearStaleEngineLock(stack);
        if (!result.cleared) throw new LockedByOtherProcess(`${result.note}; the run waits for it`);
    }

    private async cancelledBy(id: string): Promise<string | null> {
        const row = await this.db.selectFrom("runs").select("cancel_requested_by").where("id", "=", id).executeTakeFirst();
        return row?.cancel_requested_by ?? null;
    }

    private policyRecord(): PolicyRecord {
        const dir = this.options.policyPackDir;
        // policies/run-pack starts the pack as an executable analyzer, which works with every
        // language host (the offline-built one cannot start a pack folder itself).
        const pack = existsSync(path.join(dir, "run-pack")) ? path.join(dir, "run-pack") : dir;
        if (existsSync(path.join(dir, "PulumiPolicy.yaml"))) return { applied: true, pack, results: [], mandatory: 0, advisory: 0 };
        return { applied: false, pack: null, note: `no policy pack at ${path.relative(projectRoot, dir) || dir}/PulumiPolicy.yaml`, results: [], mandatory: 0, advisory: 0 };
    }

    private async finish(
        run: RunRow,
        status: string,
        fields: { counts_json?: string | null; outputs_json?: string | null; error?: string; message: string | null },
        digest: EventDigest,
        policy: PolicyRecord,
        recorder: EventRecorder,
    ): Promise<void> {
        policy.results = digest.policy;
        policy.mandatory = digest.policy.filter((p) => p.enforcement === "mandatory").length;
        policy.advisory = digest.policy.length - policy.mandatory;
        const firstEventMs = recorder.firstEventAt ? recorder.firstEventAt - run.created_at.getTime() : null;
        await this.db
            .updateTable("runs")
            .set({
                status,
                finished_at: new Date(),
                counts_json: fields.counts_json ?? null,
                outputs_json: fields.outputs_json ?? null,
                changes_json: JSON.stringify(digest.changes),
                drift_json: run.operation === "refresh" ? JSON.stringify(digest.drift) : null,
                policy_json: JSON.stringify(policy),
                error: fields.error ? redact(fields.error) : null,
                message: fields.message,
                first_event_ms: firstEventMs,
                event_count: recorder.count,
            })
            .where("id", "=", run.id)
            .where("worker_id", "=", this.identity.id)
            .where("status", "=", "running")
            .execute();
    }

    private async removeStack(stack: string): Promise<void> {
        const ws = await LocalWorkspace.create({ workDir: projectRoot, pulumiCommand: await pulumiCommand(), envVars: engineEnv(stack) });
        await ws.removeStack(stack);
        removeStackFile(stack);
        await this.db.deleteFrom("stack_owners").where("stack", "=", stack).execute();
    }

    /** Stops claiming; lets running runs finish for `graceMs`, then cancels them cleanly and marks them interrupted. */
    async stop(graceMs: number): Promise<void> {
        this.stopping = true;
        for (const t of this.timers) clearInterval(t);
        this.timers = [];
        const all = () => Promise.all([...this.active.values()].map((a) => a.done));
        const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
        if (timedOut) {
            for (const id of this.active.keys()) this.abort(id, "shutdown");
            await all();
        }
    }

    get activeCount(): number {
        return this.active.size;
    }
}

function isConcurrentUpdate(err: unknown): boolean {
    const text = err instanceof Error ? err.message : String(err);
    return err?.constructor?.name === "ConcurrentUpdateError" || /currently locked by|Another update is currently in progress/.test(text);
}

/** The run's message when an up or destroy stopped after changing resources. */
function partlyApplied(operation: Operation, counts: ChangeCounts): string {
    const did = `${counts.create} created, ${counts.update} updated, ${counts.replace} replaced, ${counts.delete} deleted`;
    return `the stack is partly ${operation === "up" ? "applied" : "destroyed"}: the engine ${did} before the ${operation} stopped; fix the cause in the error, then run a preview to see what is left and ${operation} again`;
}

/** A short, secret-free account of why a run did not succeed. */
function describeFailure(err: unknown, digest: EventDigest, reason: AbortReason | undefined, run: RunRow, canceller: string | null): string {
    if (reason === "cancel") return `cancelled by ${canceller ?? "request"}; the engine stopped cleanly and released the stack`;
    if (reason === "timeout") return `timed out after ${run.timeout_seconds}s; the engine was cancelled cleanly and released the stack`;
    if (reason === "shutdown") return "the deployer shut down during this run; the engine was cancelled cleanly; start the run again";
    const mandatory = digest.policy.filter((p) => p.enforcement === "mandatory");
    if (mandatory.length > 0) {
        // One line per policy and message, naming the resources it was found on.
        const byCause = new Map<string, string[]>();
        for (const p of mandatory) {
            const cause = `${p.policy}: ${p.message.split("\n")[0]}`;
            byCause.set(cause, [...(byCause.get(cause) ?? []), p.resource ? (p.resource.split("::").pop() ?? p.resource) : "the stack"]);
        }
        const lines = [...byCause].map(([cause, on]) => `- ${cause} (on ${[...new Set(on)].join(", ")})`);
        return `policy violations (${mandatory.length} mandatory):\n${lines.join("\n")}`;
    }
    if (digest.errors.length > 0) {
        // The engine repeats one cause per resource: say each distinct one once, with how often.
        const counts = new Map<string, number>();
        for (const e of digest.errors) {
            const line = e.split("\n").slice(0, 12).join("\n");
            counts.set(line, (counts.get(line) ?? 0) + 1);
        }
        return [...counts].map(([line, n]) => (n > 1 ? `${line} (${n} resources)` : line)).join("\n");
    }
    const text = err instanceof Error ? err.message : String(err);
    return text.split("\n").filter((l) => l.trim()).slice(-12).join("\n");
}
