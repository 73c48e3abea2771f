/**
 * Runs: checked and queued on request (idempotently), read, listed,
 * cancelled. Whether a run needs approval first is core/approvals.ts's
 * decision; the worker (worker/) executes them.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Operation } from "../../engine/stack-runner";
import { appliesToCluster } from "../../../stacks/schema";
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from "../errors";
import type { CreateRunBody, RunView, StoredEvent } from "../http/schemas";
import type { Logger } from "../log";
import type { EventsRepository } from "../store/events";
import type { OwnersRepository } from "../store/owners";
import type { ApprovalStatus } from "../store/approvals";
import { isTerminal, type RunFilter, type RunRow, type RunTrigger, runView, type RunsRepository } from "../store/runs";
import type { StackFiles } from "../store/stack-files";
import type { RunBus } from "../worker/bus";
import type { RunQueue } from "../worker/queue";
import { type Access, type Caller, teamsOf } from "./access";
import type { AuditLog } from "./audit";
import type { ConfigChange } from "./proposals";
import { validateOrThrow } from "./stacks";

/** How long runs may take. One setting for the maximum: the API, the default and the service agree. */
export interface RunLimits {
    /** Timeout of a run whose request names none. */
    defaultTimeoutSeconds: number;
    /** The longest timeout a request may ask for; at least the default (checked at start-up). */
    maxTimeoutSeconds: number;
}

/** What the worker offers the services: look for work now, stop a run it executes. */
export interface RunControl {
    wake(): void;
    abort(runId: string, reason: "cancel"): boolean;
}

export interface EnqueueArgs {
    stack: string;
    operation: Operation;
    timeoutSeconds?: number;
    idempotencyKey?: string;
    change?: ConfigChange;
    removeStack?: boolean;
    /** The approval the run previews for, or applies. */
    approvalId?: string;
    /** The stack file revision the run must run on (an approval's runs); the worker refuses another. */
    configRevision?: string;
    /** What queues it; default a request. */
    trigger?: RunTrigger;
    /** A preview or an up that refreshes the state against the cluster first (`--refresh`). */
    refresh?: boolean;
    /** An up that supersedes the stack's older queued plain ups. */
    supersede?: boolean;
}

export type Queued = { run: RunView; created: boolean; approval?: { id: string; status: ApprovalStatus } };

/** What the run service works with. */
export interface RunsDeps {
    repo: RunsRepository;
    events: EventsRepository;
    owners: OwnersRepository;
    files: StackFiles;
    access: Access;
    audit: AuditLog;
    queue: RunQueue;
    control: RunControl;
    bus: RunBus;
    limits: RunLimits;
    log: Logger;
}

export class Runs {
    private readonly d: RunsDeps;

    constructor(deps: RunsDeps) {
        this.d = deps;
    }

    /** Authorizes and checks a run request (the caller's role, the config, a destroy's confirmation); queuing it is core/approvals.ts's. */
    async check(caller: Caller, stack: string, args: CreateRunBody): Promise<void> {
        await this.d.access.stack(caller, args.operation, stack);
        const config = validateOrThrow(stack, this.d.files.read(stack).text);
        if (args.operation === "destroy" && args.confirm !== stack) {
            throw new BadRequestError(`a destroy removes every resource stack '${stack}' manages: repeat the stack's name as confirm: "${stack}"`);
        }
        if (args.operation === "refresh" || args.operation === "drift" || args.refresh)
            requireCluster(stack, config.cluster, args.refresh ? "refresh before an up" : args.operation === "drift" ? "check drift" : "refresh");
        for (const flag of ["supersede", "refresh"] as const) {
            if (args[flag] !== undefined && args.operation !== "up")
                throw new BadRequestError(`${flag} applies to an up only, not to a ${args.operation}: leave it out`);
        }
    }

    /** Queues a run (authorization is the caller's job); an Idempotency-Key already used returns its run. */
    async enqueue(caller: Caller, args: EnqueueArgs): Promise<Queued> {
        const timeout = args.timeoutSeconds ?? this.d.limits.defaultTimeoutSeconds;
        if (timeout > this.d.limits.maxTimeoutSeconds) {
            throw new BadRequestError(
                `timeoutSeconds ${timeout} is over this deployer's limit of ${this.d.limits.maxTimeoutSeconds} (X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS)`,
            );
        }
        const requestHash = createHash("sha256")
            .update(
                JSON.stringify({
                    stack: args.stack,
                    operation: args.operation,
                    change: args.change ?? null,
                    remove: args.removeStack ?? false,
                    refresh: args.refresh ?? false,
                }),
            )
            .digest("hex");
        const by = caller.principal.subject;
        const key = args.idempotencyKey;
        if (key) {
            const existing = await this.d.repo.byIdempotencyKey(by, key);
            if (existing) return this.replay(existing, requestHash, key);
        }
        const id = randomUUID();
        try {
            await this.d.repo.insert({
                id,
                stack: args.stack,
                operation: args.operation,
                status: "queued",
                requested_by: by,
                team: (await this.d.owners.of(args.stack))?.team ?? null,
                idempotency_key: key ?? null,
                request_hash: requestHash,
                timeout_seconds: timeout,
                change_json: args.change ? JSON.stringify(args.change) : null,
                remove_stack: args.removeStack ?? false,
                approval_id: args.approvalId ?? null,
                config_revision: args.configRevision ?? null,
                request_id: caller.requestId ?? null,
                trigger: args.trigger ?? "request",
                refresh_first: args.refresh ?? false,
            });
        } catch (err) {
            // Two requests with one key at once: the second sees the first's run.
            const existing = key ? await this.d.repo.byIdempotencyKey(by, key) : undefined;
            if (existing) return this.replay(existing, requestHash, key!);
            throw err;
        }
        await this.d.audit.record(caller, args.operation, `stack:${args.stack}`, "ok", `run ${id}${args.change ? `: ${args.change.summary}` : ""}`);
        this.d.log.info({ reqId: caller.requestId, runId: id, stack: args.stack, operation: args.operation, by }, "run queued");
        if (args.supersede && args.operation === "up") await this.supersedeOlderUps(caller, id);
        this.d.control.wake();
        return { run: await this.now(id), created: true };
    }

    /** Ends the stack's older queued plain ups as `superseded` by this one (audited, each). */
    private async supersedeOlderUps(caller: Caller, id: string): Promise<void> {
        const newest = await this.row(id);
        for (const old of await this.d.repo.supersedeQueuedUps(newest.stack, newest, caller.principal.subject)) {
            await this.d.audit.record(caller, "supersede", `run:${old}`, "ok", `queued up skipped: the newer up ${id} applies stack '${newest.stack}'`);
            this.d.bus.changed(old);
        }
    }

    private async replay(existing: RunRow, requestHash: string, key: string): Promise<Queued> {
        if (existing.request_hash !== requestHash) {
            throw new ConflictError(`Idempotency-Key '${key}' was already used for a different request (run ${existing.id}); use a new key`, {
                runId: existing.id,
            });
        }
        return { run: await this.view(existing), created: false };
    }

    async get(caller: Caller, id: string): Promise<RunView> {
        const row = await this.row(id);
        await this.d.access.run(caller, "read", row);
        return this.view(row);
    }

    async list(caller: Caller, filter: Omit<RunFilter, "teams">): Promise<RunView[]> {
        if (filter.stack) await this.d.access.stack(caller, "read", filter.stack);
        const rows = await this.d.repo.list({ ...filter, teams: caller.principal.admin ? undefined : teamsOf(caller.principal) });
        return Promise.all(rows.map((r) => this.view(r)));
    }

    /** Cancels a queued run at once; asks the engine of a running run to stop cleanly. */
    async cancel(caller: Caller, id: string): Promise<RunView> {
        const row = await this.row(id);
        await this.d.access.run(caller, "cancel", row);
        if (isTerminal(row.status)) throw new ConflictError(`run ${id} already ended (${row.status}); nothing to cancel`);
        const by = caller.principal.subject;
        if (!(await this.d.repo.cancelQueued(id, by))) {
            await this.d.repo.requestCancel(id, by);
            this.d.control.abort(id, "cancel");
        }
        await this.d.audit.record(caller, "cancel", `run:${id}`, "ok");
        this.d.log.info({ reqId: caller.requestId, runId: id, by }, "run cancel requested");
        this.d.bus.changed(id);
        this.d.control.wake();
        return this.now(id);
    }

    /** Stored events of a run after `after` (its sequence numbers start at 1). */
    async eventsOf(caller: Caller, id: string, after: number, limit = 500): Promise<{ run: RunView; events: StoredEvent[] }> {
        const row = await this.row(id);
        await this.d.access.run(caller, "read", row);
        return { run: await this.view(row), events: await this.d.events.after(id, after, limit) };
    }

    /** Events after `after`, for a stream already authorized. */
    eventsAfter(id: string, after: number, limit = 500): Promise<StoredEvent[]> {
        return this.d.events.after(id, after, limit);
    }

    /** The run as it stands now, for a caller already authorized. */
    async now(id: string): Promise<RunView> {
        return this.view(await this.row(id));
    }

    async view(row: RunRow): Promise<RunView> {
        return runView(row, row.status === "queued" ? await this.d.queue.place(row) : undefined);
    }

    private async row(id: string): Promise<RunRow> {
        const row = /^[0-9a-f-]{36}$/.test(id) ? await this.d.repo.byId(id) : undefined;
        if (!row) throw new NotFoundError(`no run '${id}'`);
        return row;
    }
}

/** Refresh, drift checks and refreshing ups read the live cluster: a stack that renders to a folder has none. */
export function requireCluster(stack: string, cluster: Parameters<typeof appliesToCluster>[0], what: string): void {
    if (appliesToCluster(cluster)) return;
    throw new UnprocessableError(
        `stack '${stack}' renders its manifests to a directory (no cluster.kubeContext or cluster.kubeconfig): there is no live cluster to detect drift against. Set cluster.kubeContext (and cluster.kubeconfig if it is not in your default kubeconfig) to ${what} against a cluster`,
    );
}
