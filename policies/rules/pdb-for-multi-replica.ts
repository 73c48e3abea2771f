import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import { guarded, stackPolicy, type Res } from "../lib/policy";
import { asKind, describe, meta, podLabels } from "../lib/resources";

type LabelSelector = NonNullable<NonNullable<IPodDisruptionBudget["spec"]>["selector"]>;

/** Does a label selector (matchLabels + matchExpressions) select these labels? */
export function selects(selector: LabelSelector | undefined | null, labels: Record<string, string>): boolean {
    if (selector === undefined || selector === null) return false;
    const matchLabels = selector.matchLabels ?? {};
    const exprs = selector.matchExpressions ?? [];
    if (Object.keys(matchLabels).length === 0 && exprs.length === 0) return true; // {} selects every pod
    const labelsOk = Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
    const exprsOk = exprs.every((e) => {
        const key = e.key;
        const value = labels[key];
        const values = (e.values ?? []).map(String);
        switch (e.operator) {
            case "In":
                return value !== undefined && values.includes(value);
            case "NotIn":
                return value === undefined || !values.includes(value);
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
    const declared = (asKind(w, "apps/Deployment") ?? asKind(w, "apps/StatefulSet"))?.spec?.replicas ?? 1;
    const hpa = hpas
        .map((h) => ({ h, spec: asKind(h, "autoscaling/HorizontalPodAutoscaler")?.spec }))
        .find(({ h, spec }) => meta(h).namespace === m.namespace && spec?.scaleTargetRef.kind === kind && spec?.scaleTargetRef.name === m.name);
    const min = hpa ? (hpa.spec?.minReplicas ?? 1) : 0;
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
        const hpas = resources.filter((r) => asKind(r, "autoscaling/HorizontalPodAutoscaler"));
        const pdbs = resources.filter((r) => asKind(r, "policy/PodDisruptionBudget"));
        for (const w of resources) {
            if (!asKind(w, "apps/Deployment") && !asKind(w, "apps/StatefulSet")) continue;
            guarded(w, report, () => {
                const replicas = replicasOf(w, hpas);
                if (replicas <= 1) return;
                const ns = meta(w).namespace;
                const labels = podLabels(w);
                const covered = pdbs.some((p) => meta(p).namespace === ns && selects(asKind(p, "policy/PodDisruptionBudget")?.spec?.selector, labels));
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
