import { resourcePolicy } from "../lib/policy";
import { describe, get, isKind, list, meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/names";

/** The link-local instance metadata endpoint of AWS, GCP and Azure: it hands out the node's cloud credentials. */
export const metadataAddress = "169.254.169.254";

const toNumber = (ip: string): number | undefined => {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
    return parts.reduce((n, p) => n * 256 + p, 0);
};

/** Does an IPv4 CIDR contain an address? (Undefined when the CIDR is not IPv4.) */
export function cidrContains(cidr: string, ip: string): boolean | undefined {
    const [base, bits] = cidr.split("/");
    const b = toNumber(base ?? "");
    const a = toNumber(ip);
    const prefix = bits === undefined ? 32 : Number(bits);
    if (b === undefined || a === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
    const size = 2 ** (32 - prefix);
    return Math.floor(a / size) === Math.floor(b / size);
}

/**
 * A workspace's egress may open CIDRs (workspaces[].egressCidrs). One that
 * covers 169.254.169.254 without excepting it lets an agent ask the node's
 * instance metadata service for the node's cloud credentials (the EKS node
 * role, a GCE service account, the AKS kubelet identity): a cloud identity
 * this program never granted the workspace, often with registry and
 * secret-manager rights.
 */
export const workspaceEgressNoMetadata = resourcePolicy(
    {
        name: "workspace-egress-no-metadata",
        family: "secret-scoping",
        description: `NetworkPolicies in x1agent-ws-* namespaces never allow egress to the cloud metadata endpoint ${metadataAddress} (an ipBlock covering it must list it in except).`,
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Narrow workspaces[].egressCidrs to the services agents need (a model API's ranges), not 0.0.0.0/0.\n` +
            `2. Where a wide block is needed, add except: ["169.254.0.0/16"] to its ipBlock.`,
    },
    (r, { report }) => {
        if (!isKind(r, "networking.k8s.io", "NetworkPolicy") || workspaceIdOf(meta(r).namespace) === undefined) return;
        list(r.props, "spec", "egress").forEach((rule, i) => {
            list(rule, "to").forEach((peer, j) => {
                const cidr = get(peer, "ipBlock", "cidr");
                if (typeof cidr !== "string" || cidrContains(cidr, metadataAddress) !== true) return;
                const excepted = list(peer, "ipBlock", "except").some((e) => typeof e === "string" && cidrContains(e, metadataAddress) === true);
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
