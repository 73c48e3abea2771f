/**
 * The `approvals` and `approval_policies` tables: what waits for an
 * approver, what was decided, and which operations of a stack an admin
 * gated or un-gated. Status changes are conditional updates (`WHERE status =
 * 'pending'`), so two replicas or two approvers never decide one approval twice.
 */
import type { Insertable, Selectable } from "kysely";
import type { ApprovalPoliciesTable, ApprovalsTable, Db } from "./db";

export const approvalStatuses = ["pending", "approved", "rejected", "expired", "invalidated"] as const;
export type ApprovalStatus = (typeof approvalStatuses)[number];

/** The operations an approval gates. */
export const gatedOperations = ["up", "destroy"] as const;
export type GatedOperation = (typeof gatedOperations)[number];

export type ApprovalRow = Selectable<ApprovalsTable>;
export type PolicyRow = Selectable<ApprovalPoliciesTable>;

export interface ApprovalFilter {
    stack?: string;
    status?: ApprovalStatus;
    limit?: number;
    /** Only approvals of stacks these teams own (or owned when requested); undefined: every approval. */
    teams?: string[];
}

export class ApprovalsRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    async insert(row: Insertable<ApprovalsTable>): Promise<void> {
        await this.db.insertInto("approvals").values(row).execute();
    }

    byId(id: string): Promise<ApprovalRow | undefined> {
        return this.db.selectFrom("approvals").selectAll().where("id", "=", id).executeTakeFirst();
    }

    byPreview(runId: string): Promise<ApprovalRow | undefined> {
        return this.db.selectFrom("approvals").selectAll().where("preview_run_id", "=", runId).executeTakeFirst();
    }

    list(filter: ApprovalFilter): Promise<ApprovalRow[]> {
        let q = this.db
            .selectFrom("approvals")
            .selectAll()
            .orderBy("seq", "desc")
            .limit(Math.min(filter.limit ?? 50, 500));
        if (filter.stack) q = q.where("stack", "=", filter.stack);
        if (filter.status) q = q.where("status", "=", filter.status);
        const teams = filter.teams;
        if (teams) {
            if (teams.length === 0) return Promise.resolve([]);
            q = q.where((eb) => eb.or([eb("team", "in", teams), eb("stack", "in", eb.selectFrom("stack_owners").select("stack").where("team", "in", teams))]));
        }
        return q.execute();
    }

    /** Decides a pending approval; false when it was no longer pending (someone decided first). */
    async decide(id: string, status: Exclude<ApprovalStatus, "pending">, by: string, reason: string | null): Promise<boolean> {
        const r = await this.db
            .updateTable("approvals")
            .set({ status, decided_by: by, decided_at: new Date(), reason })
            .where("id", "=", id)
            .where("status", "=", "pending")
            .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
    }

    /** Puts an approval claimed for approving back to pending (queuing its run failed). */
    async undoApprove(id: string): Promise<void> {
        await this.db.updateTable("approvals").set({ status: "pending", decided_by: null, decided_at: null }).where("id", "=", id).execute();
    }

    async setRun(id: string, runId: string): Promise<void> {
        await this.db.updateTable("approvals").set({ run_id: runId }).where("id", "=", id).execute();
    }

    /** Marks every pending approval past its age expired; returns them. */
    expireOverdue(reason: string): Promise<ApprovalRow[]> {
        return this.db
            .updateTable("approvals")
            .set({ status: "expired", decided_at: new Date(), reason })
            .where("status", "=", "pending")
            .where("expires_at", "<=", new Date())
            .returningAll()
            .execute();
    }

    async countByStatus(): Promise<Record<ApprovalStatus, number>> {
        const rows = await this.db
            .selectFrom("approvals")
            .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
            .groupBy("status")
            .execute();
        const out = Object.fromEntries(approvalStatuses.map((s) => [s, 0])) as Record<ApprovalStatus, number>;
        for (const r of rows) out[r.status as ApprovalStatus] = Number(r.n);
        return out;
    }

    policy(stack: string): Promise<PolicyRow | undefined> {
        return this.db.selectFrom("approval_policies").selectAll().where("stack", "=", stack).executeTakeFirst();
    }

    async setPolicy(stack: string, policy: { up: boolean; destroy: boolean }, by: string): Promise<void> {
        await this.db
            .insertInto("approval_policies")
            .values({ stack, up: policy.up, destroy: policy.destroy, set_by: by })
            .onConflict((oc) => oc.column("stack").doUpdateSet({ up: policy.up, destroy: policy.destroy, set_by: by, set_at: new Date() }))
            .execute();
    }

    /** A removed stack's policy goes with it: a new stack of the same name starts from the default. */
    async removePolicy(stack: string): Promise<void> {
        await this.db.deleteFrom("approval_policies").where("stack", "=", stack).execute();
    }
}
