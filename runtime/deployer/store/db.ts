/**
 * The deployer's database: run history, engine events, the audit log, API
 * tokens and stack ownership. One schema and one SQL dialect (PostgreSQL)
 * for both backends, through Kysely:
 *
 * - embedded (default): PGlite, PostgreSQL compiled to WASM, in a data
 *   folder; no server to run; one deployer process at a time.
 * - PostgreSQL (X1_DEPLOYER_DATABASE_URL=postgres://...): several deployer
 *   replicas share the queue, the history and the audit log.
 *
 * Because PGlite is PostgreSQL, the queries, the queue's row locks and the
 * advisory lock behave the same on both; the runtime tests run against both.
 * JSON is stored as text and parsed in code, so both drivers hand back the
 * same values (their jsonb parameter handling differs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { type Generated, Kysely, PostgresDialect } from "kysely";
import { Migrator } from "kysely/migration";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import { processAlive } from "../worker/orphans";
import type { Logger } from "../log";
import { migrations } from "./migrations";

export interface RunsTable {
    id: string;
    /** Arrival order: the queue is first-come first-served per stack. */
    seq: Generated<number>;
    stack: string;
    operation: string;
    status: string;
    requested_by: string;
    team: string | null;
    created_at: Generated<Date>;
    started_at: Date | null;
    finished_at: Date | null;
    idempotency_key: string | null;
    request_hash: string;
    timeout_seconds: number;
    cancel_requested_by: string | null;
    worker_id: string | null;
    worker_host: string | null;
    worker_pid: number | null;
    heartbeat_at: Date | null;
    attempts: Generated<number>;
    not_before: Date | null;
    change_json: string | null;
    /** The approval this run previews for, or applies. */
    approval_id: string | null;
    /** The stack file revision the run is pinned to (an approval's runs): the worker refuses another. */
    config_revision: string | null;
    remove_stack: Generated<boolean>;
    counts_json: string | null;
    outputs_json: string | null;
    changes_json: string | null;
    policy_json: string | null;
    drift_json: string | null;
    error: string | null;
    message: string | null;
    first_event_ms: number | null;
    event_count: Generated<number>;
    /** An interrupted run whose engine lock is still held by a live process: recovery checks it again. */
    lock_pending: Generated<boolean>;
    /** The id of the HTTP request that created the run: its log lines and the worker's carry it. */
    request_id: string | null;
    /** What queued the run (runTriggers in store/runs.ts). */
    trigger: Generated<string>;
    /** An up that refreshes the state against the cluster first (`up --refresh`): what a drift remediation runs. */
    refresh_first: Generated<boolean>;
    /** The newer up that replaced this queued one (status `superseded`). */
    superseded_by: string | null;
    /** When the run's end was processed (metrics, webhooks, remediation); null while that is still to do. */
    ended_processed_at: Date | null;
}

export interface RunEventsTable {
    run_id: string;
    seq: number;
    at: Date;
    kind: string;
    data: string;
}

export interface AuditTable {
    id: Generated<number>;
    at: Generated<Date>;
    actor: string;
    teams: string;
    action: string;
    target: string;
    outcome: string;
    reason: string | null;
    request_id: string | null;
    remote: string | null;
}

export interface TokensTable {
    id: string;
    name: string;
    /** sha256 of the token: tokens are 256-bit random, so a fast hash is enough and the value is never stored. */
    hash: string;
    /** JSON `{team: role}`. */
    roles: string;
    admin: boolean;
    created_at: Generated<Date>;
    created_by: string;
    last_used_at: Date | null;
    revoked_at: Date | null;
}

export interface StackOwnersTable {
    stack: string;
    team: string;
    created_by: string;
    created_at: Generated<Date>;
    /** The deployer wrote the stack file (create from an example); such stacks may be deleted by their team. */
    deployer_created: boolean;
}

export interface ApprovalPoliciesTable {
    stack: string;
    up: boolean;
    destroy: boolean;
    set_by: string;
    set_at: Generated<Date>;
}

export interface ApprovalsTable {
    id: string;
    seq: Generated<number>;
    stack: string;
    team: string | null;
    /** What is approved: `up` or `destroy`. */
    operation: string;
    /** A destroy that also removes the stack (DELETE /v1/stacks/{stack}). */
    remove_stack: Generated<boolean>;
    summary: string;
    /** The stack file revision the preview ran on; the approved run applies exactly it. */
    config_revision: string;
    preview_run_id: string;
    status: string;
    requested_by: string;
    requested_at: Generated<Date>;
    expires_at: Date;
    decided_by: string | null;
    decided_at: Date | null;
    reason: string | null;
    /** The run the approval queued. */
    run_id: string | null;
}

/** Stack config shared by replicas (store/stack-configs.ts); used on PostgreSQL. */
export interface StackConfigsTable {
    stack: string;
    /** The whole stack file, comments and the engine's encryptionsalt included. */
    text: string;
    /** Hash of the file's values without the salt (store/stack-files.ts revisionOf): the revision the API shows and edits name. */
    revision: string;
    /** Bumped by every change (salt included): the compare-and-set guard. */
    version: Generated<number>;
    updated_at: Generated<Date>;
    /** Set when the stack was removed (a tombstone). */
    deleted_at: Date | null;
}

/** A pause: of one stack (scope = its name) or of the whole deployer (scope '*'). */
export interface PausesTable {
    scope: string;
    reason: string;
    paused_by: string;
    paused_at: Generated<Date>;
}

export interface StackSchedulesTable {
    stack: string;
    /** A cron pattern (croner), in UTC. */
    drift_cron: string;
    /** Queue an up when a scheduled check finds drift. */
    remediate: boolean;
    updated_by: string;
    updated_at: Generated<Date>;
}

/** A claimed slot of a stack's schedule: its primary key makes the claim unique across replicas. */
export interface ScheduleSlotsTable {
    stack: string;
    slot: Date;
    /** The worker id of the replica that claimed it. */
    claimed_by: string;
    claimed_at: Generated<Date>;
    run_id: string | null;
    /** `queued`, or why no check was queued (a check still active). */
    outcome: string | null;
}

export interface WebhooksTable {
    id: string;
    team: string;
    url: string;
    /** JSON array of the events it receives. */
    events: string;
    /** The HMAC-SHA256 signing secret: shown once at creation, never again. */
    secret: string;
    description: string | null;
    created_by: string;
    created_at: Generated<Date>;
}

export interface WebhookDeliveriesTable {
    id: string;
    webhook_id: string;
    event: string;
    stack: string | null;
    run_id: string | null;
    /** The exact body sent, every attempt (the signature covers it). */
    payload: string;
    status: string;
    attempts: Generated<number>;
    /** JSON array: each attempt's time, HTTP status or error, duration. */
    attempts_json: Generated<string>;
    next_attempt_at: Generated<Date>;
    /** A replica sending it holds it until then. */
    lease_until: Date | null;
    lease_by: string | null;
    last_status: number | null;
    last_error: string | null;
    created_at: Generated<Date>;
    delivered_at: Date | null;
}

/** The first answer to a (caller, Idempotency-Key) of a request that changes something (store/idempotency.ts). */
export interface IdempotencyKeysTable {
    subject: string;
    key: string;
    /** `METHOD /route/:param` of the request. */
    route: string;
    /** sha256 of the method, route, parameters and body: the same key with another request is refused. */
    request_hash: string;
    /** Null while the first request is being answered. */
    status_code: number | null;
    /** The answer's body, secrets shown once left out. */
    body: string | null;
    created_at: Generated<Date>;
}

export interface Schema {
    runs: RunsTable;
    run_events: RunEventsTable;
    audit: AuditTable;
    tokens: TokensTable;
    stack_owners: StackOwnersTable;
    approval_policies: ApprovalPoliciesTable;
    approvals: ApprovalsTable;
    stack_configs: StackConfigsTable;
    pauses: PausesTable;
    stack_schedules: StackSchedulesTable;
    schedule_slots: ScheduleSlotsTable;
    webhooks: WebhooksTable;
    webhook_deliveries: WebhookDeliveriesTable;
    idempotency_keys: IdempotencyKeysTable;
}

export type Db = Kysely<Schema>;

export type DatabaseOptions =
    /** PGlite in `dir` (created if missing), or in memory when `dir` is undefined. */
    { kind: "embedded"; dir?: string } | { kind: "postgres"; url: string; poolSize?: number };

export interface Database {
    db: Db;
    kind: DatabaseOptions["kind"];
    /** Where the data lives, for humans (the DSN without its password). */
    location: string;
    close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions, log?: Logger): Promise<Database> {
    let database: Database;
    if (options.kind === "postgres") {
        const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
        // A dropped idle connection must not crash the service; the pool reconnects.
        pool.on("error", (err) => log?.warn({ err }, "database: an idle connection failed; the pool reconnects"));
        const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
        database = { db, kind: "postgres", location: options.url.replace(/(:\/\/[^/:@]+:)[^@]*@/, "$1****@"), close: () => db.destroy() };
    } else {
        const release = options.dir ? claimDataDir(options.dir) : () => undefined;
        const pglite = options.dir ? new PGlite(options.dir) : new PGlite();
        await pglite.waitReady;
        const db = new Kysely<Schema>({ dialect: new PGliteDialect(pglite) });
        database = {
            db,
            kind: "embedded",
            location: options.dir ?? "(in memory)",
            close: async () => {
                await db.destroy();
                release();
            },
        };
    }
    await migrate(database.db);
    return database;
}

/**
 * PGlite serves one process: two deployers on one data folder would corrupt
 * it. The folder holds the owner's pid; a live owner is refused with the fix.
 */
function claimDataDir(dir: string): () => void {
    mkdirSync(dir, { recursive: true });
    const pidFile = path.join(dir, "deployer.pid");
    if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        if (pid && pid !== process.pid && processAlive(pid)) {
            throw new Error(
                `the embedded database in ${dir} is in use by deployer pid ${pid}: stop that deployer, use another X1_DEPLOYER_DATA_DIR, ` +
                    "or set X1_DEPLOYER_DATABASE_URL=postgres://... so several deployers share one PostgreSQL",
            );
        }
    }
    writeFileSync(pidFile, `${process.pid}\n`);
    return () => {
        try {
            if (readFileSync(pidFile, "utf8").trim() === String(process.pid)) writeFileSync(pidFile, "");
        } catch {
            // the folder is gone: nothing to release
        }
    };
}

/** Brings the schema up to date; Kysely's migrator locks, so replicas starting together migrate once. */
async function migrate(db: Db): Promise<void> {
    const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => migrations },
        migrationTableName: "x1_deployer_migrations",
        migrationLockTableName: "x1_deployer_migrations_lock",
        // Migrations are numbered per branch of work and touch separate tables, so one that
        // lands later with a lower number still applies to a database that ran a higher one.
        allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
        const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
        throw new Error(`deployer database migration ${failed} failed: ${(error as Error).message}`);
    }
}
