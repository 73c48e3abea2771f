/**
 * Pulumi's state table in the deployer's PostgreSQL database. The deployer's
 * migrations make it (0007_state_table) because the CLI's own CREATE TABLE IF
 * NOT EXISTS races with itself: two replicas' first engines on a fresh
 * database failed with a duplicate pg_type key. Shown with the pinned CLI:
 * the table the migration makes is the one the CLI makes on a database of its
 * own (columns, defaults, indexes); an engine opening the backend while
 * another is creating that table fails without it and succeeds with it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../runtime/deployer/store/db";
import { postgresStateUrl, stateSchema } from "../../runtime/engine/backend";
import { pulumiCommand } from "../../runtime/engine/stack-runner";
import { freshDatabase, projectCopy } from "./helpers";

const cliSchema = "made_by_cli";

describe("Pulumi's state table in the deployer's database", () => {
    let url: string;
    let cleanup: () => Promise<void>;
    let client: pg.Client;
    const copy = projectCopy("state-table");

    /** `pulumi stack ls` against a postgres:// backend: opening it is what makes the table. */
    const openBackend = async (backendUrl: string) => {
        const cli = await pulumiCommand();
        return promisify(execFile)(cli.command, ["stack", "ls", "--json", "--non-interactive"], {
            cwd: copy.paths.projectRoot,
            env: { ...process.env, PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
    };

    /** A schema's tables, columns and indexes, with the schema's name taken out. */
    const shape = async (schema: string) => {
        const columns = await client.query(
            `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
             WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
            [schema],
        );
        const indexes = await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
        return {
            columns: columns.rows,
            indexes: indexes.rows.map((r) => ({ ...r, indexdef: String(r.indexdef).replaceAll(`${schema}.`, "") })),
        };
    };

    beforeAll(async () => {
        const db = await freshDatabase("postgres");
        if (db.options.kind !== "postgres") throw new Error("a PostgreSQL database was asked for");
        url = db.options.url;
        cleanup = db.cleanup;
        client = new pg.Client({ connectionString: url });
        await client.connect();
    });

    afterAll(async () => {
        await client?.end();
        await cleanup?.();
        copy.remove();
    });

    it("is made by the migrations exactly as the pinned CLI makes it", async () => {
        const database = await openDatabase({ kind: "postgres", url, poolSize: 2 });
        await database.close();
        await client.query(`CREATE SCHEMA ${cliSchema}`);
        const cliUrl = new URL(postgresStateUrl(url));
        cliUrl.searchParams.set("search_path", cliSchema);
        await openBackend(cliUrl.toString());

        const migrated = await shape(stateSchema);
        const made = await shape(cliSchema);
        expect(made.columns.map((c) => c.column_name)).toEqual(["key", "data", "updated_at"]);
        expect(migrated).toEqual(made);
    });

    /**
     * Another engine opening the backend at the same moment, caught mid-statement: the CLI's
     * own CREATE TABLE IF NOT EXISTS (its backend/diy/postgres/schema.sql) in a transaction held
     * open while the CLI under test opens the backend, then committed once the CLI waits on it.
     */
    const openWhileAnotherEngineCreates = async (databaseUrl: string) => {
        const other = new pg.Client({ connectionString: databaseUrl });
        const watcher = new pg.Client({ connectionString: databaseUrl });
        await other.connect();
        await watcher.connect();
        try {
            await other.query("BEGIN");
            await other.query(`CREATE TABLE IF NOT EXISTS ${stateSchema}.pulumi_state (
                key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now())`);
            let done = false;
            const opening = openBackend(postgresStateUrl(databaseUrl)).then(
                () => "opened",
                (err: { stderr?: string }) => String(err.stderr ?? err),
            );
            void opening.finally(() => {
                done = true;
            });
            // The CLI either finds the table (nothing to wait for) or waits on the other's row.
            while (!done && !(await waitsOnALock(watcher, other))) await new Promise((r) => setTimeout(r, 50));
            await other.query("COMMIT");
            return await opening;
        } finally {
            await other.end();
            await watcher.end();
        }
    };

    it("is there before any engine opens the backend, so two opening at once both succeed", async () => {
        const bare = await freshDatabase("postgres");
        const migrated = await freshDatabase("postgres");
        if (bare.options.kind !== "postgres" || migrated.options.kind !== "postgres") throw new Error("PostgreSQL databases were asked for");
        try {
            // Without the migrations' table: the race two replicas' first runs met.
            const c = new pg.Client({ connectionString: bare.options.url });
            await c.connect();
            await c.query(`CREATE SCHEMA ${stateSchema}`);
            await c.end();
            expect(await openWhileAnotherEngineCreates(bare.options.url)).toMatch(/failed to create table pulumi_state: .*pg_type_typname_nsp_index/);

            const database = await openDatabase(migrated.options);
            await database.close();
            expect(await openWhileAnotherEngineCreates(migrated.options.url)).toBe("opened");
        } finally {
            await bare.cleanup();
            await migrated.cleanup();
        }
    });
});

/** Whether the backend of `holder` blocks a session that waits on a lock (asked by `watcher`, outside the holder's transaction and its snapshot). */
async function waitsOnALock(watcher: pg.Client, holder: pg.Client): Promise<boolean> {
    const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const waiting = await watcher.query("SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", [holderPid]);
    return (waiting.rowCount ?? 0) > 0;
}
