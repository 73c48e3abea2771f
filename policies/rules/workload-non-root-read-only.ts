import { resourcePolicy } from "../lib/policy";
import { workloadOf, type WorkloadRuleConfig, workloadRuleConfigSchema } from "../lib/resources";

/**
 * Every container runs as a non-root user, on a read-only root filesystem,
 * without privilege escalation and with every capability dropped: what Pod
 * Security `restricted` enforces in the workspaces, applied to every
 * workload this program ships.
 *
 * Remediation fills in only fields that are missing (never overturns an
 * explicit value): runAsNonRoot at pod level, and per container
 * allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
 * capabilities.drop: [ALL]. A workload that needs a writable path gets an
 * emptyDir mount from its author, not a writable root.
 */
export const workloadNonRootReadOnly = resourcePolicy<WorkloadRuleConfig>(
    {
        name: "workload-non-root-read-only",
        family: "production-checklist",
        description:
            "Every container runs as non-root (runAsNonRoot), with readOnlyRootFilesystem, allowPrivilegeEscalation: false and capabilities.drop [ALL], and is not privileged.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Pod: securityContext { runAsNonRoot: true, runAsUser: <non-zero>, seccompProfile: { type: RuntimeDefault } }.\n" +
            "2. Each container: securityContext { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }; mount an emptyDir where it must write.\n" +
            "3. With enforcementLevel remediate, missing fields are filled in automatically.",
        configSchema: workloadRuleConfigSchema(),
    },
    (r, { report, config }) => {
        const workload = workloadOf(r, config.exclude);
        if (!workload) return;
        const pod = workload.spec?.securityContext ?? {};
        for (const { c, at } of workload.containers) {
            const sc = c.securityContext ?? {};
            const problems: string[] = [];
            const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
            const user = sc.runAsUser ?? pod.runAsUser;
            if (nonRoot !== true) problems.push("runAsNonRoot is not true");
            if (user === 0) problems.push("runAsUser is 0 (root)");
            if (sc.privileged === true) problems.push("privileged is true");
            if (sc.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem is not true");
            if (sc.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation is not false");
            if (!(sc.capabilities?.drop ?? []).map(String).includes("ALL")) problems.push("capabilities.drop does not include ALL");
            if (problems.length > 0) {
                report(
                    `${at}: ${problems.join("; ")}. Set securityContext { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }`,
                );
            }
        }
    },
    (r, { config }) => {
        // The same walk as the check, on the pod spec in place: a copy would lose the secretness of secret values elsewhere in props.
        const workload = workloadOf(r, config.exclude);
        const spec = workload?.spec;
        if (!workload || !spec) return undefined;
        let changed = false;
        const anyContainerSetsNonRoot = workload.containers.some(({ c }) => c.securityContext?.runAsNonRoot !== undefined);
        if (spec.securityContext?.runAsNonRoot === undefined && !anyContainerSetsNonRoot) {
            spec.securityContext = { ...(spec.securityContext ?? {}), runAsNonRoot: true };
            changed = true;
        }
        for (const { c } of workload.containers) {
            const sc = c.securityContext ?? {};
            const fix: typeof sc = {};
            if (sc.allowPrivilegeEscalation === undefined) fix.allowPrivilegeEscalation = false;
            if (sc.readOnlyRootFilesystem === undefined) fix.readOnlyRootFilesystem = true;
            if (sc.capabilities?.drop === undefined) fix.capabilities = { ...(sc.capabilities ?? {}), drop: ["ALL"] };
            if (Object.keys(fix).length > 0) {
                c.securityContext = { ...sc, ...fix };
                changed = true;
            }
        }
        return changed ? r.props : undefined;
    },
);
