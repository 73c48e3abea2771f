/**
 * The `runs` table: its statuses, the SQL the services need, and the one
 * mapping from a row to the API's RunView (JSON columns decoded here, once).
 */
import type { Insertable, Selectable } from "kysely";
import type { ConfigChange } from "../core/proposals";
import type { DriftedResource, PolicyRecord, ResourceChange, RunView } from "../http/schemas";
import type { QueuePlace } from "../worker/queue";
import type { Db, RunsTable } from "./db";

export const runStatuses = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted", "timed_out", "expired", "superseded"] as const;
export type RunStatus = (typeof runStatuses)[number];
export const activeStatuses = ["queued", "running"] as const satisfies readonly RunStatus[];
export const terminalStatuses = runStatuses.filter((s) => !(activeStatuses as readonly string[]).includes(s));

export function isTerminal(status: string): boolean {
    return (terminalStatuses as readonly string[]).includes(status);
}

/** What queued a run: a request, a stack's drift schedule, or the remediation of drift that schedule found. */
export const runTriggers = ["request", "schedule", "remediation"] as const;
export type RunTrigger = (typeof runTriggers)[number];

export type RunRow = Selectable<RunsTable>;

const json = <T>(text: string | null): T | null => (text ? (JSON.parse(text) as T) : null);

/** The config change a run carries, with the proposed stack text (never shown by the API). */
export function changeOf(row: Pick<RunRow, "change_json">): ConfigChange | null {
    return json<ConfigChange>(row.change_json);
}

/** The API's view of a run; `place` is its queue place when it is queued. */
export function runView(r: RunRow, place?: QueuePlace): RunView {
    const change = changeOf(r);
    return {
        id: r.id,
        stack: r.stack,
        operation: r.operation as RunView["operation"],
        status: r.status as RunStatus,
        requestedBy: r.requested_by,
        createdAt: r.created_at.toISOString(),
        startedAt: r.started_at?.toISOString() ?? null,
        finishedAt: r.finished_at?.toISOString() ?? null,
        timeoutSeconds: r.timeout_seconds,
        queue: place,
        cancelRequestedBy: r.cancel_requested_by,
        counts: json<Record<string, number>>(r.counts_json),
        outputs: json<Record<string, unknown>>(r.outputs_json),
        changes: json<ResourceChange[]>(r.changes_json) ?? [],
        policy: json<PolicyRecord>(r.policy_json),
        drift: json<DriftedResource[]>(r.drift_json),
        change: change ? { kind: change.kind, summary: change.summary, baseRevision: change.baseRevision } : null,
        approvalId: r.approval_id,
        configRevision: r.config_revision,
        error: r.error,
        message: r.message,
        firstEventMs: r.first_event_ms,
        eventCount: r.event_count,
        worker: r.worker_host && r.worker_pid !== null ? { host: r.worker_host, pid: r.worker_pid } : null,
        trigger: r.trigger as RunTrigger,
        refresh: r.refresh_first,
        supersededBy: r.superseded_by,
    };
}

export interface RunFilter {
    stack?: string;
    status?: RunStatus;
    operation?: string;
    /** Paging: only runs older than this run. */
    before?: string;
    limit?: number;
    /** Only runs of stacks these teams own (or that they owned when the run was made); undefined: every run. */
    teams?: string[];
}

export class RunsRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    async insert(row: Insertable<RunsTable>): Promise<void> {
        await this.db.insertInto("runs").values(row).execute();
    }

    byId(id: string): Promise<RunRow | undefined> {
        return this.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
    }

    byIdempotencyKey(requestedBy: string, key: string): Promise<RunRow | undefined> {
        return this.db.selectFrom("runs").selectAll().where("requested_by", "=", requestedBy).where("idempotency_key", "=", key).executeTakeFirst();
    }

    list(filter: RunFilter): Promise<RunRow[]> {
        let q = this.db
            .selectFrom("runs")
            .selectAll()
            .orderBy("seq", "desc")
            .limit(Math.min(filter.limit ?? 50, 500));
        if (filter.stack) q = q.where("stack", "=", filter.stack);
        if (filter.status) q = q.where("status", "=", filter.status);
        if (filter.operation) q = q.where("operation", "=", filter.operation);
        const before = filter.before;
        if (before) q = q.where("seq", "<", (eb) => eb.selectFrom("runs as b").select("b.seq").where("b.id", "=", before));
        const teams = filter.teams;
        if (teams) {
            if (teams.length === 0) return Promise.resolve([]);
            q = q.where((eb) => eb.or([eb("team", "in", teams), eb("stack", "in", eb.selectFrom("stack_owners").select("stack").where("team", "in", teams))]));
        }
        return q.execute();
    }

    /** The stack's newest run, of one operation when given. */
    latest(stack: string, operation?: string): Promise<RunRow | undefined> {
        let q = this.db.selectFrom("runs").selectAll().where("stack", "=", stack);
        if (operation) q = q.where("operation", "=", operation);
        return q.orderBy("seq", "desc").limit(1).executeTakeFirst();
    }

    /** The stack's queued and running runs, oldest first. */
    active(stack: string): Promise<Pick<RunRow, "id" | "status">[]> {
        return this.db.selectFrom("runs").select(["id", "status"]).where("stack", "=", stack).where("status", "in", activeStatuses).orderBy("seq").execute();
    }

    /** Every stack's running runs (ids) and the number of queued runs. */
    async activeCounts(): Promise<{ running: string[]; queued: number }> {
        const rows = await this.db.selectFrom("runs").select(["id", "status"]).where("status", "in", activeStatuses).execute();
        return { running: rows.filter((r) => r.status === "running").map((r) => r.id), queued: rows.filter((r) => r.status === "queued").length };
    }

    /** Outputs of the stack's last succeeded up. */
    async lastOutputs(stack: string): Promise<Record<string, unknown> | null> {
        const row = await this.db
            .selectFrom("runs")
            .select("outputs_json")
            .where("stack", "=", stack)
            .where("operation", "=", "up")
            .where("status", "=", "succeeded")
            .orderBy("seq", "desc")
            .limit(1)
            .executeTakeFirst();
        return json<Record<string, unknown>>(row?.outputs_json ?? null);
    }

    /** Ends a queued run now; false when it was no longer queued. */
    async cancelQueued(id: string, by: string): Promise<boolean> {
        const r = await this.db
            .updateTable("runs")
            .set({ status: "cancelled", finished_at: new Date(), cancel_requested_by: by, error: `cancelled by ${by} before it started` })
            .where("id", "=", id)
            .where("status", "=", "queued")
            .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
    }

    /** Asks the worker of a running run to cancel it (seen through its heartbeat on any replica). */
    async requestCancel(id: string, by: string): Promise<void> {
        await this.db.updateTable("runs").set({ cancel_requested_by: by }).where("id", "=", id).where("status", "=", "running").execute();
    }

    /**
     * Marks the stack's queued plain ups older than `newest` superseded by it:
     * a plain up applies the stack file as it is when it runs, so the newest
     * applies all they would have. Ups carrying a config change or an approval
     * are kept (each applies what was previewed and approved). Returns the ids it superseded.
     */
    async supersedeQueuedUps(stack: string, newest: { id: string; seq: number }, by: string): Promise<string[]> {
        const rows = await this.db
            .updateTable("runs")
            .set({
                status: "superseded",
                finished_at: new Date(),
                superseded_by: newest.id,
                error: `superseded by the newer up ${newest.id} (requested by ${by}), which applies the stack as it is then; nothing was run`,
            })
            .where("stack", "=", stack)
            .where("status", "=", "queued")
            .where("operation", "=", "up")
            .where("change_json", "is", null)
            .where("approval_id", "is", null)
            .where("seq", "<", newest.seq)
            .returning("id")
            .execute();
        return rows.map((r) => r.id);
    }

    /** Ends one run as `expired` if it is still queued (it never started); false when it had started or ended. */
    async expireOne(id: string, error: string): Promise<boolean> {
        const r = await this.db
            .updateTable("runs")
            .set({ status: "expired", finished_at: new Date(), error })
            .where("id", "=", id)
            .where("status", "=", "queued")
            .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
    }

    /** Ends queued runs older than `maxAgeSeconds` as `expired`; returns them. */
    async expireQueued(maxAgeSeconds: number): Promise<Pick<RunRow, "id" | "stack" | "operation" | "requested_by">[]> {
        return this.db
            .updateTable("runs")
            .set({
                status: "expired",
                finished_at: new Date(),
                error: `queued for more than ${maxAgeSeconds}s without starting (X1_DEPLOYER_QUEUED_MAX_AGE_SECONDS): nothing was run; queue it again if it is still wanted`,
            })
            .where("status", "=", "queued")
            .where("created_at", "<", new Date(Date.now() - maxAgeSeconds * 1000))
            .returning(["id", "stack", "operation", "requested_by"])
            .execute();
    }
}
