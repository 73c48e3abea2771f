/**
 * Who may see and do what, decided in one place; every denial is audited
 * here. Stacks belong to a team: a principal sees the stacks of its teams,
 * admins see every stack. A stack file no team owns is an example: only
 * admins read or run it, anyone may copy it.
 */
import { ForbiddenError } from "../errors";
import type { OwnersRepository, StackOwner } from "../store/owners";
import type { RunRow } from "../store/runs";
import type { StackFiles } from "../store/stack-files";
import type { AuditLog } from "./audit";
import type { Principal } from "./tokens";

/** Who is asking, for authorization and the audit log. */
export interface Caller {
    principal: Principal;
    /** The HTTP request's id: audit entries, log lines and the runs it creates carry it. */
    requestId?: string;
    remote?: string;
}

export class Access {
    private readonly owners: OwnersRepository;
    private readonly files: StackFiles;
    private readonly audit: AuditLog;

    constructor(owners: OwnersRepository, files: StackFiles, audit: AuditLog) {
        this.owners = owners;
        this.files = files;
        this.audit = audit;
    }

    canSee(p: Principal, team: string | null | undefined): boolean {
        return p.admin || (team !== undefined && team !== null && p.teams.includes(team));
    }

    /** Records the refusal and throws it. */
    async deny(caller: Caller, action: string, target: string, reason: string): Promise<never> {
        await this.audit.record(caller, action, target, "denied", reason);
        throw new ForbiddenError(reason);
    }

    /** The stack's owner, if the caller's teams own it (admins: any stack); 404 before 403, since the stack list is not secret. */
    async stack(caller: Caller, action: string, stack: string): Promise<StackOwner | undefined> {
        this.files.read(stack);
        const owner = await this.owners.of(stack);
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
        return owner;
    }

    /** Copying a stack reads it: an example (no owner) or a stack the caller may read. */
    async copySource(caller: Caller, target: string, source: string): Promise<StackOwner | undefined> {
        this.files.read(source);
        const owner = await this.owners.of(source);
        if (owner && !this.canSee(caller.principal, owner.team)) {
            await this.deny(
                caller,
                "create-stack",
                `stack:${target}`,
                `copying stack '${source}' reads it, and it belongs to team '${owner.team}'; ${caller.principal.subject} is in ${teamsText(caller.principal)}: copy an example stack (one no team owns, e.g. local) or one of your own`,
            );
        }
        return owner;
    }

    /** A new stack belongs to one of the caller's teams. */
    async newStackTeam(caller: Caller, stack: string, team: string): Promise<void> {
        const p = caller.principal;
        if (!p.admin && !p.teams.includes(team)) {
            await this.deny(caller, "create-stack", `stack:${stack}`, `${p.subject} may only create stacks for its own teams (${teamsText(p)}), not '${team}'`);
        }
    }

    /** A stack the deployer did not create is deleted by an admin only. */
    async deleteStack(caller: Caller, stack: string, owner: StackOwner | undefined): Promise<void> {
        if (!owner?.deployer_created && !caller.principal.admin) {
            await this.deny(caller, "delete-stack", `stack:${stack}`, `stack '${stack}' was not created by the deployer: only an admin may delete it`);
        }
    }

    /** The run, if the caller may see its stack (the stack's owner now, or when the run was made). */
    async run(caller: Caller, action: string, row: RunRow): Promise<void> {
        if (caller.principal.admin) return;
        const team = (await this.owners.of(row.stack))?.team ?? row.team ?? undefined;
        if (!this.canSee(caller.principal, team)) {
            await this.deny(
                caller,
                action,
                `run:${row.id}`,
                `run ${row.id} is on stack '${row.stack}' of team '${team ?? "(none)"}'; ${caller.principal.subject} is in ${teamsText(caller.principal)}`,
            );
        }
    }

    /** A workspace belongs to one of the caller's teams (admins: any). */
    async workspace(caller: Caller, action: string, stack: string, id: string, team: string | undefined): Promise<void> {
        const p = caller.principal;
        if (p.admin || (team !== undefined && p.teams.includes(team))) return;
        await this.deny(
            caller,
            action,
            `stack:${stack}/workspace:${id}`,
            action === "add-workspace"
                ? `a workspace must belong to one of ${p.subject}'s teams (${teamsText(p)}): set team`
                : `workspace '${id}' belongs to team '${team ?? "(none)"}'; ${p.subject} is in ${teamsText(p)}`,
        );
    }

    requireAdmin(caller: Caller, action: string, target: string): Promise<void> {
        return caller.principal.admin
            ? Promise.resolve()
            : this.deny(caller, action, target, `${action} needs an admin token; ${caller.principal.subject} is not an admin`);
    }
}

export function teamsText(p: Principal): string {
    return p.teams.length ? `team(s) ${p.teams.join(", ")}` : "no team";
}
