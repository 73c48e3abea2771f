/**
 * The deployer's schema, one migration per change, applied in order by
 * Kysely's migrator (store/db.ts) on both backends.
 */
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

export const migrations: Record<string, Migration> = {
    "0001_history_queue_audit": {
        async up(db: Kysely<unknown>) {
            await sql`
                CREATE TABLE runs (
                    id text PRIMARY KEY,
                    seq integer GENERATED ALWAYS AS IDENTITY UNIQUE,
                    stack text NOT NULL,
                    operation text NOT NULL,
                    status text NOT NULL,
                    requested_by text NOT NULL,
                    team text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    started_at timestamptz,
                    finished_at timestamptz,
                    idempotency_key text,
                    request_hash text NOT NULL,
                    timeout_seconds integer NOT NULL,
                    cancel_requested_by text,
                    worker_id text,
                    worker_host text,
                    worker_pid integer,
                    heartbeat_at timestamptz,
                    attempts integer NOT NULL DEFAULT 0,
                    not_before timestamptz,
                    change_json text,
                    approves_run_id text,
                    approved_by text,
                    approved_run_id text,
                    remove_stack boolean NOT NULL DEFAULT false,
                    counts_json text,
                    outputs_json text,
                    changes_json text,
                    policy_json text,
                    drift_json text,
                    error text,
                    message text,
                    first_event_ms integer,
                    event_count integer NOT NULL DEFAULT 0,
                    lock_pending boolean NOT NULL DEFAULT false
                )`.execute(db);
            // The database itself refuses a second running run on a stack, whatever a replica believes.
            await sql`CREATE UNIQUE INDEX runs_one_running_per_stack ON runs (stack) WHERE status = 'running'`.execute(db);
            await sql`CREATE UNIQUE INDEX runs_idempotency ON runs (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL`.execute(db);
            await sql`CREATE INDEX runs_by_status ON runs (status, seq)`.execute(db);
            await sql`CREATE INDEX runs_by_stack ON runs (stack, seq)`.execute(db);
            await sql`
                CREATE TABLE run_events (
                    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    seq integer NOT NULL,
                    at timestamptz NOT NULL,
                    kind text NOT NULL,
                    data text NOT NULL,
                    PRIMARY KEY (run_id, seq)
                )`.execute(db);
            await sql`
                CREATE TABLE audit (
                    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    at timestamptz NOT NULL DEFAULT now(),
                    actor text NOT NULL,
                    teams text NOT NULL,
                    action text NOT NULL,
                    target text NOT NULL,
                    outcome text NOT NULL,
                    reason text,
                    request_id text,
                    remote text
                )`.execute(db);
            await sql`CREATE INDEX audit_by_time ON audit (at)`.execute(db);
            await sql`
                CREATE TABLE tokens (
                    id text PRIMARY KEY,
                    name text NOT NULL UNIQUE,
                    hash text NOT NULL UNIQUE,
                    teams text NOT NULL,
                    admin boolean NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    created_by text NOT NULL,
                    last_used_at timestamptz,
                    revoked_at timestamptz
                )`.execute(db);
            await sql`
                CREATE TABLE stack_owners (
                    stack text PRIMARY KEY,
                    team text NOT NULL,
                    created_by text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    deployer_created boolean NOT NULL
                )`.execute(db);
        },
    },
    "0002_run_request_id": {
        async up(db: Kysely<unknown>) {
            await sql`ALTER TABLE runs ADD COLUMN request_id text`.execute(db);
        },
    },
};
