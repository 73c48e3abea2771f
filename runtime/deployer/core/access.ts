/**
 * Who may see and do what, decided in one place; every denial is audited
 * here. Stacks belong to a team: a principal sees the stacks of its teams
 * (any role), and what it may do there is its role in that team
 * (core/roles.ts; `actionRoles` below says which role each action needs);
 * deployer admins see and do everything. A stack file no team owns is an
 * example: only deployer admins read or run it, anyone may copy it.
 */
import { ForbiddenError } from "../errors";
import type { OwnersRepository, StackOwner } from "../store/owners";
import type { RunRow } from "../store/runs";
import type { StackFiles } from "../store/stack-files";
import type { AuditLog } from "./audit";
import { atLeast, type Role, type TeamRoles } from "./roles";
import type { Principal } from "./tokens";

/** Who is asking, for authorization and the audit log. */
export interface Caller {
    principal: Principal;
    /** The HTTP request's id: audit entries, log lines and the runs it creates carry it. */
    requestId?: string;
    remote?: string;
}

/** The role each action on a stack (its runs, its approvals) needs in the stack's team. */
export const actionRoles = {
    read: "viewer",
    preview: "operator",
    refresh: "operator",
    up: "operator",
    destroy: "operator",
    "preview-destroy": "operator",
    cancel: "operator",
    "update-config": "operator",
    "add-workspace": "operator",
    "remove-workspace": "operator",
    "upgrade-tier": "operator",
    approve: "approver",
    reject: "approver",
    "create-stack": "admin",
    "delete-stack": "admin",
    "set-approval-policy": "admin",
    drift: "operator",
    pause: "operator",
    resume: "operator",
    "set-schedule": "operator",
    "read-webhook": "viewer",
    "create-webhook": "admin",
    "delete-webhook": "admin",
    "clear-lock": "admin",
} as const satisfies Record<string, Role>;
export type Action = keyof typeof actionRoles;

/** The caller's teams (any role). */
export function teamsOf(p: Principal): string[] {
    return Object.keys(p.roles);
}

/** The caller's role in a team: admin for a deployer admin. */
export function roleIn(p: Principal, team: string | null | undefined): Role | undefined {
    if (p.admin) return "admin";
    return team === null || team === undefined ? undefined : p.roles[team];
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
        return roleIn(p, team) !== undefined;
    }

    /** Records the refusal and throws it. */
    async deny(caller: Caller, action: string, target: string, reason: string): Promise<never> {
        await this.audit.record(caller, action, target, "denied", reason);
        throw new ForbiddenError(reason);
    }

    /**
     * The stack's owner, if the caller's teams own it (admins: any stack) and
     * its role there allows the action; 404 before 403, since the stack list is not secret.
     */
    async stack(caller: Caller, action: Action, stack: string): Promise<StackOwner | undefined> {
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
        await this.role(caller, action, `stack:${stack}`, `stack '${stack}'`, owner?.team);
        return owner;
    }

    /** Refuses the action unless the caller's role in `team` is at least the one the action needs. */
    async role(caller: Caller, action: Action, target: string, what: string, team: string | null | undefined): Promise<void> {
        const needed = actionRoles[action];
        const has = roleIn(caller.principal, team);
        if (atLeast(has, needed)) return;
        await this.deny(
            caller,
            action,
            target,
            `${action} on ${what} needs the ${needed} role in team '${team ?? "(none)"}'; ${caller.principal.subject} is ${has ?? "not a member"} there`,
        );
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

    /** A new stack belongs to a team the caller administers. */
    async newStackTeam(caller: Caller, stack: string, team: string): Promise<void> {
        const p = caller.principal;
        if (roleIn(p, team) === undefined) {
            await this.deny(caller, "create-stack", `stack:${stack}`, `${p.subject} may only create stacks for its own teams (${teamsText(p)}), not '${team}'`);
        }
        await this.role(caller, "create-stack", `stack:${stack}`, `a stack of team '${team}'`, team);
    }

    /** A stack the deployer did not create is deleted by a deployer admin only. */
    async deleteStack(caller: Caller, stack: string, owner: StackOwner | undefined): Promise<void> {
        if (!owner?.deployer_created && !caller.principal.admin) {
            await this.deny(caller, "delete-stack", `stack:${stack}`, `stack '${stack}' was not created by the deployer: only an admin may delete it`);
        }
    }

    /** The run, if the caller may see its stack (the stack's owner now, or when the run was made) and act there. */
    async run(caller: Caller, action: Action, row: Pick<RunRow, "id" | "stack" | "team">): Promise<void> {
        await this.onStackOf(caller, action, `run:${row.id}`, `run ${row.id}`, row.stack, row.team);
    }

    /**
     * Something on a stack (a run, an approval): visible to the stack's team
     * (its owner now, else `madeFor`, the team when it was made), and the
     * caller's role there allows the action.
     */
    async onStackOf(caller: Caller, action: Action, target: string, what: string, stack: string, madeFor: string | null): Promise<void> {
        if (caller.principal.admin) return;
        const team = (await this.owners.of(stack))?.team ?? madeFor ?? undefined;
        if (!this.canSee(caller.principal, team)) {
            await this.deny(
                caller,
                action,
                target,
                `${what} is on stack '${stack}' of team '${team ?? "(none)"}'; ${caller.principal.subject} is in ${teamsText(caller.principal)}`,
            );
        }
        await this.role(caller, action, target, `stack '${stack}'`, team);
    }

    /** A workspace belongs to one of the caller's teams (admins: any). */
    async workspace(caller: Caller, action: string, stack: string, id: string, team: string | undefined): Promise<void> {
        const p = caller.principal;
        if (roleIn(p, team) !== undefined) return;
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

    /** A deployer admin, or the admin of at least one team. */
    requireAnyAdmin(caller: Caller, action: string, target: string): Promise<void> {
        const p = caller.principal;
        return p.admin || Object.values(p.roles).includes("admin")
            ? Promise.resolve()
            : this.deny(caller, action, target, `${action} needs the admin role in a team (or a deployer admin); ${p.subject} is in ${teamsText(p)}`);
    }

    /** A deployer admin manages every token; a team admin the tokens whose every team it administers (never a deployer-admin token). */
    mayManageToken(p: Principal, token: { roles: TeamRoles; admin: boolean }): boolean {
        if (p.admin) return true;
        const teams = Object.keys(token.roles);
        return !token.admin && teams.length > 0 && teams.every((t) => p.roles[t] === "admin");
    }

    async manageToken(caller: Caller, action: string, target: string, token: { roles: TeamRoles; admin: boolean }): Promise<void> {
        const p = caller.principal;
        if (this.mayManageToken(p, token)) return;
        const teams = Object.keys(token.roles);
        await this.deny(
            caller,
            action,
            target,
            token.admin || teams.length === 0
                ? `${action} of a deployer-admin token or a token without teams needs a deployer admin; ${p.subject} is not one`
                : `${action} of a token with roles in ${teams.map((t) => `'${t}'`).join(", ")} needs the admin role in each of those teams; ${p.subject} is in ${teamsText(p)}`,
        );
    }
}

/** A principal's teams and roles, in words. */
export function teamsText(p: Principal): string {
    return p.admin ? "every team (deployer admin)" : rolesText(p.roles);
}

export function rolesText(roles: TeamRoles): string {
    const entries = Object.entries(roles);
    return entries.length ? `team(s) ${entries.map(([t, r]) => `${t} (${r})`).join(", ")}` : "no team";
}
