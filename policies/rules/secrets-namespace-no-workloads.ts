import { resourcePolicy } from "../lib/policy";
import { describe, isWorkload, meta, podSpec } from "../lib/resources";
import { names } from "../lib/names";

/**
 * Nothing runs in x1agent-secrets: ESO reads it through the API as
 * eso-reader, the backup job from the app namespace. A pod there could mount
 * every Tier 1 Secret, or run as eso-reader and read them all, whoever was
 * allowed to create it.
 */
export const secretsNamespaceNoWorkloads = resourcePolicy(
    {
        name: "secrets-namespace-no-workloads",
        family: "secret-scoping",
        description: "No pod or workload runs in x1agent-secrets, where it could mount every Tier 1 Secret or run as eso-reader.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Run the workload in its own namespace (the app namespace ${names.appNamespace} for x1agent's jobs).\n` +
            `2. If it must read Tier 1 values, give its own ServiceAccount a reviewed read Role in ${names.secretsNamespace} (see secrets-namespace-rbac-scoped); never run it inside ${names.secretsNamespace}.`,
    },
    (r, { report }) => {
        if (!isWorkload(r) || meta(r).namespace !== names.secretsNamespace) return;
        const account = podSpec(r)?.serviceAccountName;
        report(
            `${describe(r)} runs in ${names.secretsNamespace}${account === undefined ? "" : ` as ServiceAccount ${String(account)}`}, where a pod can mount every Tier 1 Secret: ` +
                `nothing runs there; move it to its own namespace`,
        );
    },
);
