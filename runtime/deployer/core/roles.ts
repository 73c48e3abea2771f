/**
 * Roles per team, ordered: each includes the ones before it.
 *
 * - viewer: reads stacks, runs, logs, approvals;
 * - operator: previews, refreshes, queues runs, proposes changes
 *   (workspaces, the secrets tier, config edits), cancels runs;
 * - approver: approves or rejects what others requested;
 * - admin: creates and deletes the team's stacks, issues its tokens, sets
 *   its stacks' approval policy.
 *
 * A principal holds one role per team; a deployer admin (`admin: true`) is
 * admin of every team and sees every stack.
 */
export const roles = ["viewer", "operator", "approver", "admin"] as const;
export type Role = (typeof roles)[number];

/** The caller's role in each of its teams. */
export type TeamRoles = Record<string, Role>;

/** The role a team list without roles (the `teams: [..]` form of tokens, OIDC groups without a mapping) means. */
export const defaultRole: Role = "operator";

export function atLeast(role: Role | undefined, needed: Role): boolean {
    return role !== undefined && roles.indexOf(role) >= roles.indexOf(needed);
}

/** The higher of two roles. */
export function higher(a: Role | undefined, b: Role): Role {
    return atLeast(a, b) ? (a as Role) : b;
}

/** A team list, each with the default role. */
export function rolesOfTeams(teams: readonly string[]): TeamRoles {
    return Object.fromEntries(teams.map((t) => [t, defaultRole]));
}

/** What an OIDC group grants: a role in a team. */
export interface GroupGrant {
    team: string;
    role: Role;
}

/** OIDC groups to team roles: the X1_OIDC_GROUP_ROLES setting, parsed. */
export type GroupRoles = Record<string, GroupGrant[]>;

/**
 * Parses `group=team:role` entries separated by commas (a group may appear
 * several times, once per team), e.g.
 * `payments-devs=payments:operator,payments-leads=payments:approver`.
 */
export function parseGroupRoles(text: string): GroupRoles {
    const out: GroupRoles = {};
    for (const raw of text.split(",")) {
        const entry = raw.trim();
        if (!entry) continue;
        const m = /^([^=\s]+)=([^:\s]+):([a-z]+)$/.exec(entry);
        if (!m) throw new Error(`X1_OIDC_GROUP_ROLES entry '${entry}' is not group=team:role (e.g. payments-leads=payments:approver)`);
        const [, group, team, role] = m as unknown as [string, string, string, string];
        if (!(roles as readonly string[]).includes(role)) {
            throw new Error(`X1_OIDC_GROUP_ROLES entry '${entry}': role '${role}' is not one of ${roles.join(", ")}`);
        }
        (out[group] ??= []).push({ team, role: role as Role });
    }
    return out;
}

/**
 * A caller's team roles from its OIDC groups: with a mapping, only the
 * groups it lists grant roles (the highest wins per team); without one,
 * every group is a team with the default role, as before roles existed.
 */
export function rolesOfGroups(groups: readonly string[], mapping: GroupRoles | undefined): TeamRoles {
    if (!mapping) return rolesOfTeams(groups);
    const out: TeamRoles = {};
    for (const g of groups) for (const grant of mapping[g] ?? []) out[grant.team] = higher(out[grant.team], grant.role);
    return out;
}
