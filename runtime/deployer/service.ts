/**
 * The deployer as a library: stacks, runs, config changes, tokens and the
 * audit log, with authorization on every call. The HTTP API (app.ts) and the
 * CLI are thin layers over this class.
 */
import { createHash, randomUUID } from "node:crypto";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { projectRoot, listStackNames } from "../engine/project";
import type { Operation } from "../engine/stack-runner";
import { appliesToCluster, type StackConfig } from "../../stacks/schema";
import { CONFIG_NAMESPACE, ConfigError } from "../../stacks/validate";
import { Authenticator, issueToken, type IssuedToken, type OidcSettings, type Principal } from "./auth";
import { type Database, type DatabaseOptions, openDatabase } from "./db";
import { engineLock } from "./engine-lock";
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from "./errors";
import type { StoredEvent } from "./events";
import { isTerminal, RunQueue, type RunRow } from "./queue";
import { redact, redactDeep, registerEnvironmentSecrets } from "./redact";
import {
    createStackFile,
    readStackText,
    removeStackFile,
    type TierUpgrade,
    validateText,
    withConfig,
    withTierUpgrade,
    withWorkspaceAdded,
    withWorkspaceRemoved,
    type WorkspaceSpec,
    workspacesOf,
    writeStackFile,
    x1ConfigOf,
} from "./stack-files";
import { type ConfigChange, type PolicyRecord, RunBus, Worker } from "./worker";

export interface DeployerOptions {
    database: DatabaseOptions;
    /** Runs in progress at once across every replica sharing the database. Default 2. */
    maxConcurrentRuns?: number;
    /** Timeout of a run when the request names none. Default 1800 s. */
    defaultTimeoutSeconds?: number;
    /** Longest timeout a request may ask for. Default 7200 s. */
    maxTimeoutSeconds?: number;
    /** A replica silent this long is presumed dead. Default 20 s. */
    staleAfterSeconds?: number;
    /** Default <project>/policies. */
    policyPackDir?: string;
    oidc?: OidcSettings;
    /** Default 1000 ms. */
    pollIntervalMs?: number;
    /** Work the queue in this process (default true); false serves the API only, leaving runs to other replicas. */
    runWorker?: boolean;
}

/** Who is asking, for authorization and the audit log. */
export interface Caller {
    principal: Principal;
    requestId?: string;
    remote?: string;
}

export interface RunView {
    id: string;
    stack: string;
    operation: string;
    status: string;
    requestedBy: string;
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    timeoutSeconds: number;
    queue?: { position: number; waitingFor: string };
    cancelRequestedBy: string | null;
    counts: Record<string, number> | null;
    outputs: Record<string, unknown> | null;
    changes: { op: string; type: string; name: string; urn: string; diffs: string[] }[];
    policy: PolicyRecord | null;
    drift: { op: string; type: string; name: string; urn: string; diffs: string[] }[] | null;
    change: { kind: string; summary: string; baseRevision: string } | null;
    approval: { approvedBy: string; upRunId: string } | null;
    approvesRunId: string | null;
    error: string | null;
    message: string | null;
    firstEventMs: number | null;
    eventCount: number;
    worker: { host: string; pid: number } | null;
}

export interface StackSummary {
    name: string;
    team: string | null;
    valid: boolean;
    problems: number;
    tier: string | null;
    workspaces: number;
    lastRun: RunView | null;
    activeRuns: number;
}

export interface StackDetail extends StackSummary {
    revision: string;
    config: Record<string, unknown>;
    problemList: { key: string; value: string; message: string }[];
    outputs: Record<string, unknown> | null;
    lock: {
        runningRunId: string | null;
        queuedRuns: number;
        engine: { inspectable: boolean; holders: { pid: number; host: string; since: string; alive: boolean | null }[] };
    };
}

export class Deployer {
    readonly database: Database;
    readonly queue: RunQueue;
    readonly worker: Worker;
    readonly bus = new RunBus();
    readonly auth: Authenticator;
    private readonly defaultTimeout: number;
    private readonly maxTimeout: number;

    private constructor(database: Database, options: DeployerOptions) {
        this.database = database;
        this.queue = new RunQueue(database.db, options.maxConcurrentRuns ?? 2);
        this.worker = new Worker(database.db, this.queue, this.bus, {
            policyPackDir: options.policyPackDir ?? path.join(projectRoot, "policies"),
            staleAfterSeconds: options.staleAfterSeconds ?? 20,
            pollIntervalMs: options.pollIntervalMs ?? 1000,
            lockedRetries: 60,
        });
        this.auth = new Authenticator(database.db, options.oidc);
        this.defaultTimeout = options.defaultTimeoutSeconds ?? 1800;
        this.maxTimeout = options.maxTimeoutSeconds ?? 7200;
    }

    /** Opens the database, recovers runs interrupted by a crash, and starts working the queue. */
    static async start(options: DeployerOptions): Promise<Deployer> {
        registerEnvironmentSecrets();
        const database = await openDatabase(options.database);
        const deployer = new Deployer(database, options);
        if (options.runWorker ?? true) await deployer.worker.start();
        return deployer;
    }

    /** Stops taking work, lets runs finish for `graceMs` (then cancels them cleanly), closes the database. */
    async stop(graceMs = 25_000): Promise<void> {
        await this.worker.stop(graceMs);
        await this.database.close();
    }

    private get db() {
        return this.database.db;
    }

    // ---- audit and authorization -------------------------------------------------

    async audit(caller: Caller | undefined, action: string, target: string, outcome: "allowed" | "denied" | "ok" | "error", reason?: string): Promise<void> {
        await this.db
            .insertInto("audit")
            .values({
                actor: auditText(caller?.principal.subject ?? "anonymous"),
                teams: auditText(JSON.stringify(caller?.principal.teams ?? [])),
                action: auditText(action),
                target: auditText(target),
                outcome,
                reason: reason === undefined ? null : auditText(redact(reason)),
                request_id: caller?.requestId ?? null,
                remote: caller?.remote ?? null,
            })
            .execute();
    }

    /** Records a refused request (no or bad credentials) in the audit log. */
    async auditUnauthenticated(action: string, target: string, reason: string, requestId?: string, remote?: string): Promise<void> {
        await this.audit({ principal: { subject: "anonymous", teams: [], admin: false }, requestId, remote }, action, target, "denied", reason);
    }

    private async deny(caller: Caller, action: string, target: string, reason: string): Promise<never> {
        await this.audit(caller, action, target, "denied", reason);
        throw new ForbiddenError(reason);
    }

    private async ownerOf(stack: string) {
        return this.db.selectFrom("stack_owners").selectAll().where("stack", "=", stack).executeTakeFirst();
    }

    private canSee(p: Principal, team: string | undefined): boolean {
        return p.admin || (team !== undefined && p.teams.includes(team));
    }

    /** The stack, if the caller's teams own it (admins: any stack); a denial is audited. */
    private async authorizeStack(caller: Caller, action: string, stack: string): Promise<{ team: string | null; deployerCreated: boolean }> {
        readStackText(stack); // 404 before 403: the stack list is not secret, and "not found" helps more
        const owner = await this.ownerOf(stack);
        if (!this.canSee(caller.principal, owner?.team)) {
            await this.deny(
                caller,
                action,
                `stack:${stack}`,
                owner
                    ? `stack '${stack}' belongs to team '${owner.team}'; ${caller.principal.subject} is in ${teamsText(caller.principal)}`
                    : `stack '${stack}' has no owning team yet: only an admin may ${action} it (an admin can assign it with PUT /v1/stacks/${stack}/team)`,
            );
        }
        return { team: owner?.team ?? null, deployerCreated: owner?.deployer_created ?? false };
    }

    private requireAdmin(caller: Caller, action: string, target: string): Promise<void> {
        return caller.principal.admin ? Promise.resolve() : this.deny(caller, action, target, `${action} needs an admin token; ${caller.principal.subject} is not an admin`);
    }

    // ---- stacks -------------------------------------------------------------------

    async listStacks(caller: Caller): Promise<StackSummary[]> {
        const owners = new Map((await this.db.selectFrom("stack_owners").selectAll().execute()).map((o) => [o.stack, o]));
        const out: StackSummary[] = [];
        for (const name of listStackNames()) {
            const team = owners.get(name)?.team;
            if (!this.canSee(caller.principal, team)) continue;
            out.push(await this.summary(name, team ?? null));
        }
        return out;
    }

    private async summary(name: string, team: string | null): Promise<StackSummary & { text: string; revision: string; parsed?: StackConfig; problemList: StackDetail["problemList"] }> {
        const { text, revision } = readStackText(name);
        let parsed: StackConfig | undefined;
        let problemList: StackDetail["problemList"] = [];
        try {
            parsed = validateText(name, text);
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            problemList = err.problems;
        }
        const last = await this.db.selectFrom("runs").selectAll().where("stack", "=", name).orderBy("seq", "desc").limit(1).executeTakeFirst();
        const active = await this.db
            .selectFrom("runs")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("stack", "=", name)
            .where("status", "in", ["queued", "running"])
            .executeTakeFirstOrThrow();
        return {
            name,
            team,
            valid: parsed !== undefined,
            problems: problemList.length,
            tier: parsed?.secrets.tier ?? null,
            workspaces: parsed?.workspaces.length ?? workspacesOf(text, name).length,
            lastRun: last ? await this.view(last) : null,
            activeRuns: Number(active.n),
            text,
            revision,
            parsed,
            problemList,
        };
    }

    async getStack(caller: Caller, name: string): Promise<StackDetail> {
        const { team } = await this.authorizeStack(caller, "read", name);
        const s = await this.summary(name, team);
        const lastUp = await this.db
            .selectFrom("runs")
            .select("outputs_json")
            .where("stack", "=", name)
            .where("operation", "=", "up")
            .where("status", "=", "succeeded")
            .orderBy("seq", "desc")
            .limit(1)
            .executeTakeFirst();
        const running = await this.db.selectFrom("runs").select("id").where("stack", "=", name).where("status", "=", "running").executeTakeFirst();
        const lock = engineLock(name);
        const { text: _t, parsed: _p, ...rest } = s;
        return {
            ...rest,
            config: redactDeep(x1ConfigOf(s.text, name)),
            outputs: lastUp?.outputs_json ? (JSON.parse(lastUp.outputs_json) as Record<string, unknown>) : null,
            lock: {
                runningRunId: running?.id ?? null,
                queuedRuns: s.activeRuns - (running ? 1 : 0),
                engine: { inspectable: lock.inspectable, holders: lock.holders.map((h) => ({ pid: h.pid, host: h.host, since: h.since, alive: h.alive ?? null })) },
            },
        };
    }

    /**
     * Creates stacks/Pulumi.<name>.yaml from another stack's file (comments
     * kept), owned by `team`. The source is read like any stack: an example
     * (a stack file no team owns) or a stack the caller may read. A failed
     * create leaves nothing behind.
     */
    async createStack(caller: Caller, args: { name: string; from: string; team: string }): Promise<StackDetail> {
        const p = caller.principal;
        if (!p.admin && !p.teams.includes(args.team)) {
            await this.deny(caller, "create-stack", `stack:${args.name}`, `${p.subject} may only create stacks for its own teams (${teamsText(p)}), not '${args.team}'`);
        }
        const example = readStackText(args.from);
        const source = await this.ownerOf(args.from);
        if (source && !this.canSee(p, source.team)) {
            await this.deny(
                caller,
                "create-stack",
                `stack:${args.name}`,
                `copying stack '${args.from}' reads it, and it belongs to team '${source.team}'; ${p.subject} is in ${teamsText(p)}: copy an example stack (one no team owns, e.g. local) or one of your own`,
            );
        }
        const created = createStackFile(args.name, example.text);
        try {
            validateOrThrow(args.name, created.text);
            await this.db
                .insertInto("stack_owners")
                .values({ stack: args.name, team: args.team, created_by: p.subject, deployer_created: true })
                .onConflict((oc) => oc.column("stack").doUpdateSet({ team: args.team, created_by: p.subject, deployer_created: true }))
                .execute();
        } catch (err) {
            // The source itself is wrong, or the database refused: do not leave a half-made stack behind.
            removeStackFile(args.name);
            throw err;
        }
        await this.audit(caller, "create-stack", `stack:${args.name}`, "ok", `from '${args.from}'${source ? ` (team '${source.team}')` : " (example)"} for team '${args.team}'`);
        return this.getStack(caller, args.name);
    }

    /** Assigns a stack to a team (admin). */
    async setStackTeam(caller: Caller, name: string, team: string): Promise<StackDetail> {
        readStackText(name);
        await this.requireAdmin(caller, "set-stack-team", `stack:${name}`);
        await this.db
            .insertInto("stack_owners")
            .values({ stack: name, team, created_by: caller.principal.subject, deployer_created: false })
            .onConflict((oc) => oc.column("stack").doUpdateSet({ team }))
            .execute();
        await this.audit(caller, "set-stack-team", `stack:${name}`, "ok", `team '${team}'`);
        return this.getStack(caller, name);
    }

    /**
     * Replaces the stack's x1agent config after validating it with the stack
     * schema; refused while a run of the stack is queued or running, and when
     * `revision` names an older version of the file.
     */
    async updateStackConfig(caller: Caller, name: string, args: { config: Record<string, unknown>; revision?: string }): Promise<StackDetail> {
        await this.authorizeStack(caller, "update-config", name);
        const busy = await this.db.selectFrom("runs").select(["id", "status"]).where("stack", "=", name).where("status", "in", ["queued", "running"]).executeTakeFirst();
        if (busy) throw new ConflictError(`stack '${name}' has a ${busy.status} run (${busy.id}); change its config when the stack is idle`, { runId: busy.id });
        const current = readStackText(name);
        if (args.revision && args.revision !== current.revision) {
            throw new ConflictError(`stack '${name}' changed since revision ${args.revision} (now ${current.revision}): read it again and re-apply your change`);
        }
        const stored = x1ConfigOf(current.text, name);
        const config = restoreMasked(args.config, stored);
        await this.refuseGatedChanges(caller, name, stored, config);
        const next = withConfig(current.text, name, config);
        validateOrThrow(name, next);
        writeStackFile(name, next, current.revision);
        await this.audit(caller, "update-config", `stack:${name}`, "ok", `revision ${current.revision} -> ${createHash("sha256").update(next).digest("hex").slice(0, 16)}`);
        return this.getStack(caller, name);
    }

    /**
     * Workspaces and the secrets tier change only through their own requests
     * (team checks, a preview, an approved up); a config edit that changes
     * them is refused, whoever sends it.
     */
    private async refuseGatedChanges(caller: Caller, stack: string, stored: Record<string, unknown>, next: Record<string, unknown>): Promise<void> {
        const gated = [
            {
                changed: !isDeepStrictEqual(stored.workspaces ?? [], next.workspaces ?? []),
                what: "workspaces",
                how: `POST /v1/stacks/${stack}/workspaces and DELETE /v1/stacks/${stack}/workspaces/{id}`,
            },
            {
                changed: (stored.secrets as { tier?: unknown } | undefined)?.tier !== (next.secrets as { tier?: unknown } | undefined)?.tier,
                what: "secrets.tier",
                how: `POST /v1/stacks/${stack}/secrets-tier`,
            },
        ];
        for (const g of gated.filter((x) => x.changed)) {
            await this.deny(
                caller,
                "update-config",
                `stack:${stack}`,
                `a config edit may not change ${g.what}: it changes only through ${g.how}, which check the teams involved and preview the change before an approved up applies it; send ${g.what} unchanged`,
            );
        }
    }

    /** Destroys the stack's resources, then removes the stack (state and file); needs `confirm` = the stack name. */
    async deleteStack(caller: Caller, name: string, confirm: string | undefined, idempotencyKey?: string): Promise<{ run: RunView; created: boolean }> {
        const { deployerCreated } = await this.authorizeStack(caller, "delete-stack", name);
        if (confirm !== name) {
            throw new BadRequestError(`deleting stack '${name}' destroys every resource it manages and removes it: repeat its name as ?confirm=${name}`);
        }
        if (!deployerCreated && !caller.principal.admin) {
            await this.deny(caller, "delete-stack", `stack:${name}`, `stack '${name}' was not created by the deployer: only an admin may delete it`);
        }
        return this.enqueue(caller, { stack: name, operation: "destroy", removeStack: true, idempotencyKey });
    }

    // ---- runs ---------------------------------------------------------------------

    async createRun(
        caller: Caller,
        args: { stack: string; operation: Operation; timeoutSeconds?: number; idempotencyKey?: string },
    ): Promise<{ run: RunView; created: boolean }> {
        await this.authorizeStack(caller, args.operation, args.stack);
        const { text } = readStackText(args.stack);
        const config = validateOrThrow(args.stack, text);
        if (args.operation === "refresh" && !appliesToCluster(config.cluster)) {
            throw new UnprocessableError(
                `stack '${args.stack}' renders its manifests to a directory (no cluster.kubeContext or cluster.kubeconfig): there is no live cluster to detect drift against. Set cluster.kubeContext (and cluster.kubeconfig if it is not in your default kubeconfig) to refresh against a cluster`,
            );
        }
        return this.enqueue(caller, args);
    }

    private async enqueue(
        caller: Caller,
        args: { stack: string; operation: Operation; timeoutSeconds?: number; idempotencyKey?: string; change?: ConfigChange; removeStack?: boolean; approves?: string },
    ): Promise<{ run: RunView; created: boolean }> {
        const timeout = args.timeoutSeconds ?? this.defaultTimeout;
        if (timeout > this.maxTimeout) throw new BadRequestError(`timeoutSeconds ${timeout} is over this deployer's limit of ${this.maxTimeout}`);
        const requestHash = createHash("sha256")
            .update(JSON.stringify({ stack: args.stack, operation: args.operation, change: args.change ?? null, remove: args.removeStack ?? false, approves: args.approves ?? null }))
            .digest("hex");
        const by = caller.principal.subject;
        if (args.idempotencyKey) {
            const existing = await this.findIdempotent(by, args.idempotencyKey);
            if (existing) return this.replay(existing, requestHash, args.idempotencyKey);
        }
        const id = randomUUID();
        try {
            await this.db
                .insertInto("runs")
                .values({
                    id,
                    stack: args.stack,
                    operation: args.operation,
                    status: "queued",
                    requested_by: by,
                    team: (await this.ownerOf(args.stack))?.team ?? null,
                    idempotency_key: args.idempotencyKey ?? null,
                    request_hash: requestHash,
                    timeout_seconds: timeout,
                    change_json: args.change ? JSON.stringify(args.change) : null,
                    remove_stack: args.removeStack ?? false,
                    approves_run_id: args.approves ?? null,
                })
                .execute();
        } catch (err) {
            // Two requests with one key at once: the second sees the first's run.
            const existing = args.idempotencyKey ? await this.findIdempotent(by, args.idempotencyKey) : undefined;
            if (existing) return this.replay(existing, requestHash, args.idempotencyKey!);
            throw err;
        }
        await this.audit(caller, args.operation, `stack:${args.stack}`, "ok", `run ${id}${args.change ? `: ${args.change.summary}` : ""}`);
        this.worker.wake();
        return { run: await this.getRunById(id), created: true };
    }

    private findIdempotent(by: string, key: string) {
        return this.db.selectFrom("runs").selectAll().where("requested_by", "=", by).where("idempotency_key", "=", key).executeTakeFirst();
    }

    private async replay(existing: RunRow, requestHash: string, key: string): Promise<{ run: RunView; created: boolean }> {
        if (existing.request_hash !== requestHash) {
            throw new ConflictError(`Idempotency-Key '${key}' was already used for a different request (run ${existing.id}); use a new key`, { runId: existing.id });
        }
        return { run: await this.view(existing), created: false };
    }

    async getRun(caller: Caller, id: string): Promise<RunView> {
        const row = await this.runRow(id);
        await this.authorizeStackOfRun(caller, "read", row);
        return this.view(row);
    }

    private async authorizeStackOfRun(caller: Caller, action: string, row: RunRow): Promise<void> {
        if (caller.principal.admin) return;
        const owner = await this.ownerOf(row.stack);
        const team = owner?.team ?? row.team ?? undefined;
        if (!this.canSee(caller.principal, team)) {
            await this.deny(caller, action, `run:${row.id}`, `run ${row.id} is on stack '${row.stack}' of team '${team ?? "(none)"}'; ${caller.principal.subject} is in ${teamsText(caller.principal)}`);
        }
    }

    private async getRunById(id: string): Promise<RunView> {
        return this.view(await this.runRow(id));
    }

    private async runRow(id: string): Promise<RunRow> {
        const row = /^[0-9a-f-]{36}$/.test(id) ? await this.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst() : undefined;
        if (!row) throw new NotFoundError(`no run '${id}'`);
        return row;
    }

    async listRuns(caller: Caller, filter: { stack?: string; status?: string; limit?: number }): Promise<RunView[]> {
        if (filter.stack) await this.authorizeStack(caller, "read", filter.stack);
        let q = this.db.selectFrom("runs").selectAll().orderBy("seq", "desc").limit(Math.min(filter.limit ?? 50, 500));
        if (filter.stack) q = q.where("stack", "=", filter.stack);
        if (filter.status) q = q.where("status", "=", filter.status);
        if (!caller.principal.admin) {
            const teams = caller.principal.teams;
            if (teams.length === 0) return [];
            q = q.where((eb) => eb.or([eb("team", "in", teams), eb("stack", "in", eb.selectFrom("stack_owners").select("stack").where("team", "in", teams))]));
        }
        return Promise.all((await q.execute()).map((r) => this.view(r)));
    }

    /** Cancels a queued run at once; asks the engine of a running run to stop cleanly. */
    async cancelRun(caller: Caller, id: string): Promise<RunView> {
        const row = await this.runRow(id);
        await this.authorizeStackOfRun(caller, "cancel", row);
        if (isTerminal(row.status)) throw new ConflictError(`run ${id} already ended (${row.status}); nothing to cancel`);
        const by = caller.principal.subject;
        const dequeued = await this.db
            .updateTable("runs")
            .set({ status: "cancelled", finished_at: new Date(), cancel_requested_by: by, error: `cancelled by ${by} before it started` })
            .where("id", "=", id)
            .where("status", "=", "queued")
            .executeTakeFirst();
        if (Number(dequeued.numUpdatedRows) === 0) {
            await this.db.updateTable("runs").set({ cancel_requested_by: by }).where("id", "=", id).where("status", "=", "running").execute();
            this.worker.abort(id, "cancel");
        }
        await this.audit(caller, "cancel", `run:${id}`, "ok");
        this.bus.changed(id);
        this.worker.wake();
        return this.getRunById(id);
    }

    /** Approves a succeeded preview of a config change: queues the `up` that applies it. */
    async approveRun(caller: Caller, id: string, idempotencyKey?: string): Promise<{ run: RunView; created: boolean }> {
        const row = await this.runRow(id);
        await this.authorizeStackOfRun(caller, "approve", row);
        if (row.operation !== "preview" || !row.change_json) throw new ConflictError(`run ${id} is not the preview of a config change; only those are approved`);
        if (row.status !== "succeeded") throw new ConflictError(`run ${id} is ${row.status}: only a succeeded preview can be approved`);
        if (row.approved_run_id) return { run: await this.getRunById(row.approved_run_id), created: false };
        const change = JSON.parse(row.change_json) as ConfigChange;
        const current = readStackText(row.stack);
        if (current.revision !== change.baseRevision) {
            throw new ConflictError(`stacks/Pulumi.${row.stack}.yaml changed since this preview (revision ${change.baseRevision}, now ${current.revision}): propose the change again`);
        }
        const result = await this.enqueue(caller, { stack: row.stack, operation: "up", change, approves: id, idempotencyKey });
        await this.db.updateTable("runs").set({ approved_by: caller.principal.subject, approved_run_id: result.run.id }).where("id", "=", id).execute();
        return result;
    }

    /** Stored events of a run after `after` (its sequence numbers start at 1). */
    async runEvents(caller: Caller, id: string, after: number, limit = 500): Promise<{ run: RunView; events: StoredEvent[] }> {
        const row = await this.runRow(id);
        await this.authorizeStackOfRun(caller, "read", row);
        return { run: await this.view(row), events: await this.eventsAfter(id, after, limit) };
    }

    async eventsAfter(id: string, after: number, limit = 500): Promise<StoredEvent[]> {
        const rows = await this.db.selectFrom("run_events").selectAll().where("run_id", "=", id).where("seq", ">", after).orderBy("seq").limit(limit).execute();
        return rows.map((r) => ({ seq: r.seq, at: r.at.toISOString(), kind: r.kind, data: JSON.parse(r.data) as Record<string, unknown> }));
    }

    /** The run as it stands now, without authorization (for streams already authorized). */
    async runNow(id: string): Promise<RunView> {
        return this.getRunById(id);
    }

    // ---- workspaces and tier upgrades (config change, preview, approve, up) -------

    private async propose(caller: Caller, stack: string, kind: ConfigChange["kind"], summary: string, edit: (text: string) => string, idempotencyKey?: string) {
        const current = readStackText(stack);
        const proposedText = edit(current.text);
        validateOrThrow(stack, proposedText);
        return this.enqueue(caller, {
            stack,
            operation: "preview",
            change: { kind, summary, baseRevision: current.revision, proposedText },
            idempotencyKey,
        });
    }

    async addWorkspace(caller: Caller, stack: string, workspace: WorkspaceSpec, idempotencyKey?: string) {
        await this.authorizeStack(caller, "add-workspace", stack);
        const p = caller.principal;
        if (!p.admin && (!workspace.team || !p.teams.includes(workspace.team))) {
            await this.deny(caller, "add-workspace", `stack:${stack}/workspace:${workspace.id}`, `a workspace must belong to one of ${p.subject}'s teams (${teamsText(p)}): set team`);
        }
        return this.propose(caller, stack, "workspace-add", `add workspace '${workspace.id}'${workspace.team ? ` for team '${workspace.team}'` : ""}`, (t) => withWorkspaceAdded(t, stack, workspace), idempotencyKey);
    }

    async removeWorkspace(caller: Caller, stack: string, id: string, idempotencyKey?: string) {
        await this.authorizeStack(caller, "remove-workspace", stack);
        const ws = workspacesOf(readStackText(stack).text, stack).find((w) => w.id === id);
        const p = caller.principal;
        if (ws && !p.admin && (!ws.team || !p.teams.includes(ws.team))) {
            await this.deny(caller, "remove-workspace", `stack:${stack}/workspace:${id}`, `workspace '${id}' belongs to team '${ws.team ?? "(none)"}'; ${p.subject} is in ${teamsText(p)}`);
        }
        return this.propose(caller, stack, "workspace-remove", `remove workspace '${id}'`, (t) => withWorkspaceRemoved(t, stack, id), idempotencyKey);
    }

    async upgradeTier(caller: Caller, stack: string, upgrade: TierUpgrade, idempotencyKey?: string) {
        await this.authorizeStack(caller, "upgrade-tier", stack);
        return this.propose(caller, stack, "tier-upgrade", `upgrade secrets tier to ${upgrade.tier}`, (t) => withTierUpgrade(t, stack, upgrade), idempotencyKey);
    }

    // ---- tokens and audit (admin) -------------------------------------------------

    async createToken(caller: Caller, args: { name: string; teams: string[]; admin: boolean }): Promise<IssuedToken> {
        await this.requireAdmin(caller, "create-token", `token:${args.name}`);
        const exists = await this.db.selectFrom("tokens").select("id").where("name", "=", args.name).executeTakeFirst();
        if (exists) throw new ConflictError(`a token named '${args.name}' exists; revoke it or pick another name`);
        const issued = await issueToken(this.db, { ...args, createdBy: caller.principal.subject });
        await this.audit(caller, "create-token", `token:${args.name}`, "ok", `teams ${args.teams.join(",") || "(none)"}${args.admin ? ", admin" : ""}`);
        return issued;
    }

    async listTokens(caller: Caller) {
        await this.requireAdmin(caller, "list-tokens", "tokens");
        const rows = await this.db.selectFrom("tokens").select(["id", "name", "teams", "admin", "created_at", "created_by", "last_used_at", "revoked_at"]).orderBy("created_at").execute();
        return rows.map((r) => ({
            id: r.id,
            name: r.name,
            teams: JSON.parse(r.teams) as string[],
            admin: r.admin,
            createdAt: r.created_at.toISOString(),
            createdBy: r.created_by,
            lastUsedAt: r.last_used_at?.toISOString() ?? null,
            revokedAt: r.revoked_at?.toISOString() ?? null,
        }));
    }

    async revokeToken(caller: Caller, id: string): Promise<void> {
        await this.requireAdmin(caller, "revoke-token", `token:${id}`);
        const r = await this.db.updateTable("tokens").set({ revoked_at: new Date() }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`no active token '${id}'`);
        await this.audit(caller, "revoke-token", `token:${id}`, "ok");
    }

    async listAudit(caller: Caller, filter: { outcome?: string; limit?: number }) {
        await this.requireAdmin(caller, "read-audit", "audit");
        let q = this.db.selectFrom("audit").selectAll().orderBy("id", "desc").limit(Math.min(filter.limit ?? 100, 1000));
        if (filter.outcome) q = q.where("outcome", "=", filter.outcome);
        return (await q.execute()).map((r) => ({
            id: r.id,
            at: r.at.toISOString(),
            actor: r.actor,
            teams: JSON.parse(r.teams) as string[],
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            reason: r.reason,
            requestId: r.request_id,
            remote: r.remote,
        }));
    }

    /** Issues an admin token without a caller: for the first start and the CLI (`x1 deployer token`). */
    async bootstrapToken(name: string, teams: string[] = [], admin = true): Promise<IssuedToken> {
        const issued = await issueToken(this.db, { name, teams, admin, createdBy: "bootstrap" });
        await this.db
            .insertInto("audit")
            .values({ actor: "bootstrap", teams: "[]", action: "create-token", target: `token:${name}`, outcome: "ok", reason: admin ? "admin" : null, request_id: null, remote: null })
            .execute();
        return issued;
    }

    async tokenCount(): Promise<number> {
        const r = await this.db.selectFrom("tokens").select((eb) => eb.fn.countAll<number>().as("n")).where("revoked_at", "is", null).executeTakeFirstOrThrow();
        return Number(r.n);
    }

    // ---- views --------------------------------------------------------------------

    async view(r: RunRow): Promise<RunView> {
        const change = r.change_json ? (JSON.parse(r.change_json) as ConfigChange) : null;
        return {
            id: r.id,
            stack: r.stack,
            operation: r.operation,
            status: r.status,
            requestedBy: r.requested_by,
            createdAt: r.created_at.toISOString(),
            startedAt: r.started_at?.toISOString() ?? null,
            finishedAt: r.finished_at?.toISOString() ?? null,
            timeoutSeconds: r.timeout_seconds,
            queue: r.status === "queued" ? await this.queue.place(r) : undefined,
            cancelRequestedBy: r.cancel_requested_by,
            counts: r.counts_json ? (JSON.parse(r.counts_json) as Record<string, number>) : null,
            outputs: r.outputs_json ? (JSON.parse(r.outputs_json) as Record<string, unknown>) : null,
            changes: r.changes_json ? (JSON.parse(r.changes_json) as RunView["changes"]) : [],
            policy: r.policy_json ? (JSON.parse(r.policy_json) as PolicyRecord) : null,
            drift: r.drift_json ? (JSON.parse(r.drift_json) as RunView["drift"]) : null,
            change: change ? { kind: change.kind, summary: change.summary, baseRevision: change.baseRevision } : null,
            approval: r.approved_by && r.approved_run_id ? { approvedBy: r.approved_by, upRunId: r.approved_run_id } : null,
            approvesRunId: r.approves_run_id,
            error: r.error,
            message: r.message,
            firstEventMs: r.first_event_ms,
            eventCount: r.event_count,
            worker: r.worker_host && r.worker_pid !== null ? { host: r.worker_host, pid: r.worker_pid } : null,
        };
    }
}

/** What `redact` puts in place of a secret; a value holding one came from a masked GET. */
const maskMarkers = ["****", "[redacted]", "[redacted token]", "[redacted private key]"];

/**
 * The edited config with every masked placeholder replaced by the stored
 * value it masks, so a GET -> edit -> PUT round trip keeps secrets. A
 * placeholder that masks nothing stored there (moved, or edited around) is
 * refused: a masked value is never written.
 */
function restoreMasked(edited: Record<string, unknown>, stored: Record<string, unknown>): Record<string, unknown> {
    const problems: { key: string; value: string; message: string }[] = [];
    const walk = (value: unknown, before: unknown, key: string): unknown => {
        if (typeof value === "string") {
            if (!maskMarkers.some((m) => value.includes(m))) return value;
            if (typeof before === "string" && redact(before) === value) return before;
            problems.push({
                key,
                value: JSON.stringify(value),
                message: "holds a masked placeholder from a GET that does not match the stored value: send the real value, or the placeholder unchanged to keep the stored one",
            });
            return value;
        }
        if (Array.isArray(value)) return value.map((v, i) => walk(v, Array.isArray(before) ? before[i] : undefined, `${key}[${i}]`));
        if (value && typeof value === "object") {
            const b = before && typeof before === "object" && !Array.isArray(before) ? (before as Record<string, unknown>) : {};
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, b[k], `${key}.${k}`)]));
        }
        return value;
    };
    const out = Object.fromEntries(Object.entries(edited).map(([k, v]) => [k, walk(v, stored[k], `${CONFIG_NAMESPACE}:${k}`)]));
    if (problems.length > 0) {
        throw new UnprocessableError(
            `the config edit holds ${problems.length} masked value(s); nothing was written:\n${problems.map((p) => `  - ${p.key} = ${p.value}: ${p.message}`).join("\n")}`,
            { problems },
        );
    }
    return out;
}

/** Text as the audit log stores it: PostgreSQL text cannot hold NUL, and a refusal must be recorded whatever its input. */
function auditText(text: string): string {
    return text.replace(/\0/g, "\\0");
}

function teamsText(p: Principal): string {
    return p.teams.length ? `team(s) ${p.teams.join(", ")}` : "no team";
}

function validateOrThrow(stack: string, text: string): StackConfig {
    try {
        return validateText(stack, text);
    } catch (err) {
        if (err instanceof ConfigError) {
            throw new UnprocessableError(err.message, { problems: err.problems });
        }
        throw err;
    }
}

