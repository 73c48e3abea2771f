import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import { guarded, stackPolicy, type Res } from "../lib/policy";
import { describe, get, isKind, list, meta, objectOf, podLabels } from "../lib/resources";

/** Does a label selector (matchLabels + matchExpressions) select these labels? */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
    if (selector === undefined || selector === null) return false;
    const matchLabels: Record<string, string> = get(selector, "matchLabels") ?? {};
    const exprs = list(selector, "matchExpressions");
    if (Object.keys(matchLabels).length === 0 && exprs.length === 0) return true; // {} selects every pod
    const labelsOk = Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
    const exprsOk = exprs.every((e) => {
        const key = String(get(e, "key"));
        const values = list(e, "values").map(String);
        switch (get(e, "operator")) {
            case "In":
                return key in labels && values.includes(labels[key]!);
            case "NotIn":
                return !(key in labels) || !values.includes(labels[key]!);
            case "Exists":
                return key in labels;
            case "DoesNotExist":
                return !(key in labels);
            default:
                return false;
        }
    });
    return labelsOk && exprsOk;
}

/** The most replicas a workload may run at steady state: spec.replicas, or an HPA's minReplicas when higher. */
function replicasOf(w: Res, hpas: Res[]): number {
    const m = meta(w);
    const kind = describe(w).split(" ")[0];
    const declared = objectOf<IDeployment | IStatefulSet>(w).spec?.replicas ?? 1;
    const hpa = hpas.find((h) => {
        const target = objectOf<IHorizontalPodAutoscaler>(h).spec?.scaleTargetRef;
        return meta(h).namespace === m.namespace && target?.kind === kind && target.name === m.name;
    });
    const min = hpa ? (objectOf<IHorizontalPodAutoscaler>(hpa).spec?.minReplicas ?? 1) : 0;
    return Math.max(Number(declared), Number(min));
}

/**
 * A workload that runs more than one replica exists to stay up; without a
 * PodDisruptionBudget a node drain may evict every replica at once. The PDB
 * must be in the workload's namespace and select its pods.
 */
export const pdbForMultiReplica = stackPolicy(
    {
        name: "pdb-for-multi-replica",
        family: "production-checklist",
        description: "Every Deployment or StatefulSet with more than one replica (or an HPA minimum above one) has a PodDisruptionBudget selecting its pods.",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Add a policy/v1 PodDisruptionBudget in the workload's namespace with selector.matchLabels equal to the pod template's app label and maxUnavailable: 1.\n" +
            "2. For upstream charts, enable the chart's podDisruptionBudget value.",
    },
    (resources, { report }) => {
        const hpas = resources.filter((r) => isKind(r, "autoscaling", "HorizontalPodAutoscaler"));
        const pdbs = resources.filter((r) => isKind(r, "policy", "PodDisruptionBudget"));
        for (const w of resources) {
            if (!isKind(w, "apps", "Deployment") && !isKind(w, "apps", "StatefulSet")) continue;
            guarded(w, report, () => {
                const replicas = replicasOf(w, hpas);
                if (replicas <= 1) return;
                const ns = meta(w).namespace;
                const labels = podLabels(w);
                const covered = pdbs.some((p) => meta(p).namespace === ns && selects(objectOf<IPodDisruptionBudget>(p).spec?.selector, labels));
                if (!covered) {
                    report(
                        `${describe(w)} runs ${replicas} replicas but no PodDisruptionBudget in ${ns} selects its pods (labels ${JSON.stringify(labels)}): ` +
                            "add a PodDisruptionBudget with that selector and maxUnavailable: 1",
                        w.urn,
                    );
                }
            });
        }
    },
);
