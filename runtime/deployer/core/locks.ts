/**
 * A stack's engine lock, as users of the deployer see and clear it: who
 * holds it (pid, user, host, since, whether that process still runs on this
 * host) and, for the team's admin, clearing a stale one.
 *
 * The lock is the CLI's own (worker/engine-lock.ts): a JSON object per
 * holder, a file with a file backend, a row of `pulumi.pulumi_state` with
 * the postgres:// backend in the deployer's database. Nothing expires it;
 * `pulumi cancel` deletes every one of them. Clearing here does the same,
 * and is refused while a run of this stack is running (on any replica: the
 * runs table says so) or while a holder is a live process on this host.
 * Other backends are not inspected: `inspectable: false`.
 */
import { ConflictError } from "../errors";
import type { StackLockView } from "../http/schemas";
import type { Db } from "../store/db";
import type { RunsRepository } from "../store/runs";
import { type EngineLockState, engineLock, lockInDatabase, removeLockRows } from "../worker/engine-lock";
import { rmSync } from "node:fs";
import type { Access, Caller } from "./access";
import type { AuditLog } from "./audit";

export interface StackLocksDeps {
    db: Db;
    runs: RunsRepository;
    access: Access;
    audit: AuditLog;
    /** The state backend the engine runs use (DeployerPaths.backendUrl; undefined: the default). */
    backendUrl?: string;
    /** Whether that backend is the postgres:// backend in the deployer's own database. */
    stateInDatabase: boolean;
}

export class StackLocks {
    private readonly d: StackLocksDeps;

    constructor(deps: StackLocksDeps) {
        this.d = deps;
    }

    /** The engine lock's holders as the backend has them. */
    state(stack: string): Promise<EngineLockState> {
        return this.d.stateInDatabase ? lockInDatabase(stack, this.d.db) : Promise.resolve(engineLock(stack, this.d.backendUrl));
    }

    async get(caller: Caller, stack: string): Promise<StackLockView> {
        await this.d.access.stack(caller, "read", stack);
        return this.view(stack);
    }

    /** Deletes the stack's lock (the team's admin), as `pulumi cancel` would; audited with the holders it removed. */
    async clear(caller: Caller, stack: string): Promise<StackLockView> {
        await this.d.access.stack(caller, "clear-lock", stack);
        const running = (await this.d.runs.active(stack)).find((r) => r.status === "running");
        if (running) {
            throw new ConflictError(
                `stack '${stack}' has a run of this deployer in progress (${running.id}), which holds its lock: cancel the run (POST /v1/runs/${running.id}/cancel) instead`,
                { runId: running.id },
            );
        }
        const lock = await this.state(stack);
        if (!lock.inspectable) {
            throw new ConflictError(
                `the state backend of stack '${stack}' is not one whose lock this deployer can read: run \`pulumi cancel --stack ${stack}\` where that backend is configured`,
            );
        }
        const live = lock.holders.filter((h) => h.alive === true);
        if (live.length > 0) {
            throw new ConflictError(
                `stack '${stack}' is locked by a live process on this host (${live.map((h) => `pid ${h.pid}, ${h.user}, since ${h.since}`).join("; ")}): let it finish or stop it (SIGINT cancels the CLI cleanly)`,
            );
        }
        if (this.d.stateInDatabase)
            await removeLockRows(
                this.d.db,
                lock.holders.map((h) => h.file),
            );
        else for (const h of lock.holders) rmSync(h.file, { force: true });
        const what = lock.holders.map((h) => `${h.user}@${h.host} pid ${h.pid} since ${h.since}`).join("; ") || "no lock was held";
        await this.d.audit.record(caller, "clear-lock", `stack:${stack}`, "ok", what);
        return this.view(stack);
    }

    private async view(stack: string): Promise<StackLockView> {
        const lock = await this.state(stack);
        const running = (await this.d.runs.active(stack)).find((r) => r.status === "running");
        return {
            stack,
            backend: this.d.stateInDatabase ? "postgres" : this.d.backendUrl === undefined || this.d.backendUrl.startsWith("file://") ? "file" : "other",
            inspectable: lock.inspectable,
            runningRunId: running?.id ?? null,
            holders: lock.holders.map((h) => ({ pid: h.pid, user: h.user, host: h.host, since: h.since, alive: h.alive ?? null })),
        };
    }
}
