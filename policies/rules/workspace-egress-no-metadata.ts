import { kindPolicy } from "../lib/kind-policy";
import { describe, meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/names";
import { cidrContains, metadataAddress } from "../lib/network";

/**
 * A workspace's egress may open CIDRs (workspaces[].egressCidrs). One that
 * covers 169.254.169.254 without excepting it lets an agent ask the node's
 * instance metadata service for the node's cloud credentials (the EKS node
 * role, a GCE service account, the AKS kubelet identity): a cloud identity
 * this program never granted the workspace, often with registry and
 * secret-manager rights. The Workspace component adds the `except` to the
 * blocks it writes from `egressCidrs`; this checks every egress rule.
 */
export const workspaceEgressNoMetadata = kindPolicy(
    "networking.k8s.io/NetworkPolicy",
    {
        name: "workspace-egress-no-metadata",
        family: "secret-scoping",
        description: `NetworkPolicies in x1agent-ws-* namespaces never allow egress to the cloud metadata endpoint ${metadataAddress} (an ipBlock covering it must list it in except).`,
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. In a NetworkPolicy of your own, add except: ["169.254.0.0/16"] to an ipBlock that covers ${metadataAddress} (the Workspace component does this for workspaces[].egressCidrs).\n` +
            `2. Never list ${metadataAddress}/32 itself in workspaces[].egressCidrs.`,
    },
    (np, r, { report }) => {
        if (workspaceIdOf(meta(r).namespace) === undefined) return;
        (np.spec?.egress ?? []).forEach((rule, i) => {
            (rule.to ?? []).forEach((peer, j) => {
                const cidr = peer.ipBlock?.cidr;
                if (typeof cidr !== "string" || cidrContains(cidr, metadataAddress) !== true) return;
                const excepted = (peer.ipBlock?.except ?? []).some((e) => typeof e === "string" && cidrContains(e, metadataAddress) === true);
                if (!excepted) {
                    report(
                        `${describe(r)} spec.egress[${i}].to[${j}] allows ${cidr}, which covers the cloud metadata endpoint ${metadataAddress} (the node's cloud credentials): ` +
                            `narrow the CIDR or add except: ["169.254.0.0/16"] to the ipBlock`,
                    );
                }
            });
        });
    },
);
