/**
 * The `stack_configs` table: stack configuration that several deployer
 * replicas share through PostgreSQL, with nothing on a shared disk.
 *
 * Why the database and not the files, or a git repository: replicas already
 * share this database (the queue, history, audit), and a conditional UPDATE
 * is a compare-and-set the database makes atomic across replicas, so two
 * edits based on one revision can never both land. A git repository would
 * need a remote every replica pushes to (one more stateful service, with
 * its own credentials) and a retry loop around non-fast-forward pushes to
 * get the same guarantee. The stack file is still what `pulumi up` and the
 * engine read: each replica exports the database's text to its own working
 * copy (store/stack-files.ts), so a file is always there to read, diff or
 * commit.
 *
 * Each row holds the whole file (comments, key order, the engine's
 * encryptionsalt), its revision (content hash without the salt: what the
 * API shows and edits name) and a version bumped by every change, which is
 * the compare-and-set guard. A removed stack keeps its row as a tombstone.
 */
import { sql } from "kysely";
import type { Db } from "./db";

/** A stack's row as replicas compare it with their working copy (no text). */
export interface StackConfigDigest {
    stack: string;
    revision: string;
    version: number;
    /** md5 of the whole text: whether the working copy's file is the same. */
    digest: string;
    /** Whether the text carries the engine's encryptionsalt line. */
    salted: boolean;
    deleted: boolean;
}

export interface StackConfigRow {
    stack: string;
    text: string;
    revision: string;
    version: number;
    deleted: boolean;
}

export class StackConfigsRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    /** Every stack's digest, or one stack's. */
    digests(stack?: string): Promise<StackConfigDigest[]> {
        let q = this.db
            .selectFrom("stack_configs")
            .select([
                "stack",
                "revision",
                "version",
                sql<string>`md5(text)`.as("digest"),
                sql<boolean>`position('encryptionsalt:' in text) > 0`.as("salted"),
                sql<boolean>`deleted_at IS NOT NULL`.as("deleted"),
            ]);
        if (stack !== undefined) q = q.where("stack", "=", stack);
        return q.execute();
    }

    get(stack: string): Promise<StackConfigRow | undefined> {
        return this.db
            .selectFrom("stack_configs")
            .select(["stack", "text", "revision", "version", sql<boolean>`deleted_at IS NOT NULL`.as("deleted")])
            .where("stack", "=", stack)
            .executeTakeFirst();
    }

    /** Adds a stack the database does not know yet (a working copy's file); false when it is there already, removed ones included. */
    async seed(stack: string, text: string, revision: string): Promise<boolean> {
        const r = await this.db
            .insertInto("stack_configs")
            .values({ stack, text, revision })
            .onConflict((oc) => oc.column("stack").doNothing())
            .executeTakeFirst();
        return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    }

    /** Creates a stack, or brings back a removed one; false when a live stack has the name. */
    async create(stack: string, text: string, revision: string): Promise<boolean> {
        const r = await this.db
            .insertInto("stack_configs")
            .values({ stack, text, revision })
            .onConflict((oc) =>
                oc
                    .column("stack")
                    .doUpdateSet({ text, revision, version: sql`stack_configs.version + 1`, updated_at: sql`now()`, deleted_at: null })
                    .where("stack_configs.deleted_at", "is not", null),
            )
            .executeTakeFirst();
        return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    }

    /** Compare-and-set: replaces the text only if the row is still at `version` and live; false otherwise. */
    async replace(stack: string, text: string, revision: string, version: number): Promise<boolean> {
        const r = await this.db
            .updateTable("stack_configs")
            .set({ text, revision, version: sql`version + 1`, updated_at: sql`now()` })
            .where("stack", "=", stack)
            .where("version", "=", version)
            .where("deleted_at", "is", null)
            .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
    }

    /** Marks a stack removed (its row stays as a tombstone). */
    async remove(stack: string): Promise<void> {
        await this.db
            .updateTable("stack_configs")
            .set({ deleted_at: sql`now()`, version: sql`version + 1`, updated_at: sql`now()` })
            .where("stack", "=", stack)
            .where("deleted_at", "is", null)
            .execute();
    }
}
