import { resourcePolicy } from "../lib/policy";
import { meta, workloadOf } from "../lib/resources";
import { runtimeNames, workspaceIdOf } from "../lib/names";

/** Volume types Pod Security `restricted` admits; every other one (hostPath, nfs, iscsi, ...) reaches outside the pod. */
const restrictedVolumeTypes = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]);

/**
 * A pod in a workspace sees that workspace's Secrets, and nothing else only
 * as long as it stays in its box: a hostPath volume reads the node's kubelet
 * directory (every pod's mounted Secrets on that node, other workspaces'
 * included) and its credentials; host namespaces and host ports reach the
 * node's network and processes; any other ServiceAccount, or a token of the
 * session one, carries API rights a session must not have. The cluster
 * enforces this at admission (Pod Security restricted, the session
 * ValidatingAdmissionPolicy); this policy says it at preview, for the pods
 * and workloads the program itself would put in a workspace.
 */
export const workspacePodConfined = resourcePolicy(
    {
        name: "workspace-pod-confined",
        family: "secret-scoping",
        description:
            "Pods and workloads in x1agent-ws-* namespaces run as x1agent-session without a ServiceAccount token, use no host namespaces or host ports, and mount only the volume types Pod Security restricted admits (no hostPath).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Set serviceAccountName: ${runtimeNames.sessionServiceAccount}, and leave automountServiceAccountToken unset or false; no projected serviceAccountToken volume.\n` +
            "2. Remove hostNetwork, hostPID, hostIPC and container hostPort.\n" +
            "3. Replace hostPath (and other node volumes) by emptyDir, configMap, secret or a PersistentVolumeClaim.",
    },
    (r, { report }) => {
        const workload = workspaceIdOf(meta(r).namespace) === undefined ? undefined : workloadOf(r);
        if (!workload) return;
        const { id, spec } = workload;
        const problems: string[] = [];
        const account = spec?.serviceAccountName ?? spec?.serviceAccount;
        if (account !== runtimeNames.sessionServiceAccount) {
            problems.push(
                `runs as ServiceAccount ${account === undefined ? "default (serviceAccountName unset)" : String(account)}, not ${runtimeNames.sessionServiceAccount}`,
            );
        }
        if (spec?.automountServiceAccountToken === true) problems.push("mounts a ServiceAccount token (automountServiceAccountToken: true)");
        for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) if (spec?.[field] === true) problems.push(`sets ${field}: true`);
        for (const { c, field } of workload.containers) {
            if ((c.ports ?? []).some((p) => p.hostPort !== undefined)) problems.push(`${field} ${String(c.name)} binds a hostPort`);
        }
        for (const v of spec?.volumes ?? []) {
            const name = String(v.name);
            const type = Object.keys(v).find((k) => k !== "name");
            if (type !== undefined && !restrictedVolumeTypes.has(type)) problems.push(`volume ${name} is a ${type} volume`);
            if ((v.projected?.sources ?? []).some((s) => s.serviceAccountToken !== undefined)) problems.push(`volume ${name} projects a ServiceAccount token`);
        }
        if (problems.length > 0) {
            report(
                `${id} in a workspace ${problems.join("; ")}: a workspace pod must stay inside its namespace; ` +
                    `run as ${runtimeNames.sessionServiceAccount} without a token, no host namespaces or ports, and only emptyDir/configMap/secret/projected/PVC volumes`,
            );
        }
    },
);
