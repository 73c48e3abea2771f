/**
 * Stacks: listed and read for the teams that own them, created from another
 * stack's file, assigned to a team, their config edited (validated by the
 * stack schema, guarded by revision), and deleted (destroy, then remove).
 */
import { isDeepStrictEqual } from "node:util";
import { appliesToCluster, type StackConfig } from "../../../stacks/schema";
import { ConfigError } from "../../../stacks/validate";
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from "../errors";
import type { ConfigProblem, StackDetail, StackSummary } from "../http/schemas";
import { redactDeep } from "../redact";
import type { OwnersRepository } from "../store/owners";
import type { RunsRepository } from "../store/runs";
import { type StackFiles, type StackText, validateText, withConfig, workspacesOf, x1ConfigOf } from "../store/stack-files";
import { engineLock } from "../worker/engine-lock";
import type { Access, Caller } from "./access";
import type { Approvals } from "./approvals";
import type { AuditLog } from "./audit";
import { restoreMasked } from "./masked";
import type { Pauses } from "./pause";
import type { Queued, Runs } from "./runs";

/** Validates a stack file's text; a wrong config is a 422 listing every problem. */
export function validateOrThrow(stack: string, text: string): StackConfig {
    try {
        return validateText(stack, text);
    } catch (err) {
        if (err instanceof ConfigError) throw new UnprocessableError(err.message, { problems: err.problems });
        throw err;
    }
}

export class Stacks {
    private readonly files: StackFiles;
    private readonly owners: OwnersRepository;
    private readonly runsRepo: RunsRepository;
    private readonly runs: Runs;
    private readonly approvals: Approvals;
    private readonly access: Access;
    private readonly audit: AuditLog;
    private readonly pauses: Pauses;
    /** The state backend the engine runs use (DeployerPaths.backendUrl), for the lock state. */
    private readonly backendUrl?: string;

    constructor(
        files: StackFiles,
        owners: OwnersRepository,
        runsRepo: RunsRepository,
        runs: Runs,
        approvals: Approvals,
        access: Access,
        audit: AuditLog,
        pauses: Pauses,
        backendUrl?: string,
    ) {
        this.files = files;
        this.owners = owners;
        this.runsRepo = runsRepo;
        this.runs = runs;
        this.approvals = approvals;
        this.access = access;
        this.audit = audit;
        this.pauses = pauses;
        this.backendUrl = backendUrl;
    }

    async list(caller: Caller): Promise<StackSummary[]> {
        const owners = await this.owners.all();
        const out: StackSummary[] = [];
        for (const name of this.files.names()) {
            const team = owners.get(name)?.team ?? null;
            if (!this.access.canSee(caller.principal, team)) continue;
            let file: StackText;
            try {
                file = this.files.read(name);
            } catch (err) {
                // Removed meanwhile (on another replica too: a sync deleted the file): not listed.
                if (err instanceof NotFoundError) continue;
                throw err;
            }
            out.push((await this.summary(name, team, file)).summary);
        }
        return out;
    }

    async get(caller: Caller, name: string): Promise<StackDetail> {
        const owner = await this.access.stack(caller, "read", name);
        const file = this.files.read(name);
        const { summary, problemList } = await this.summary(name, owner?.team ?? null, file);
        const active = await this.runsRepo.active(name);
        const running = active.find((r) => r.status === "running");
        const lock = engineLock(name, this.backendUrl);
        return {
            ...summary,
            revision: file.revision,
            config: redactDeep(x1ConfigOf(file.text, name)),
            problemList,
            outputs: await this.runsRepo.lastOutputs(name),
            lock: {
                runningRunId: running?.id ?? null,
                queuedRuns: active.length - (running ? 1 : 0),
                engine: {
                    inspectable: lock.inspectable,
                    holders: lock.holders.map((h) => ({ pid: h.pid, host: h.host, since: h.since, alive: h.alive ?? null })),
                },
            },
        };
    }

    private async summary(name: string, team: string | null, file: StackText): Promise<{ summary: StackSummary; problemList: ConfigProblem[] }> {
        let parsed: StackConfig | undefined;
        let problemList: ConfigProblem[] = [];
        try {
            parsed = validateText(name, file.text);
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            problemList = err.problems;
        }
        const last = await this.runsRepo.latest(name);
        const lastUp = await this.runsRepo.latest(name, "up");
        const summary: StackSummary = {
            name,
            team,
            valid: parsed !== undefined,
            problems: problemList.length,
            tier: parsed?.secrets.tier ?? null,
            workspaces: parsed?.workspaces.length ?? workspacesOf(file.text, name).length,
            lastRun: last ? await this.runs.view(last) : null,
            lastUp: lastUp ? await this.runs.view(lastUp) : null,
            appliesToCluster: parsed ? appliesToCluster(parsed.cluster) : false,
            activeRuns: (await this.runsRepo.active(name)).length,
            paused: await this.pauses.ofStack(name),
        };
        return { summary, problemList };
    }

    /**
     * Creates stacks/Pulumi.<name>.yaml from another stack's file (comments
     * kept), owned by `team`. The source is read like any stack: an example
     * (a stack file no team owns) or a stack the caller may read. A failed
     * create leaves nothing behind.
     */
    async create(caller: Caller, args: { name: string; from: string; team: string }): Promise<StackDetail> {
        await this.access.newStackTeam(caller, args.name, args.team);
        const source = await this.access.copySource(caller, args.name, args.from);
        const created = await this.files.create(args.name, this.files.read(args.from).text);
        try {
            validateOrThrow(args.name, created.text);
            await this.owners.assign(args.name, args.team, caller.principal.subject, true);
        } catch (err) {
            // The source itself is wrong, or the database refused: do not leave a half-made stack behind.
            await this.files.remove(args.name);
            throw err;
        }
        await this.audit.record(
            caller,
            "create-stack",
            `stack:${args.name}`,
            "ok",
            `from '${args.from}'${source ? ` (team '${source.team}')` : " (example)"} for team '${args.team}'`,
        );
        return this.get(caller, args.name);
    }

    /** Assigns a stack to a team (admin). */
    async setTeam(caller: Caller, name: string, team: string): Promise<StackDetail> {
        this.files.read(name);
        await this.access.requireAdmin(caller, "set-stack-team", `stack:${name}`);
        await this.owners.assign(name, team, caller.principal.subject, false);
        await this.audit.record(caller, "set-stack-team", `stack:${name}`, "ok", `team '${team}'`);
        return this.get(caller, name);
    }

    /**
     * Replaces the stack's x1agent config after validating it with the stack
     * schema; refused while a run of the stack is queued or running, when
     * `revision` names an older version of the file, and when it would
     * change what only its own requests change (workspaces, the tier).
     */
    async updateConfig(caller: Caller, name: string, args: { config: Record<string, unknown>; revision?: string }): Promise<StackDetail> {
        await this.access.stack(caller, "update-config", name);
        const busy = (await this.runsRepo.active(name))[0];
        if (busy)
            throw new ConflictError(`stack '${name}' has a ${busy.status} run (${busy.id}); change its config when the stack is idle`, { runId: busy.id });
        const current = this.files.read(name);
        if (args.revision && args.revision !== current.revision) {
            throw new ConflictError(
                `stack '${name}' changed since revision ${args.revision} (now ${current.revision}): read it again and re-apply your change`,
                { expectedRevision: args.revision, currentRevision: current.revision },
            );
        }
        const stored = x1ConfigOf(current.text, name);
        const config = restoreMasked(args.config, stored);
        await this.refuseGatedChanges(caller, name, stored, config);
        const next = withConfig(current.text, name, config);
        validateOrThrow(name, next);
        // A compare-and-set: with several replicas, the database refuses it if another replica's write landed since the read.
        const written = await this.files.write(name, next, current.revision);
        await this.audit.record(caller, "update-config", `stack:${name}`, "ok", `revision ${current.revision} -> ${written.revision}`);
        return this.get(caller, name);
    }

    /**
     * Workspaces and the secrets tier change only through their own requests
     * (team checks, a preview, an approved up); a config edit that changes
     * them is refused, whoever sends it.
     */
    private async refuseGatedChanges(caller: Caller, stack: string, stored: Record<string, unknown>, next: Record<string, unknown>): Promise<void> {
        const tierOf = (c: Record<string, unknown>) => (c.secrets as { tier?: unknown } | undefined)?.tier;
        const gated = [
            {
                changed: !isDeepStrictEqual(stored.workspaces ?? [], next.workspaces ?? []),
                what: "workspaces",
                how: `POST /v1/stacks/${stack}/workspaces and DELETE /v1/stacks/${stack}/workspaces/{id}`,
            },
            { changed: tierOf(stored) !== tierOf(next), what: "secrets.tier", how: `POST /v1/stacks/${stack}/secrets-tier` },
        ];
        for (const g of gated.filter((x) => x.changed)) {
            await this.access.deny(
                caller,
                "update-config",
                `stack:${stack}`,
                `a config edit may not change ${g.what}: it changes only through ${g.how}, which check the teams involved and preview the change before an approved up applies it; send ${g.what} unchanged`,
            );
        }
    }

    /** Destroys the stack's resources, then removes the stack (state and file); needs `confirm` = the stack name; through an approval when destroys are gated. */
    async delete(caller: Caller, name: string, confirm: string | undefined, idempotencyKey?: string): Promise<Queued> {
        const owner = await this.access.stack(caller, "delete-stack", name);
        if (confirm !== name) {
            throw new BadRequestError(`deleting stack '${name}' destroys every resource it manages and removes it: repeat its name as ?confirm=${name}`);
        }
        await this.access.deleteStack(caller, name, owner);
        return this.approvals.queue(caller, { stack: name, operation: "destroy", removeStack: true, idempotencyKey });
    }
}
