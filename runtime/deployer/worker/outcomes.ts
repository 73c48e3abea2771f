/**
 * What follows a run's end, processed once across every replica: the
 * metrics of its end, its webhook event (run.succeeded, run.failed,
 * run.cancelled; drift.found for a drift check that found drift), and the
 * remediation a scheduled check asks for. A run that ended (by its worker,
 * a cancel, recovery, expiry or a newer up) has no `ended_processed_at`; a
 * replica takes it with `FOR UPDATE SKIP LOCKED`, queues its deliveries and
 * marks it in one transaction, so no event is lost or sent twice, even when
 * the replica that ended the run died right after. Also expires runs queued
 * for longer than the configured age (recorded `expired`, audited), and
 * approvals not decided in time (core/approvals.ts expireOverdue).
 */
import { PassLoop } from "./pass-loop";
import { sql } from "kysely";
import type { Approvals } from "../core/approvals";
import type { AuditLog } from "../core/audit";
import type { Metrics } from "../core/metrics";
import { type Notifications, runEndEvent } from "../core/notifications";
import type { Schedules } from "../core/schedules";
import type { DriftedResource } from "../http/schemas";
import type { Logger } from "../log";
import type { Db } from "../store/db";
import type { OwnersRepository } from "../store/owners";
import { type RunRow, type RunsRepository, terminalStatuses } from "../store/runs";
import type { RunBus } from "./bus";

export interface OutcomesDeps {
    db: Db;
    runs: RunsRepository;
    owners: OwnersRepository;
    notifications: Notifications;
    schedules: Schedules;
    metrics: Metrics;
    audit: AuditLog;
    bus: RunBus;
    log: Logger;
    /** Queued runs older than this end as `expired`; 0 keeps them queued forever. */
    queuedMaxAgeSeconds: number;
    /** Approvals not decided in time expire here too, not only when they are next read (core/approvals.ts). */
    approvals: Pick<Approvals, "expireOverdue">;
}

/** The deployer itself, as the audit log names it for what no caller asked (expiry). */
const deployerCaller = { principal: { subject: "deployer", roles: {}, admin: false } };

export class RunOutcomes {
    private readonly d: OutcomesDeps;
    private readonly log: Logger;
    private readonly loop = new PassLoop(
        () => this.pass(),
        (err: unknown) => this.log.error({ err }, "processing ended runs failed; the next pass tries again"),
    );

    constructor(deps: OutcomesDeps) {
        this.d = deps;
        this.log = deps.log.child({ component: "outcomes" });
    }

    start(everyMs: number): void {
        this.loop.start(everyMs);
    }

    /** Runs a pass now (one at a time; a wake during a pass runs another). */
    wake(): void {
        this.loop.wake();
    }

    /** Stops; the pass in flight ends first. */
    stop(): Promise<void> {
        return this.loop.stop();
    }

    /** One pass: expire what waited too long (queued runs, undecided approvals), then process every ended run not processed yet. */
    async pass(): Promise<void> {
        await this.d.approvals.expireOverdue();
        if (this.d.queuedMaxAgeSeconds > 0) {
            for (const r of await this.d.runs.expireQueued(this.d.queuedMaxAgeSeconds)) {
                await this.d.audit.record(
                    deployerCaller,
                    "expire",
                    `run:${r.id}`,
                    "ok",
                    `${r.operation} on stack '${r.stack}' requested by ${r.requested_by} was queued for more than ${this.d.queuedMaxAgeSeconds}s without starting`,
                );
                this.log.info({ runId: r.id, stack: r.stack }, "queued run expired");
                this.d.bus.changed(r.id);
            }
        }
        const ended = await this.d.db
            .selectFrom("runs")
            .select("id")
            .where("ended_processed_at", "is", null)
            .where("status", "in", terminalStatuses)
            .orderBy("seq")
            .limit(100)
            .execute();
        for (const { id } of ended) await this.process(id);
    }

    private async process(id: string): Promise<void> {
        const before = await this.d.runs.byId(id);
        if (!before) return;
        // Remediation first, outside the transaction: it is idempotent (one up per check, whoever asks),
        // so a replica that dies after it and before the mark leaves nothing undone and nothing doubled.
        const remediation = await this.d.schedules.afterCheck(before);
        if (remediation?.created) this.d.bus.changed(remediation.run.id);
        // Read before the transaction: the embedded database has one connection, which the transaction holds.
        const team = (await this.d.owners.of(before.stack))?.team ?? before.team;
        const row = await this.d.db.transaction().execute(async (tx) => {
            const locked = await sql<RunRow>`SELECT * FROM runs WHERE id = ${id} AND ended_processed_at IS NULL FOR UPDATE SKIP LOCKED`.execute(tx);
            const run = locked.rows[0];
            if (!run) return undefined;
            const event = runEndEvent(run.status);
            if (event) await this.d.notifications.emit(event, { team, stack: run.stack, run }, tx);
            const drift = run.operation === "drift" && run.status === "succeeded" && run.drift_json ? (JSON.parse(run.drift_json) as DriftedResource[]) : [];
            if (drift.length > 0) await this.d.notifications.emit("drift.found", { team, stack: run.stack, run, drift }, tx);
            await tx.updateTable("runs").set({ ended_processed_at: new Date() }).where("id", "=", id).execute();
            return run;
        });
        if (row) {
            this.d.metrics.runEnded(row);
            this.d.notifications.wakeSender();
        }
    }
}
