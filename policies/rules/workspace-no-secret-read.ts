import { guarded, stackPolicy, type Res } from "../lib/policy";
import type { IPolicyRule } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { workspaceIdOf } from "../lib/names";
import { bindingSubjects, isAggregated, rbacGroup as rbac, roleRefOf, rulesOf } from "../lib/rbac";
import { isKind, meta } from "../lib/resources";
/** Built-in ClusterRoles that can read Secrets (view cannot). */
const builtinReaders = new Set(["cluster-admin", "admin", "edit"]);
const builtinNonReaders = new Set(["view"]);

/** Does this RBAC rule allow reading Secret values? */
export function ruleReadsSecrets(rule: IPolicyRule): boolean {
    const groups = rule.apiGroups ?? [];
    const resources = rule.resources ?? [];
    const verbs = rule.verbs ?? [];
    return (
        (groups.includes("") || groups.includes("*")) &&
        (resources.includes("secrets") || resources.includes("*")) &&
        verbs.some((v) => v === "get" || v === "list" || v === "watch" || v === "*")
    );
}

/** Workspace ServiceAccounts (or all of a workspace's, by group) a binding names. */
function workspaceSubjects(binding: Res): string[] {
    const bindingNs = meta(binding).namespace;
    const out: string[] = [];
    for (const s of bindingSubjects(binding)) {
        const kind = s.kind;
        const name = s.name ?? "";
        if (kind === "ServiceAccount") {
            const ns = s.namespace ?? bindingNs;
            if (workspaceIdOf(ns) !== undefined) out.push(`ServiceAccount ${ns}/${name}`);
        } else if (kind === "Group") {
            const m = /^system:serviceaccounts(?::(.+))?$/.exec(name);
            if (m && (m[1] === undefined || workspaceIdOf(m[1]) !== undefined)) out.push(`Group ${name}`);
        }
    }
    return out;
}

/**
 * Agent pods run as their workspace's ServiceAccounts and must never read a
 * Secret: not in their own namespace (the materialized workspace secrets are
 * mounted, not listed) and not in another's. Checked on the bindings: every
 * RoleBinding or ClusterRoleBinding naming a workspace ServiceAccount (or the
 * serviceaccounts group) is resolved to its Role/ClusterRole rules; a role
 * this stack does not define and that is not a known built-in cannot be
 * verified and fails closed. Roles in a workspace that read Secrets are
 * flagged too, bound or not.
 */
export const workspaceNoSecretRead = stackPolicy(
    {
        name: "workspace-no-secret-read",
        family: "secret-scoping",
        description:
            "No ServiceAccount of an x1agent-ws-* workspace may get/list/watch Secrets, in its own namespace or any other; no Role in a workspace grants it.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Remove `secrets` (and `*`) from the resources of Roles/ClusterRoles bound to workspace ServiceAccounts.\n" +
            "2. Give session pods their secrets as mounted volumes or secretKeyRef env from the ExternalSecret's target Secret; never RBAC read access.\n" +
            "3. Do not bind admin, edit or cluster-admin to workspace ServiceAccounts.",
    },
    (resources, { report }) => {
        const roles = new Map<string, Res>();
        const clusterRoles = new Map<string, Res>();
        for (const r of resources) {
            if (isKind(r, rbac, "Role")) roles.set(`${meta(r).namespace}/${meta(r).name}`, r);
            if (isKind(r, rbac, "ClusterRole")) clusterRoles.set(meta(r).name, r);
        }
        for (const r of resources) {
            if (isKind(r, rbac, "Role")) {
                guarded(r, report, () => {
                    const m = meta(r);
                    if (workspaceIdOf(m.namespace) === undefined) return;
                    rulesOf(r).forEach((rule, i) => {
                        if (ruleReadsSecrets(rule)) {
                            report(
                                `Role ${m.namespace}/${m.name} rule ${i} allows reading Secrets in workspace namespace ${m.namespace}: remove secrets (and *) from its resources`,
                                r.urn,
                            );
                        }
                    });
                });
            }
            const isRoleBinding = isKind(r, rbac, "RoleBinding");
            if (!isRoleBinding && !isKind(r, rbac, "ClusterRoleBinding")) continue;
            guarded(r, report, () => {
                const subjects = workspaceSubjects(r);
                if (subjects.length === 0) return;
                const m = meta(r);
                const refKind = roleRefOf(r).kind;
                const refName = roleRefOf(r).name;
                const where = isRoleBinding ? `RoleBinding ${m.namespace}/${m.name}` : `ClusterRoleBinding ${m.name}`;
                const scope = isRoleBinding ? `in namespace ${m.namespace}` : "in every namespace";
                const role = refKind === "Role" ? roles.get(`${m.namespace}/${refName}`) : clusterRoles.get(refName);
                let reads: boolean;
                if (role) {
                    if (isAggregated(role)) {
                        report(
                            `${where} binds ${subjects.join(", ")} to aggregated ClusterRole ${refName}, whose rules cannot be verified here: bind a Role with explicit rules that exclude secrets`,
                            r.urn,
                        );
                        return;
                    }
                    reads = rulesOf(role).some(ruleReadsSecrets);
                } else if (refKind === "ClusterRole" && builtinReaders.has(refName)) {
                    reads = true;
                } else if (refKind === "ClusterRole" && builtinNonReaders.has(refName)) {
                    reads = false;
                } else {
                    report(
                        `${where} binds ${subjects.join(", ")} to ${String(refKind)} ${refName}, which this stack does not define, so whether it reads Secrets cannot be verified: ` +
                            "define the role in this stack (without secrets) or bind the built-in view",
                        r.urn,
                    );
                    return;
                }
                if (reads) {
                    report(
                        `${where} lets workspace ${subjects.join(", ")} read Secrets ${scope} (${String(refKind)} ${refName}): agent pods must never read Secrets; remove secrets from that role or bind a role without it`,
                        r.urn,
                    );
                }
            });
        }
    },
);
