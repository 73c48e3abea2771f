/** The `tokens` table: deployer bearer tokens, stored as their sha256 only. */
import type { TeamRoles } from "../core/roles";
import type { Db } from "./db";

export interface TokenView {
    id: string;
    name: string;
    /** The token's role in each team, as POST /v1/tokens takes it. */
    teams: TeamRoles;
    admin: boolean;
    createdAt: string;
    createdBy: string;
    lastUsedAt: string | null;
    revokedAt: string | null;
}

export class TokensRepository {
    private readonly db: Db;

    constructor(db: Db) {
        this.db = db;
    }

    async insert(row: { id: string; name: string; hash: string; roles: TeamRoles; admin: boolean; createdBy: string }): Promise<void> {
        await this.db
            .insertInto("tokens")
            .values({ id: row.id, name: row.name, hash: row.hash, roles: JSON.stringify(row.roles), admin: row.admin, created_by: row.createdBy })
            .execute();
    }

    async nameTaken(name: string): Promise<boolean> {
        return (await this.db.selectFrom("tokens").select("id").where("name", "=", name).executeTakeFirst()) !== undefined;
    }

    /** The live token with this hash, marked used now; undefined when unknown or revoked. */
    async use(hash: string): Promise<{ name: string; roles: TeamRoles; admin: boolean } | undefined> {
        const row = await this.db.selectFrom("tokens").selectAll().where("hash", "=", hash).executeTakeFirst();
        if (!row || row.revoked_at) return undefined;
        await this.db.updateTable("tokens").set({ last_used_at: new Date() }).where("id", "=", row.id).execute();
        return { name: row.name, roles: JSON.parse(row.roles) as TeamRoles, admin: row.admin };
    }

    async list(): Promise<TokenView[]> {
        const rows = await this.db
            .selectFrom("tokens")
            .select(["id", "name", "roles", "admin", "created_at", "created_by", "last_used_at", "revoked_at"])
            .orderBy("created_at")
            .execute();
        return rows.map((r) => ({
            id: r.id,
            name: r.name,
            teams: JSON.parse(r.roles) as TeamRoles,
            admin: r.admin,
            createdAt: r.created_at.toISOString(),
            createdBy: r.created_by,
            lastUsedAt: r.last_used_at?.toISOString() ?? null,
            revokedAt: r.revoked_at?.toISOString() ?? null,
        }));
    }

    /** Revokes a live token; false when there is none with this id. */
    async revoke(id: string): Promise<boolean> {
        const r = await this.db.updateTable("tokens").set({ revoked_at: new Date() }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
    }

    async liveCount(): Promise<number> {
        const r = await this.db
            .selectFrom("tokens")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("revoked_at", "is", null)
            .executeTakeFirstOrThrow();
        return Number(r.n);
    }
}
