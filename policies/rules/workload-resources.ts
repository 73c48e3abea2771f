import { resourcePolicy } from "../lib/policy";
import { workloadOf, type WorkloadRuleConfig, workloadRuleConfigSchema } from "../lib/resources";

/**
 * Every container declares what it needs (CPU and memory requests, for
 * scheduling and the workspace quotas) and a memory limit (so one leaking
 * container cannot take its node down). A CPU limit is not required: it
 * throttles more than it protects.
 */
export const workloadResources = resourcePolicy<WorkloadRuleConfig>(
    {
        name: "workload-resources",
        family: "production-checklist",
        description: "Every container (init containers included) of every workload sets resources.requests.cpu, requests.memory and limits.memory.",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Set resources: { requests: { cpu, memory }, limits: { memory } } on the container (stack config: api/app/worker.resources, or the chart's resources values).\n" +
            "2. Size requests from observed usage; the memory limit at the peak you accept.",
        configSchema: workloadRuleConfigSchema(),
    },
    (r, { report, config }) => {
        for (const { c, field, at } of workloadOf(r, config.exclude)?.containers ?? []) {
            if (field === "ephemeralContainers") continue; // debug containers take no resources
            const res = c.resources;
            const missing = [
                ["requests.cpu", res?.requests?.cpu],
                ["requests.memory", res?.requests?.memory],
                ["limits.memory", res?.limits?.memory],
            ]
                .filter(([, value]) => value === undefined)
                .map(([key]) => key);
            if (missing.length > 0) {
                report(`${at} sets no resources.${missing.join(", resources.")}: set requests.cpu, requests.memory and limits.memory`);
            }
        }
    },
);
