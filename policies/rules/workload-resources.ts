import { resourcePolicy } from "../lib/policy";
import { containers, describe, get, isWorkload, podSpec } from "../lib/resources";

interface Config {
    /** Workloads to skip, as `Kind namespace/name`. */
    exclude: string[];
}

/**
 * Every container declares what it needs (CPU and memory requests, for
 * scheduling and the workspace quotas) and a memory limit (so one leaking
 * container cannot take its node down). A CPU limit is not required: it
 * throttles more than it protects.
 */
export const workloadResources = resourcePolicy<Config>(
    {
        name: "workload-resources",
        family: "production-checklist",
        description: "Every container (init containers included) of every workload sets resources.requests.cpu, requests.memory and limits.memory.",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Set resources: { requests: { cpu, memory }, limits: { memory } } on the container (stack config: api/app/worker.resources, or the chart's resources values).\n" +
            "2. Size requests from observed usage; the memory limit at the peak you accept.",
        configSchema: {
            properties: {
                exclude: { type: "array", items: { type: "string" }, default: [], description: "Workloads to skip, as `Kind namespace/name`." },
            },
        },
    },
    (r, { report, config }) => {
        if (!isWorkload(r)) return;
        const id = describe(r);
        if (config.exclude.includes(id)) return;
        for (const { c, field } of containers(podSpec(r))) {
            if (field === "ephemeralContainers") continue; // debug containers take no resources
            const res = get(c, "resources");
            const missing = [
                ["requests", "cpu"],
                ["requests", "memory"],
                ["limits", "memory"],
            ]
                .filter(([a, b]) => get(res, a!, b!) === undefined)
                .map(([a, b]) => `${a}.${b}`);
            if (missing.length > 0) {
                report(`${id} ${field} ${String(get(c, "name"))} sets no resources.${missing.join(", resources.")}: set requests.cpu, requests.memory and limits.memory`);
            }
        }
    },
);
