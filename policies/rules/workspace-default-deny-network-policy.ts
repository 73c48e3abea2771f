import { guarded, stackPolicy } from "../lib/policy";
import { get, isKind, list, meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/tiers";

/** Is this NetworkPolicy's podSelector empty (every pod in the namespace)? */
function selectsAll(np: unknown): boolean {
    const sel = get(np, "spec", "podSelector");
    if (sel === undefined || sel === null) return false;
    return Object.keys(get(sel, "matchLabels") ?? {}).length === 0 && list(sel, "matchExpressions").length === 0;
}

/**
 * Every workspace starts from "nothing in, nothing out": a NetworkPolicy
 * selecting every pod with policyTypes Ingress and Egress and no rules of
 * its own; the few allowed paths are separate policies on top. Without it,
 * an agent can reach every pod and the internet.
 */
export const workspaceDefaultDenyNetworkPolicy = stackPolicy(
    {
        name: "workspace-default-deny-network-policy",
        family: "production-checklist",
        description: "Every x1agent-ws-* namespace has a default-deny NetworkPolicy: podSelector {} with policyTypes Ingress and Egress and no rules.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Add a NetworkPolicy in the workspace: { podSelector: {}, policyTypes: [Ingress, Egress] } with no ingress/egress rules.\n" +
            "2. Allow the needed paths (DNS, NATS, the api, workspaces[].egressCidrs) in separate NetworkPolicies.",
    },
    (resources, { report }) => {
        const policies = resources.filter((r) => isKind(r, "networking.k8s.io", "NetworkPolicy"));
        for (const ns of resources) {
            if (!isKind(ns, "core", "Namespace")) continue;
            guarded(ns, report, () => {
                const name = meta(ns).name;
                if (workspaceIdOf(name) === undefined) return;
                const denies = { Ingress: false, Egress: false };
                for (const np of policies) {
                    if (meta(np).namespace !== name || !selectsAll(np.props)) continue;
                    const types = list(np.props, "spec", "policyTypes").map(String);
                    if (types.includes("Ingress") && list(np.props, "spec", "ingress").length === 0) denies.Ingress = true;
                    if (types.includes("Egress") && list(np.props, "spec", "egress").length === 0) denies.Egress = true;
                }
                const missing = (Object.keys(denies) as (keyof typeof denies)[]).filter((t) => !denies[t]);
                if (missing.length > 0) {
                    report(
                        `Namespace ${name} has no default-deny ${missing.join(" and ")} NetworkPolicy: add { podSelector: {}, policyTypes: [Ingress, Egress] } with no rules (allowed paths go in separate policies)`,
                        ns.urn,
                    );
                }
            });
        }
    },
);
