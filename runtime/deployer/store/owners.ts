/** The `stack_owners` table: which team owns a stack, and whether the deployer wrote its file. */
import type { Selectable } from "kysely";
import type { Db, StackOwnersTable } from "./db";

export type StackOwner = Selectable<StackOwnersTable>;

export class OwnersRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    of(stack: string): Promise<StackOwner | undefined> {
        return this.db.selectFrom("stack_owners").selectAll().where("stack", "=", stack).executeTakeFirst();
    }

    async all(): Promise<Map<string, StackOwner>> {
        return new Map((await this.db.selectFrom("stack_owners").selectAll().execute()).map((o) => [o.stack, o]));
    }

    /** Sets the stack's team; `created` also records who made it (the deployer wrote its file). */
    async assign(stack: string, team: string, by: string, created: boolean): Promise<void> {
        await this.db
            .insertInto("stack_owners")
            .values({ stack, team, created_by: by, deployer_created: created })
            .onConflict((oc) => oc.column("stack").doUpdateSet(created ? { team, created_by: by, deployer_created: true } : { team }))
            .execute();
    }

    async remove(stack: string): Promise<void> {
        await this.db.deleteFrom("stack_owners").where("stack", "=", stack).execute();
    }
}
