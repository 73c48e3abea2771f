/**
 * The `idempotency_keys` table: the first answer to each (caller,
 * Idempotency-Key) of a request that changes something, so a retried request
 * is answered again instead of acting twice (http/idempotency.ts). Runs keep
 * their key on the run itself (store/runs.ts), as the scheduler's keys do.
 */
import type { Db } from "./db";

/** What a key already holds. */
export type KeyClaim =
    | { kind: "new" }
    | { kind: "answered"; route: string; requestHash: string; statusCode: number; body: string }
    | { kind: "in-progress"; route: string; requestHash: string };

export class IdempotencyRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    /**
     * Claims the key for this request (one INSERT: of two requests at once,
     * one claims it), or returns what holds it. Keys older than `keepSeconds`
     * are forgotten first. A claim of the same request left unanswered for
     * `abandonedAfterSeconds` was held by a replica that died mid-request:
     * this request takes it over (one UPDATE: of two retries, one does).
     */
    async claim(subject: string, key: string, route: string, requestHash: string, keepSeconds: number, abandonedAfterSeconds: number): Promise<KeyClaim> {
        await this.db
            .deleteFrom("idempotency_keys")
            .where("created_at", "<", new Date(Date.now() - keepSeconds * 1000))
            .execute();
        const inserted = await this.db
            .insertInto("idempotency_keys")
            .values({ subject, key, route, request_hash: requestHash })
            .onConflict((oc) => oc.columns(["subject", "key"]).doNothing())
            .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { kind: "new" };
        const row = await this.db.selectFrom("idempotency_keys").selectAll().where("subject", "=", subject).where("key", "=", key).executeTakeFirst();
        if (!row) return this.claim(subject, key, route, requestHash, keepSeconds, abandonedAfterSeconds);
        if (row.status_code === null || row.body === null) {
            const takenOver = await this.db
                .updateTable("idempotency_keys")
                .set({ created_at: new Date() })
                .where("subject", "=", subject)
                .where("key", "=", key)
                .where("request_hash", "=", requestHash)
                .where("status_code", "is", null)
                .where("created_at", "<", new Date(Date.now() - abandonedAfterSeconds * 1000))
                .executeTakeFirst();
            if (Number(takenOver.numUpdatedRows) > 0) return { kind: "new" };
            return { kind: "in-progress", route: row.route, requestHash: row.request_hash };
        }
        return { kind: "answered", route: row.route, requestHash: row.request_hash, statusCode: row.status_code, body: row.body };
    }

    /** Keeps the first answer. */
    async answer(subject: string, key: string, statusCode: number, body: string): Promise<void> {
        await this.db.updateTable("idempotency_keys").set({ status_code: statusCode, body }).where("subject", "=", subject).where("key", "=", key).execute();
    }

    /** Forgets a key whose request failed: a corrected retry with the same key may act. */
    async release(subject: string, key: string): Promise<void> {
        await this.db.deleteFrom("idempotency_keys").where("subject", "=", subject).where("key", "=", key).where("status_code", "is", null).execute();
    }
}
