/**
 * The `stack_schedules` and `schedule_slots` tables, and the drift facts
 * read from `runs`: a stack's latest drift check and the stacks that drift.
 * A slot is claimed by inserting its (stack, slot) row: the primary key lets
 * exactly one replica claim it, however many see it due at once.
 */
import { type Selectable, sql } from "kysely";
import type { Db, ScheduleSlotsTable, StackSchedulesTable } from "./db";
import type { RunRow } from "./runs";

export type ScheduleRow = Selectable<StackSchedulesTable>;
export type SlotRow = Selectable<ScheduleSlotsTable>;

/** The run a scheduled slot queues is found again by this key: a slot never queues two checks. */
export const slotIdempotencyKey = (stack: string, slot: Date) => `drift:${stack}:${slot.toISOString()}`;
/** And the remediation of a drift check by this one. */
export const remediationIdempotencyKey = (driftRunId: string) => `remediate:${driftRunId}`;
/** Who the scheduler's runs are requested by. */
export const schedulerSubject = "scheduler";

export class SchedulesRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    get(stack: string): Promise<ScheduleRow | undefined> {
        return this.db.selectFrom("stack_schedules").selectAll().where("stack", "=", stack).executeTakeFirst();
    }

    all(): Promise<ScheduleRow[]> {
        return this.db.selectFrom("stack_schedules").selectAll().execute();
    }

    async set(stack: string, cron: string, remediate: boolean, by: string): Promise<ScheduleRow> {
        return this.db
            .insertInto("stack_schedules")
            .values({ stack, drift_cron: cron, remediate, updated_by: by })
            .onConflict((oc) => oc.column("stack").doUpdateSet({ drift_cron: cron, remediate, updated_by: by, updated_at: new Date() }))
            .returningAll()
            .executeTakeFirstOrThrow();
    }

    async remove(stack: string): Promise<boolean> {
        const r = await this.db.deleteFrom("stack_schedules").where("stack", "=", stack).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
    }

    /** True when this call claimed the slot; false when a replica (this one included) already had. */
    async claimSlot(stack: string, slot: Date, by: string): Promise<boolean> {
        const r = await this.db
            .insertInto("schedule_slots")
            .values({ stack, slot, claimed_by: by })
            .onConflict((oc) => oc.columns(["stack", "slot"]).doNothing())
            .returning("stack")
            .executeTakeFirst();
        return r !== undefined;
    }

    async settleSlot(stack: string, slot: Date, runId: string | null, outcome: string): Promise<void> {
        await this.db.updateTable("schedule_slots").set({ run_id: runId, outcome }).where("stack", "=", stack).where("slot", "=", slot).execute();
    }

    /** Slots claimed more than `olderThanSeconds` ago whose claimer never settled them (it stopped in between). */
    unsettledSlots(olderThanSeconds: number): Promise<SlotRow[]> {
        return this.db
            .selectFrom("schedule_slots")
            .selectAll()
            .where("outcome", "is", null)
            .where("claimed_at", "<", new Date(Date.now() - olderThanSeconds * 1000))
            .execute();
    }

    slots(stack: string, limit = 20): Promise<SlotRow[]> {
        return this.db.selectFrom("schedule_slots").selectAll().where("stack", "=", stack).orderBy("slot", "desc").limit(limit).execute();
    }

    /** Forgets slots older than `days` (their runs stay in the history). */
    async pruneSlots(days: number): Promise<void> {
        await this.db
            .deleteFrom("schedule_slots")
            .where("slot", "<", new Date(Date.now() - days * 86_400_000))
            .where("outcome", "is not", null)
            .execute();
    }

    /** The stack's drift check still queued or running, if any. */
    activeCheck(stack: string): Promise<Pick<RunRow, "id" | "status"> | undefined> {
        return this.db
            .selectFrom("runs")
            .select(["id", "status"])
            .where("stack", "=", stack)
            .where("operation", "=", "drift")
            .where("status", "in", ["queued", "running"])
            .executeTakeFirst();
    }

    /** The stack's latest drift check that ended. */
    latestCheck(stack: string): Promise<RunRow | undefined> {
        return this.db
            .selectFrom("runs")
            .selectAll()
            .where("stack", "=", stack)
            .where("operation", "=", "drift")
            .where("status", "not in", ["queued", "running"])
            .orderBy("seq", "desc")
            .limit(1)
            .executeTakeFirst();
    }

    /** The up that remediates a drift check's findings, if one was queued. */
    remediationOf(driftRunId: string): Promise<Pick<RunRow, "id" | "status"> | undefined> {
        return this.db
            .selectFrom("runs")
            .select(["id", "status"])
            .where("requested_by", "=", schedulerSubject)
            .where("idempotency_key", "=", remediationIdempotencyKey(driftRunId))
            .executeTakeFirst();
    }

    /**
     * Stacks whose latest completed drift check found drift, and no later run
     * settled it: an up that refreshed first (what remediation runs) puts the
     * cluster back, a refresh takes the cluster's state into Pulumi's. A plain
     * up does neither (it compares the program with the state, not the cluster).
     */
    async driftedStacks(): Promise<number> {
        const r = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM (
                SELECT DISTINCT ON (stack) stack, seq, drift_json FROM runs
                WHERE operation = 'drift' AND status = 'succeeded'
                ORDER BY stack, seq DESC
            ) latest
            WHERE latest.drift_json IS NOT NULL AND latest.drift_json <> '[]'
              AND NOT EXISTS (
                  SELECT 1 FROM runs u
                  WHERE u.stack = latest.stack AND u.seq > latest.seq AND u.status = 'succeeded'
                    AND ((u.operation = 'up' AND u.refresh_first) OR u.operation = 'refresh'))`.execute(this.db);
        return r.rows[0]?.n ?? 0;
    }
}
