// Who is signed in (GET /v1/me) and what that allows: the console offers an
// action only where it can work, and says why otherwise. The deployer
// decides again on every request; this only keeps dead buttons off screen.
import { get } from "./api.js";

/** Roles in a team, ordered: each includes the ones before it. */
export const roles = ["viewer", "operator", "approver", "admin"];

/** @type {{subject: string, admin: boolean, teams: {team: string, role: string}[]} | null} */
let me = null;

export async function loadMe() {
    me = await get("/v1/me");
    return me;
}

export const identity = () => me;

/** The caller's role in a team: admins are admin of every team; none when not a member. */
export function roleIn(team) {
    if (!me) return undefined;
    if (me.admin) return "admin";
    return me.teams.find((t) => t.team === team)?.role;
}

const atLeast = (role, needed) => role !== undefined && roles.indexOf(role) >= roles.indexOf(needed);

/** What each action needs, and how to say it is missing. */
const needs = {
    preview: "operator",
    up: "operator",
    refresh: "operator",
    drift: "operator",
    "preview-destroy": "operator",
    destroy: "operator",
    cancel: "operator",
    "edit-config": "operator",
    "propose-workspace": "operator",
    pause: "operator",
    schedule: "operator",
    approve: "approver",
    reject: "approver",
};

/**
 * Whether the caller may do `act` on a stack of `team`: null when allowed,
 * else the reason, naming the role it needs and the one it has.
 */
export function denied(act, team) {
    if (!me) return null;
    const needed = needs[act] ?? "admin";
    const role = roleIn(team);
    if (atLeast(role, needed)) return null;
    const who = me.subject;
    return role ? `needs the ${needed} role in team ${team}; ${who} is ${role}` : `${who} has no role in team ${team ?? "(none)"}`;
}

/** Null for admins, else why an admin page is closed. */
export function adminOnly(what) {
    if (!me || me.admin) return null;
    return `${what} is for deployer admins; ${me.subject} is not one`;
}

/** "token:ops-dev · ops (operator), web (viewer)" */
export function describeMe(m) {
    const teams = m.teams.map((t) => `${t.team} (${t.role})`).join(", ");
    return { subject: m.subject, detail: m.admin ? `admin${teams ? ` · ${teams}` : ""}` : teams || "no team" };
}
