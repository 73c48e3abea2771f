/** The `pauses` table: a pause of one stack (scope = its name) or of the whole deployer (scope '*'). */
import type { Selectable } from "kysely";
import type { PauseView } from "../http/schemas";
import type { Db, PausesTable } from "./db";

/** The scope of a pause of the whole deployer; never a stack name (stackNamePattern has no '*'). */
export const deployerScope = "*";

export type PauseRow = Selectable<PausesTable>;

export function pauseView(row: PauseRow): PauseView {
    return { scope: row.scope === deployerScope ? "deployer" : "stack", reason: row.reason, by: row.paused_by, at: row.paused_at.toISOString() };
}

export class PausesRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    get(scope: string): Promise<PauseRow | undefined> {
        return this.db.selectFrom("pauses").selectAll().where("scope", "=", scope).executeTakeFirst();
    }

    /** What keeps the stack's runs from starting: its own pause first, else the deployer's. */
    async forStack(stack: string): Promise<PauseRow | undefined> {
        const rows = await this.db.selectFrom("pauses").selectAll().where("scope", "in", [stack, deployerScope]).execute();
        return rows.find((r) => r.scope === stack) ?? rows[0];
    }

    /** Pauses (or re-states the reason of an existing pause). */
    async set(scope: string, reason: string, by: string): Promise<PauseRow> {
        return this.db
            .insertInto("pauses")
            .values({ scope, reason, paused_by: by })
            .onConflict((oc) => oc.column("scope").doUpdateSet({ reason, paused_by: by, paused_at: new Date() }))
            .returningAll()
            .executeTakeFirstOrThrow();
    }

    /** Lifts a pause; the pause lifted, or undefined when there was none. */
    remove(scope: string): Promise<PauseRow | undefined> {
        return this.db.deleteFrom("pauses").where("scope", "=", scope).returningAll().executeTakeFirst();
    }

    async pausedStacks(): Promise<number> {
        const r = await this.db
            .selectFrom("pauses")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("scope", "!=", deployerScope)
            .executeTakeFirstOrThrow();
        return Number(r.n);
    }
}
