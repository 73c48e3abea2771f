/**
 * The `webhooks` and `webhook_deliveries` tables. A delivery is one event for
 * one webhook: its exact body, its status (pending, delivered, failed) and
 * every attempt. Pending deliveries are an outbox that every replica's sender
 * works: a due delivery is leased by one replica (`FOR UPDATE SKIP LOCKED`)
 * for the length of an attempt, so it is sent by one replica at a time and
 * survives a restart.
 */
import type { Insertable, Selectable } from "kysely";
import { sql } from "kysely";
import type { DeliveryView, WebhookEvent, WebhookView } from "../http/schemas";
import type { Db, WebhookDeliveriesTable, WebhooksTable } from "./db";

export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export const deliveryStatuses = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

export interface DeliveryAttempt {
    at: string;
    /** The receiver's HTTP status; null when none came (timeout, refused connection). */
    status: number | null;
    error: string | null;
    durationMs: number;
}

export function webhookView(r: WebhookRow): WebhookView {
    return {
        id: r.id,
        team: r.team,
        url: r.url,
        events: JSON.parse(r.events) as WebhookEvent[],
        description: r.description,
        createdBy: r.created_by,
        createdAt: r.created_at.toISOString(),
    };
}

export function deliveryView(r: DeliveryRow): DeliveryView {
    return {
        id: r.id,
        webhookId: r.webhook_id,
        event: r.event as WebhookEvent,
        stack: r.stack,
        runId: r.run_id,
        status: r.status as DeliveryStatus,
        attempts: JSON.parse(r.attempts_json) as DeliveryAttempt[],
        nextAttemptAt: r.status === "pending" ? r.next_attempt_at.toISOString() : null,
        lastStatus: r.last_status,
        lastError: r.last_error,
        createdAt: r.created_at.toISOString(),
        deliveredAt: r.delivered_at?.toISOString() ?? null,
        payload: JSON.parse(r.payload) as Record<string, unknown>,
    };
}

export class WebhooksRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    async insert(row: Insertable<WebhooksTable>): Promise<WebhookRow> {
        return this.db.insertInto("webhooks").values(row).returningAll().executeTakeFirstOrThrow();
    }

    byId(id: string): Promise<WebhookRow | undefined> {
        return this.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
    }

    /** Webhooks of these teams (undefined: every team), oldest first. */
    list(teams?: string[]): Promise<WebhookRow[]> {
        let q = this.db.selectFrom("webhooks").selectAll().orderBy("created_at");
        if (teams) {
            if (teams.length === 0) return Promise.resolve([]);
            q = q.where("team", "in", teams);
        }
        return q.execute();
    }

    async remove(id: string): Promise<void> {
        await this.db.deleteFrom("webhooks").where("id", "=", id).execute();
    }

    /** Every webhook's secret, to register with the redactor at start-up. */
    async secrets(): Promise<string[]> {
        return (await this.db.selectFrom("webhooks").select("secret").execute()).map((r) => r.secret);
    }

    async addDeliveries(rows: Insertable<WebhookDeliveriesTable>[]): Promise<void> {
        if (rows.length > 0) await this.db.insertInto("webhook_deliveries").values(rows).execute();
    }

    deliveries(webhookId: string, limit: number): Promise<DeliveryRow[]> {
        return this.db.selectFrom("webhook_deliveries").selectAll().where("webhook_id", "=", webhookId).orderBy("created_at", "desc").limit(limit).execute();
    }

    /** Leases up to `limit` due deliveries for `holder` until `leaseMs` from now; each with its webhook's URL and secret. */
    async leaseDue(holder: string, leaseMs: number, limit: number): Promise<(DeliveryRow & { url: string; secret: string })[]> {
        return this.db.transaction().execute(async (tx) => {
            const due = await sql<{ id: string }>`
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
                ORDER BY next_attempt_at
                LIMIT ${limit}
                FOR UPDATE SKIP LOCKED`.execute(tx);
            const ids = due.rows.map((r) => r.id);
            if (ids.length === 0) return [];
            await tx
                .updateTable("webhook_deliveries")
                .set({ lease_until: new Date(Date.now() + leaseMs), lease_by: holder })
                .where("id", "in", ids)
                .execute();
            return tx
                .selectFrom("webhook_deliveries")
                .innerJoin("webhooks", "webhooks.id", "webhook_deliveries.webhook_id")
                .selectAll("webhook_deliveries")
                .select(["webhooks.url", "webhooks.secret"])
                .where("webhook_deliveries.id", "in", ids)
                .execute();
        });
    }

    /** Records one attempt: delivered, retried at `retryAt`, or failed for good (`retryAt` undefined). */
    async recordAttempt(d: DeliveryRow, holder: string, attempt: DeliveryAttempt, outcome: { delivered: boolean; retryAt?: Date }): Promise<void> {
        const attempts = [...(JSON.parse(d.attempts_json) as DeliveryAttempt[]), attempt];
        await this.db
            .updateTable("webhook_deliveries")
            .set({
                status: outcome.delivered ? "delivered" : outcome.retryAt ? "pending" : "failed",
                attempts: attempts.length,
                attempts_json: JSON.stringify(attempts),
                last_status: attempt.status,
                last_error: attempt.error,
                next_attempt_at: outcome.retryAt ?? d.next_attempt_at,
                delivered_at: outcome.delivered ? new Date(attempt.at) : null,
                lease_until: null,
                lease_by: null,
            })
            .where("id", "=", d.id)
            .where("lease_by", "=", holder)
            .execute();
    }

    /** Deliveries by status (for /metrics). */
    async countByStatus(): Promise<Record<DeliveryStatus, number>> {
        const rows = await this.db
            .selectFrom("webhook_deliveries")
            .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
            .groupBy("status")
            .execute();
        const out: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, failed: 0 };
        for (const r of rows) out[r.status as DeliveryStatus] = Number(r.n);
        return out;
    }
}
