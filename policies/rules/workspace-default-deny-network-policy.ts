import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { guarded, isUnknownValueError, type Res, stackPolicy } from "../lib/policy";
import { asKind, isKind, meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/names";

/** Is this NetworkPolicy's podSelector empty (every pod in the namespace)? */
function selectsAll(np: INetworkPolicy): boolean {
    const sel = np.spec?.podSelector;
    if (sel === undefined || sel === null) return false;
    return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/**
 * The NetworkPolicies that may be in a namespace, in stack order, grouped in
 * one pass: scanning every policy for every workspace namespace was
 * quadratic in workspaces (6 s per evaluation at 1000; bench/). A policy
 * whose metadata is unknown at preview is a candidate everywhere, so
 * reading it still fails each namespace's check as before.
 */
function networkPoliciesByNamespace(resources: Res[]): (namespace: string) => Res[] {
    const known = new Map<string, Res[]>();
    const unknown: Res[] = [];
    const order = new Map<Res, number>();
    for (const np of resources) {
        if (!isKind(np, "networking.k8s.io", "NetworkPolicy")) continue;
        order.set(np, order.size);
        let namespace: string;
        try {
            namespace = meta(np).namespace;
        } catch (err) {
            if (!isUnknownValueError(err)) throw err;
            unknown.push(np);
            continue;
        }
        const list = known.get(namespace) ?? [];
        list.push(np);
        known.set(namespace, list);
    }
    return (namespace) => {
        const own = known.get(namespace) ?? [];
        return unknown.length === 0 ? own : [...own, ...unknown].sort((a, b) => order.get(a)! - order.get(b)!);
    };
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
        const inNamespace = networkPoliciesByNamespace(resources);
        for (const ns of resources) {
            if (!isKind(ns, "core", "Namespace")) continue;
            guarded(ns, report, () => {
                const name = meta(ns).name;
                if (workspaceIdOf(name) === undefined) return;
                const denies = { Ingress: false, Egress: false };
                for (const r of inNamespace(name)) {
                    const np = asKind(r, "networking.k8s.io/NetworkPolicy");
                    if (!np || meta(r).namespace !== name || !selectsAll(np)) continue;
                    const types = (np.spec?.policyTypes ?? []).map(String);
                    if (types.includes("Ingress") && (np.spec?.ingress ?? []).length === 0) denies.Ingress = true;
                    if (types.includes("Egress") && (np.spec?.egress ?? []).length === 0) denies.Egress = true;
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
