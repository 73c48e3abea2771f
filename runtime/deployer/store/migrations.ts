/**
 * The deployer's schema, one migration per change, applied in order by
 * Kysely's migrator (store/db.ts) on both backends.
 */
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { stateSchema, stateTable } from "../../engine/backend";
import { revisionOf } from "./stack-files";

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
    "0003_roles_approvals": {
        async up(db: Kysely<unknown>) {
            // Tokens hold a role per team; a token made with a team list keeps those teams as operator.
            await sql`ALTER TABLE tokens ADD COLUMN roles text`.execute(db);
            await sql`
                UPDATE tokens SET roles = (
                    SELECT coalesce(json_object_agg(t.team, 'operator'), '{}'::json)::text
                    FROM json_array_elements_text(tokens.teams::json) AS t(team)
                )`.execute(db);
            await sql`ALTER TABLE tokens ALTER COLUMN roles SET NOT NULL`.execute(db);
            await sql`ALTER TABLE tokens DROP COLUMN teams`.execute(db);
            // Which operations of a stack need approval, where an admin set it (otherwise the prod-like default).
            await sql`
                CREATE TABLE approval_policies (
                    stack text PRIMARY KEY,
                    up boolean NOT NULL,
                    destroy boolean NOT NULL,
                    set_by text NOT NULL,
                    set_at timestamptz NOT NULL DEFAULT now()
                )`.execute(db);
            // One approval mechanism: a gated up or destroy, and every proposed config change.
            await sql`
                CREATE TABLE approvals (
                    id text PRIMARY KEY,
                    seq integer GENERATED ALWAYS AS IDENTITY UNIQUE,
                    stack text NOT NULL,
                    team text,
                    operation text NOT NULL,
                    remove_stack boolean NOT NULL DEFAULT false,
                    summary text NOT NULL,
                    config_revision text NOT NULL,
                    preview_run_id text NOT NULL UNIQUE,
                    status text NOT NULL,
                    requested_by text NOT NULL,
                    requested_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL,
                    decided_by text,
                    decided_at timestamptz,
                    reason text,
                    run_id text
                )`.execute(db);
            await sql`CREATE INDEX approvals_by_stack ON approvals (stack, seq)`.execute(db);
            await sql`CREATE INDEX approvals_by_status ON approvals (status, seq)`.execute(db);
            await sql`ALTER TABLE runs ADD COLUMN approval_id text`.execute(db);
            await sql`ALTER TABLE runs ADD COLUMN config_revision text`.execute(db);
            // Previews of config changes approved the old way become approvals (pending ones keep a day to be decided).
            await sql`
                INSERT INTO approvals (id, stack, team, operation, summary, config_revision, preview_run_id, status,
                                       requested_by, requested_at, expires_at, decided_by, decided_at, run_id)
                SELECT gen_random_uuid()::text, r.stack, r.team, 'up', r.change_json::json->>'summary', r.change_json::json->>'baseRevision', r.id,
                       CASE WHEN r.approved_run_id IS NULL THEN 'pending' ELSE 'approved' END,
                       r.requested_by, r.created_at, r.created_at + interval '1 day', r.approved_by, u.created_at, r.approved_run_id
                FROM runs r LEFT JOIN runs u ON u.id = r.approved_run_id
                WHERE r.operation = 'preview' AND r.change_json IS NOT NULL`.execute(db);
            await sql`
                UPDATE runs SET approval_id = a.id, config_revision = a.config_revision
                FROM approvals a WHERE runs.id = a.preview_run_id OR runs.id = a.run_id`.execute(db);
            await sql`ALTER TABLE runs DROP COLUMN approves_run_id`.execute(db);
            await sql`ALTER TABLE runs DROP COLUMN approved_by`.execute(db);
            await sql`ALTER TABLE runs DROP COLUMN approved_run_id`.execute(db);
        },
    },
    "0004_operations": {
        async up(db: Kysely<unknown>) {
            // How a run came to be (request, schedule, remediation), whether an up refreshes first
            // (drift remediation), which newer up superseded a queued one, and when its end was
            // processed (metrics, webhooks, remediation): exactly once across replicas.
            await sql`ALTER TABLE runs ADD COLUMN trigger text NOT NULL DEFAULT 'request'`.execute(db);
            await sql`ALTER TABLE runs ADD COLUMN refresh_first boolean NOT NULL DEFAULT false`.execute(db);
            await sql`ALTER TABLE runs ADD COLUMN superseded_by text`.execute(db);
            await sql`ALTER TABLE runs ADD COLUMN ended_processed_at timestamptz`.execute(db);
            // History from before this migration is not announced again.
            await sql`UPDATE runs SET ended_processed_at = now() WHERE status NOT IN ('queued', 'running')`.execute(db);
            await sql`CREATE INDEX runs_ended_unprocessed ON runs (seq) WHERE ended_processed_at IS NULL`.execute(db);
            // A pause of one stack, or of the whole deployer (scope '*', never a stack name).
            await sql`
                CREATE TABLE pauses (
                    scope text PRIMARY KEY,
                    reason text NOT NULL,
                    paused_by text NOT NULL,
                    paused_at timestamptz NOT NULL DEFAULT now()
                )`.execute(db);
            await sql`
                CREATE TABLE stack_schedules (
                    stack text PRIMARY KEY,
                    drift_cron text NOT NULL,
                    remediate boolean NOT NULL,
                    updated_by text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )`.execute(db);
            // One row per due slot of a schedule: the primary key is the claim, so with several
            // replicas a slot is checked once.
            await sql`
                CREATE TABLE schedule_slots (
                    stack text NOT NULL,
                    slot timestamptz NOT NULL,
                    claimed_by text NOT NULL,
                    claimed_at timestamptz NOT NULL DEFAULT now(),
                    run_id text,
                    outcome text,
                    PRIMARY KEY (stack, slot)
                )`.execute(db);
            await sql`
                CREATE TABLE webhooks (
                    id text PRIMARY KEY,
                    team text NOT NULL,
                    url text NOT NULL,
                    events text NOT NULL,
                    secret text NOT NULL,
                    description text,
                    created_by text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )`.execute(db);
            await sql`CREATE INDEX webhooks_by_team ON webhooks (team)`.execute(db);
            await sql`
                CREATE TABLE webhook_deliveries (
                    id text PRIMARY KEY,
                    webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                    event text NOT NULL,
                    stack text,
                    run_id text,
                    payload text NOT NULL,
                    status text NOT NULL,
                    attempts integer NOT NULL DEFAULT 0,
                    attempts_json text NOT NULL DEFAULT '[]',
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    lease_until timestamptz,
                    lease_by text,
                    last_status integer,
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    delivered_at timestamptz
                )`.execute(db);
            await sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`.execute(db);
            await sql`CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at)`.execute(db);
        },
    },
    "0005_shared_state": {
        async up(db: Kysely<unknown>) {
            // Stack config shared by replicas (store/stack-configs.ts): one row per stack, the
            // database the source of truth on PostgreSQL; a removed stack keeps a tombstone
            // (deleted_at) so a replica's older working copy cannot bring it back.
            await sql`
                CREATE TABLE stack_configs (
                    stack text PRIMARY KEY,
                    text text NOT NULL,
                    revision text NOT NULL,
                    version integer NOT NULL DEFAULT 1,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    deleted_at timestamptz
                )`.execute(db);
            // Pulumi's state (the CLI's postgres:// backend) lives in a schema of its own,
            // apart from the deployer's tables (engine/backend.ts).
            await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(stateSchema)}`.execute(db);
        },
    },
    "0006_deployer_ops": {
        async up(db: Kysely<unknown>) {
            // Idempotency-Key on every request that changes something, not only on those that queue runs.
            await sql`
                CREATE TABLE idempotency_keys (
                    subject text NOT NULL,
                    key text NOT NULL,
                    route text NOT NULL,
                    request_hash text NOT NULL,
                    status_code integer,
                    body text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (subject, key)
                )`.execute(db);
            await sql`CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at)`.execute(db);
            // Revisions hash what a stack file says, no longer its text (store/stack-files.ts
            // revisionOf): the shared stack configs get theirs again, and what was pinned to a
            // stack's old revision and still waits (pending approvals, queued runs, proposed
            // changes) is pinned to the same file's new one.
            const rows = await sql<{ stack: string; text: string; revision: string }>`SELECT stack, text, revision FROM stack_configs`.execute(db);
            for (const { stack, text, revision: old } of rows.rows) {
                const revision = revisionOf(text);
                if (revision === old) continue;
                await sql`UPDATE stack_configs SET revision = ${revision} WHERE stack = ${stack}`.execute(db);
                await sql`UPDATE approvals SET config_revision = ${revision} WHERE stack = ${stack} AND config_revision = ${old} AND status = 'pending'`.execute(
                    db,
                );
                await sql`UPDATE runs SET config_revision = ${revision} WHERE stack = ${stack} AND config_revision = ${old} AND status = 'queued'`.execute(db);
                await sql`
                    UPDATE runs SET change_json = (change_json::jsonb || jsonb_build_object('baseRevision', ${revision}::text))::text
                    WHERE stack = ${stack} AND status = 'queued' AND change_json IS NOT NULL AND change_json::json->>'baseRevision' = ${old}`.execute(db);
            }
        },
    },
    "0007_state_table": {
        async up(db: Kysely<unknown>) {
            // The CLI's postgres:// backend creates its table when it opens the backend, with
            // CREATE TABLE IF NOT EXISTS, which PostgreSQL does not make safe against itself: two
            // engines opening a fresh database at once (two replicas' first runs) can fail with
            // `duplicate key value violates unique constraint "pg_type_typname_nsp_index"`.
            // Made here once, under the migrator's lock, with the pinned CLI's own definition
            // (its backend/diy/postgres/schema.sql), the CLI's statements find it there.
            // test/runtime/state-table.test.ts holds the two definitions equal.
            await sql`
                CREATE TABLE IF NOT EXISTS ${sql.table(stateTable)} (
                    key TEXT PRIMARY KEY,
                    data JSON NOT NULL,
                    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
                )`.execute(db);
            await sql`CREATE INDEX IF NOT EXISTS pulumi_state_key_prefix_idx ON ${sql.table(stateTable)} (key text_pattern_ops)`.execute(db);
        },
    },
};
