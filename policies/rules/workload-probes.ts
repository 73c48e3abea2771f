import { addonNames, names } from "../lib/names";
import { resourcePolicy } from "../lib/policy";
import { isKind, workloadOf, type WorkloadRuleConfig, workloadRuleConfigSchema } from "../lib/resources";

const certManager = addonNames.certManager;

/**
 * The containers of the add-ons' upstream charts that their chart gives no
 * way to probe, read in the pinned charts' templates; this policy's default
 * `exclude`. Every probe a chart can set is set through the add-on's values
 * (components/addons), so those containers stay checked. A config that gives
 * its own `exclude` replaces this list: repeat these entries in it.
 */
export const unprobeableChartContainers: readonly string[] = [
    // cert-manager v1.21.1, templates/deployment.yaml: the controller's livenessProbe is on (`livenessProbe.enabled`,
    // the chart's default, GET /livez), but the template has no readinessProbe and no value adds one: the
    // controller serves no traffic (it watches the API server, one leader at a time), so nothing waits on its readiness.
    `Deployment ${certManager.namespace}/${certManager.release} containers cert-manager-controller`,
    // cert-manager v1.21.1, templates/cainjector-deployment.yaml: no probe at all and no value for one; the
    // cainjector serves only metrics, no health endpoint.
    `Deployment ${certManager.namespace}/${certManager.release}-cainjector containers cert-manager-cainjector`,
    // NATS chart 2.12.3, files/stateful-set/reloader-container.yaml: the config reloader sidecar listens on no port
    // (it watches the mounted config and certificates and signals nats-server), so a probe could only check
    // nothing. The nats container beside it keeps its probes (config.monitor, on) and stays checked.
    `StatefulSet ${names.appNamespace}/${addonNames.nats.release} containers reloader`,
];

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
            "2. For an upstream chart that ships none, set them through addons.<name>.values, or list the workload (or its one container) in this policy's exclude config with the reason.",
        configSchema: workloadRuleConfigSchema(unprobeableChartContainers),
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
