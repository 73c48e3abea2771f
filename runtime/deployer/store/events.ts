/** The `run_events` table: a run's engine events in order, as the worker stored them. */
import type { Insertable } from "kysely";
import type { StoredEvent } from "../http/schemas";
import type { Db, RunEventsTable } from "./db";

export class EventsRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    /** Stores a batch of events and the run's event count, in one transaction. */
    async append(runId: string, batch: Insertable<RunEventsTable>[]): Promise<void> {
        if (batch.length === 0) return;
        await this.db.transaction().execute(async (tx) => {
            // A retried batch may have landed before its failure was reported: keep the first copy.
            await tx
                .insertInto("run_events")
                .values(batch)
                .onConflict((oc) => oc.columns(["run_id", "seq"]).doNothing())
                .execute();
            await tx
                .updateTable("runs")
                .set({ event_count: Number(batch[batch.length - 1]!.seq) })
                .where("id", "=", runId)
                .execute();
        });
    }

    async after(runId: string, after: number, limit = 500): Promise<StoredEvent[]> {
        const rows = await this.db
            .selectFrom("run_events")
            .selectAll()
            .where("run_id", "=", runId)
            .where("seq", ">", after)
            .orderBy("seq")
            .limit(limit)
            .execute();
        return rows.map((r) => ({ seq: r.seq, at: r.at.toISOString(), kind: r.kind, data: JSON.parse(r.data) as Record<string, unknown> }));
    }
}
