import { resourcePolicy } from "../lib/policy";
import { isKind, workloadOf, type WorkloadRuleConfig, workloadRuleConfigSchema } from "../lib/resources";

/** Long-running controllers: batch Jobs and bare Pods have no probes to speak of. */
const controllers = [
    ["apps", "Deployment"],
    ["apps", "StatefulSet"],
    ["apps", "DaemonSet"],
    ["apps", "ReplicaSet"],
] as const;

/**
 * Every long-running container says when it is ready and when it is wedged:
 * without a readinessProbe a rollout sends traffic to a pod that is still
 * starting; without a livenessProbe a hung process is never restarted.
 */
export const workloadProbes = resourcePolicy<WorkloadRuleConfig>(
    {
        name: "workload-probes",
        family: "production-checklist",
        description: "Every container of a Deployment, StatefulSet, DaemonSet or ReplicaSet has a readinessProbe and a livenessProbe.",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Add readinessProbe { httpGet: { path: /readyz, port: http } } and livenessProbe { httpGet: { path: /healthz, port: http } } (or the chart's probe values).\n" +
            "2. For an upstream chart that ships none, set them through addons.<name>.values, or list the workload in this policy's exclude config with the reason.",
        configSchema: workloadRuleConfigSchema,
    },
    (r, { report, config }) => {
        if (!controllers.some(([g, k]) => isKind(r, g, k))) return;
        const workload = workloadOf(r, config.exclude);
        if (!workload) return;
        for (const { c, field } of workload.containers) {
            if (field !== "containers") continue; // init containers run to completion; ephemeral ones are for debugging
            const missing = (["readinessProbe", "livenessProbe"] as const).filter((p) => c[p] === undefined);
            if (missing.length > 0) {
                report(
                    `${workload.id} container ${String(c.name)} has no ${missing.join(" and no ")}: add ${missing.join(" and ")} (e.g. httpGet /readyz and /healthz on the http port)`,
                );
            }
        }
    },
);
