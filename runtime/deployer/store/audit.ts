/** The `audit` table: who did what, when, with what outcome. */
import type { Insertable } from "kysely";
import type { AuditOutcome } from "../http/schemas";
import type { AuditTable, Db } from "./db";

export interface AuditEntry {
    id: number;
    at: string;
    actor: string;
    teams: string[];
    action: string;
    target: string;
    outcome: string;
    reason: string | null;
    requestId: string | null;
    remote: string | null;
}

export class AuditRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    async insert(row: Insertable<AuditTable>): Promise<void> {
        await this.db.insertInto("audit").values(row).execute();
    }

    async list(filter: { outcome?: AuditOutcome; limit?: number }): Promise<AuditEntry[]> {
        let q = this.db
            .selectFrom("audit")
            .selectAll()
            .orderBy("id", "desc")
            .limit(Math.min(filter.limit ?? 100, 1000));
        if (filter.outcome) q = q.where("outcome", "=", filter.outcome);
        return (await q.execute()).map((r) => ({
            id: r.id,
            at: r.at.toISOString(),
            actor: r.actor,
            teams: JSON.parse(r.teams) as string[],
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            reason: r.reason,
            requestId: r.request_id,
            remote: r.remote,
        }));
    }
}
