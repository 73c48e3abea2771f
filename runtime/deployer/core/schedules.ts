/**
 * Scheduled drift detection. A stack's schedule is a cron pattern (parsed and
 * stepped by croner, in UTC); at each due slot one replica (the one whose
 * claim of the (stack, slot) row succeeds, worker/scheduler.ts) queues a
 * `drift` run: `refresh --preview-only`, which records the drifted resources
 * and their changed properties and writes nothing to the state. The latest
 * report is GET /v1/stacks/{stack}/drift. With `remediate`, drift found by a
 * scheduled check queues an up that refreshes first (remediationRequest
 * decides how; through approval when the stack's ups are gated).
 */
import { Cron } from "croner";
import { UnprocessableError } from "../errors";
import type { DriftedResource, DriftReport, ScheduleBody, ScheduleView } from "../http/schemas";
import type { Logger } from "../log";
import type { OwnersRepository } from "../store/owners";
import type { RunRow, RunStatus, RunTrigger } from "../store/runs";
import { remediationIdempotencyKey, type ScheduleRow, type SchedulesRepository, schedulerSubject, slotIdempotencyKey } from "../store/schedules";
import type { StackFiles } from "../store/stack-files";
import type { Access, Caller } from "./access";
import type { Approvals } from "./approvals";
import type { AuditLog } from "./audit";
import { type Queued, requireCluster, type Runs } from "./runs";
import { validateOrThrow } from "./stacks";

/** An example the 422 of a pattern that does not parse gives. */
export const cronExample = '"0 */6 * * *" (every six hours)';

/** A cron pattern of a drift schedule, in UTC; five fields, or six with seconds first. */
export function cronOf(pattern: string): Cron {
    return new Cron(pattern, { paused: true, timezone: "UTC", mode: "5-or-6-parts" });
}

/**
 * The pattern parsed, or a 422 naming the key, the value and an example:
 * it must parse, fire at all, and not fire more often than every
 * `minIntervalSeconds` (each check is a full refresh of the stack).
 */
export function parseDriftCron(pattern: string, minIntervalSeconds: number): Cron {
    const refuse = (why: string): never => {
        throw new UnprocessableError(`drift.cron '${pattern}' ${why}`, { problems: [{ key: "drift.cron", value: pattern, message: why }] });
    };
    let cron: Cron;
    try {
        cron = cronOf(pattern);
    } catch (err) {
        return refuse(
            `does not parse (${(err as Error).message.replace(/^CronPattern: /, "")}): write five fields, minute hour day-of-month month day-of-week, in UTC, e.g. ${cronExample}; or six, with seconds first`,
        );
    }
    const next = cron.nextRuns(6);
    if (next.length === 0) return refuse(`never fires (no date matches it): write a pattern that comes round, e.g. ${cronExample}`);
    for (let i = 1; i < next.length; i++) {
        const gap = (next[i]!.getTime() - next[i - 1]!.getTime()) / 1000;
        if (gap < minIntervalSeconds) {
            return refuse(
                `fires every ${gap}s, more often than the shortest interval allowed, ${minIntervalSeconds}s (X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS): each check is a full refresh; e.g. ${cronExample}`,
            );
        }
    }
    return cron;
}

export interface SchedulesDeps {
    repo: SchedulesRepository;
    files: StackFiles;
    owners: OwnersRepository;
    access: Access;
    audit: AuditLog;
    runs: Runs;
    log: Logger;
    /** Shortest interval between two checks a pattern may ask for. */
    minIntervalSeconds: number;
    /** Queues a run through an approval when the stack's policy gates it (core/approvals.ts). */
    approvals: Pick<Approvals, "queue">;
}

export class Schedules {
    private readonly d: SchedulesDeps;

    constructor(deps: SchedulesDeps) {
        this.d = deps;
    }

    async get(caller: Caller, stack: string): Promise<ScheduleView> {
        await this.d.access.stack(caller, "read", stack);
        return this.view(stack);
    }

    private async view(stack: string): Promise<ScheduleView> {
        const slots = await this.d.repo.slots(stack, 10);
        return {
            stack,
            drift: driftView(await this.d.repo.get(stack)),
            recentSlots: slots.map((s) => ({ slot: s.slot.toISOString(), claimedBy: s.claimed_by, runId: s.run_id, outcome: s.outcome })),
        };
    }

    async set(caller: Caller, stack: string, body: ScheduleBody): Promise<ScheduleView> {
        await this.d.access.stack(caller, "set-schedule", stack);
        if (body.drift === null) {
            const removed = await this.d.repo.remove(stack);
            await this.d.audit.record(caller, "set-schedule", `stack:${stack}`, "ok", removed ? "drift schedule removed" : "no drift schedule to remove");
            return this.view(stack);
        }
        parseDriftCron(body.drift.cron, this.d.minIntervalSeconds);
        const config = validateOrThrow(stack, this.d.files.read(stack).text);
        requireCluster(stack, config.cluster, "check drift");
        const row = await this.d.repo.set(stack, body.drift.cron, body.drift.remediate, caller.principal.subject);
        await this.d.audit.record(caller, "set-schedule", `stack:${stack}`, "ok", `drift check '${row.drift_cron}' (UTC)${row.remediate ? ", remediate" : ""}`);
        return this.view(stack);
    }

    async report(caller: Caller, stack: string): Promise<DriftReport> {
        await this.d.access.stack(caller, "read", stack);
        const schedule = driftView(await this.d.repo.get(stack));
        const check = await this.d.repo.latestCheck(stack);
        if (!check) return { stack, schedule, latest: null };
        const drifted = (check.drift_json ? JSON.parse(check.drift_json) : []) as DriftedResource[];
        const remediation = await this.d.repo.remediationOf(check.id);
        return {
            stack,
            schedule,
            latest: {
                runId: check.id,
                status: check.status as RunStatus,
                trigger: check.trigger as RunTrigger,
                checkedAt: check.finished_at?.toISOString() ?? null,
                drifted: check.status === "succeeded" ? drifted.length > 0 : null,
                resources: drifted,
                error: check.error,
                remediation: remediation ? { runId: remediation.id, status: remediation.status as RunStatus } : null,
            },
        };
    }

    /**
     * Queues the check of a slot this replica claimed (worker/scheduler.ts),
     * or records why none was: the stack is gone, or its previous check is
     * still queued or running. Safe to call again for the same slot (its
     * Idempotency-Key finds the run it queued).
     */
    async queueCheck(stack: string, slot: Date): Promise<string> {
        const schedule = await this.d.repo.get(stack);
        if (!schedule || !(await this.stackExists(stack))) {
            // A deleted stack's schedule goes with it.
            if (schedule) await this.d.repo.remove(stack);
            await this.d.repo.settleSlot(stack, slot, null, "skipped: the stack or its schedule is gone");
            return "skipped";
        }
        const active = await this.d.repo.activeCheck(stack);
        if (active) {
            const why = `skipped: the previous check ${active.id} is still ${active.status}`;
            await this.d.repo.settleSlot(stack, slot, active.id, why);
            this.d.log.info({ stack, slot: slot.toISOString(), runId: active.id }, "scheduled drift check skipped: the previous one is still active");
            return why;
        }
        const caller = await this.schedulerCaller(stack);
        const queued = await this.d.runs.enqueue(caller, {
            stack,
            operation: "drift",
            trigger: "schedule",
            idempotencyKey: slotIdempotencyKey(stack, slot),
        });
        await this.d.repo.settleSlot(stack, slot, queued.run.id, "queued");
        this.d.log.info({ stack, slot: slot.toISOString(), runId: queued.run.id, cron: schedule.drift_cron }, "scheduled drift check queued");
        return "queued";
    }

    /**
     * What a drift check that ended leads to (core of the run-end processing,
     * worker/outcomes.ts): when a scheduled check found drift and the
     * schedule says remediate, the remediation request. Idempotent: the
     * remediation of one check is queued once, whichever replica asks.
     */
    async afterCheck(run: RunRow): Promise<Queued | undefined> {
        if (run.operation !== "drift" || run.trigger !== "schedule" || run.status !== "succeeded") return undefined;
        const drifted = run.drift_json ? (JSON.parse(run.drift_json) as unknown[]).length : 0;
        if (drifted === 0) return undefined;
        const schedule = await this.d.repo.get(run.stack);
        if (!schedule?.remediate || !(await this.stackExists(run.stack))) return undefined;
        return this.remediationRequest(run, drifted);
    }

    /**
     * The one place that decides how drift is remediated: an up that refreshes
     * first (so the cluster is put back to what the program declares), queued
     * through the approvals when the stack's policy gates its ups (then it is
     * a preview with --refresh and an approval that waits for an approver),
     * else queued as it is. Idempotent per drift check.
     */
    private async remediationRequest(check: RunRow, drifted: number): Promise<Queued> {
        const caller = await this.schedulerCaller(check.stack);
        const queued = await this.d.approvals.queue(caller, {
            stack: check.stack,
            operation: "up",
            trigger: "remediation",
            refresh: true,
            idempotencyKey: remediationIdempotencyKey(check.id),
        });
        if (queued.created) {
            const how = queued.approval ? `waiting for approval ${queued.approval.id} (preview ${queued.run.id})` : `up ${queued.run.id}`;
            this.d.log.info(
                { stack: check.stack, runId: queued.run.id, driftRunId: check.id },
                `remediation queued, ${how}: drift check ${check.id} found ${drifted} drifted resource(s)`,
            );
        }
        return queued;
    }

    /** Whether the stack still exists; with several replicas, after this working copy caught up with the shared database. */
    private async stackExists(stack: string): Promise<boolean> {
        await this.d.files.sync(stack);
        return this.d.files.names().includes(stack);
    }

    /** The scheduler acts for the stack's team: its runs are in the team's history and audit. */
    private async schedulerCaller(stack: string): Promise<Caller> {
        const team = (await this.d.owners.of(stack))?.team;
        return { principal: { subject: schedulerSubject, roles: team ? { [team]: "operator" } : {}, admin: false } };
    }

    /** The next due slot of a stack's schedule, for the scheduler. */
    static latestDueSlot(schedule: ScheduleRow, now: Date): Date | undefined {
        const slot = cronOf(schedule.drift_cron).previousRuns(1, now)[0];
        // A slot from before the schedule was set (or changed) is not due.
        return slot && slot.getTime() >= schedule.updated_at.getTime() ? slot : undefined;
    }

    /** The schedules of every stack (for the scheduler). */
    all(): Promise<ScheduleRow[]> {
        return this.d.repo.all();
    }
}

function driftView(row: ScheduleRow | undefined): ScheduleView["drift"] {
    if (!row) return null;
    let next: Date | null = null;
    try {
        next = cronOf(row.drift_cron).nextRun();
    } catch {
        next = null;
    }
    return {
        cron: row.drift_cron,
        remediate: row.remediate,
        nextCheckAt: next?.toISOString() ?? null,
        updatedBy: row.updated_by,
        updatedAt: row.updated_at.toISOString(),
    };
}
