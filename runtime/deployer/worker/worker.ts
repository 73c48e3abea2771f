/**
 * Runs queued runs through the Automation API, one replica's share of them.
 *
 * Each claimed run gets an AbortController: cancel (asked here or on another
 * replica, seen through the heartbeat), the run's timeout and a shutdown all
 * abort it, which the Automation API turns into SIGINT for the engine: a
 * clean cancel that releases the stack's lock. Pulumi's concurrent-update
 * error never reaches a caller: a stack locked by a process outside the
 * deployer puts the run back in the queue to try again (execute.ts).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../log";
import type { DeployerPaths } from "../paths";
import type { Db } from "../store/db";
import type { EventsRepository } from "../store/events";
import type { OwnersRepository } from "../store/owners";
import type { StackFiles } from "../store/stack-files";
import type { RunBus } from "./bus";
import { type AbortReason, type ActiveRun, executeRun } from "./execute";
import { workerIdVariable } from "./orphans";
import type { RunQueue, WorkerIdentity } from "./queue";
import { recover } from "./recovery";

export interface WorkerOptions {
    /** A worker silent for this long is presumed dead and its runs interrupted. */
    staleAfterSeconds: number;
    /** How often to look for queued work posted by other replicas. */
    pollIntervalMs: number;
    /** Retries while something outside the deployer holds the stack's lock (5 s apart). */
    lockedRetries: number;
}

export interface WorkerDeps {
    db: Db;
    queue: RunQueue;
    events: EventsRepository;
    owners: OwnersRepository;
    files: StackFiles;
    bus: RunBus;
    paths: DeployerPaths;
    log: Logger;
}

export class Worker {
    readonly identity: WorkerIdentity = { id: randomUUID(), host: hostname(), pid: process.pid };
    private readonly d: WorkerDeps;
    private readonly options: WorkerOptions;
    private readonly log: Logger;
    private readonly active = new Map<string, ActiveRun>();
    private timers: NodeJS.Timeout[] = [];
    private claiming = false;
    private again = false;
    /** True until start() and after stop(): no claiming. */
    private stopping = true;
    /** Settles schedule slots a stopped replica claimed (set by the deployer once its scheduler exists). */
    resumeSlots?: (staleAfterSeconds: number) => Promise<void>;

    constructor(deps: WorkerDeps, options: WorkerOptions) {
        this.d = deps;
        this.options = options;
        this.log = deps.log.child({ worker: this.identity.id });
    }

    /** Recovers runs left by dead workers, then starts claiming, beating and watching. */
    async start(): Promise<void> {
        this.stopping = false;
        // Every engine process this worker starts inherits the mark, so a later
        // start-up can find and stop them if this process is killed.
        process.env[workerIdVariable] = this.identity.id;
        await this.recover();
        const every = (ms: number, what: string, task: () => Promise<void> | void) =>
            this.timers.push(
                setInterval(
                    () =>
                        void Promise.resolve()
                            .then(task)
                            .catch((err: unknown) => this.log.error({ err }, `${what} failed; tried again in ${ms} ms`)),
                    ms,
                ),
            );
        every(1000, "the heartbeat", () => this.beat()); // first: stop() keeps it beating until runs end
        every(this.options.pollIntervalMs, "looking for queued runs", () => this.wake());
        every(Math.max(2000, (this.options.staleAfterSeconds * 1000) / 4), "recovery of interrupted runs", () => this.recover());
        this.wake();
    }

    private recover(): Promise<void> {
        return recover({
            ...this.d,
            identity: this.identity,
            staleAfterSeconds: this.options.staleAfterSeconds,
            wake: () => this.wake(),
            resumeSlots: this.resumeSlots,
        });
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
            .catch((err: unknown) => this.log.error({ err }, "claiming a queued run failed; the next poll tries again"))
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
            const run = await this.d.queue.claim(this.identity);
            if (!run) return;
            this.d.bus.changed(run.id);
            const entry: ActiveRun = { controller: new AbortController(), done: Promise.resolve() };
            this.active.set(run.id, entry);
            entry.done = executeRun({ ...this.d, identity: this.identity, log: this.log, lockedRetries: this.options.lockedRetries }, run, entry)
                .catch((err: unknown) =>
                    this.log.error({ err, runId: run.id, reqId: run.request_id ?? undefined }, "recording the run's end failed; recovery marks it interrupted"),
                )
                .finally(() => {
                    this.active.delete(run.id);
                    this.d.bus.changed(run.id);
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
        const rows = await this.d.queue.heartbeat(this.identity);
        for (const r of rows) if (r.cancel_requested_by) this.abort(r.id, "cancel");
    }

    /** Stops claiming; lets running runs finish for `graceMs`, then cancels them cleanly and marks them interrupted. */
    async stop(graceMs: number): Promise<void> {
        this.stopping = true;
        // The heartbeat goes on while runs finish: silent for the stale limit (20 s, less than the
        // 25 s grace), another replica would take this one for dead and interrupt its live runs.
        const [heartbeat, ...others] = this.timers;
        for (const t of others) clearInterval(t);
        const all = () => Promise.all([...this.active.values()].map((a) => a.done));
        const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
        if (timedOut) {
            for (const id of this.active.keys()) this.abort(id, "shutdown");
            await all();
        }
        clearInterval(heartbeat);
        this.timers = [];
    }

    get activeCount(): number {
        return this.active.size;
    }
}
