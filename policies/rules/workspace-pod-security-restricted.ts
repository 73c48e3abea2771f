import { kindPolicy } from "../lib/kind-policy";
import { meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/names";

const enforceLabel = "pod-security.kubernetes.io/enforce";

/**
 * Agent pods run untrusted work; their namespaces enforce Pod Security
 * `restricted` (non-root, no privilege escalation, dropped capabilities,
 * seccomp), so nothing a session creates can escape its pod. Remediation
 * adds the label when it is missing (never overrides a different value).
 */
export const workspacePodSecurityRestricted = kindPolicy(
    "core/Namespace",
    {
        name: "workspace-pod-security-restricted",
        family: "production-checklist",
        description: "Every x1agent-ws-* Namespace enforces Pod Security restricted (label pod-security.kubernetes.io/enforce: restricted).",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps: `1. Label the workspace Namespace ${enforceLabel}: restricted.\n2. Make session pods comply (non-root, seccomp RuntimeDefault, drop ALL) rather than weakening the label.`,
    },
    (_namespace, r, { report }) => {
        const m = meta(r);
        if (workspaceIdOf(m.name) === undefined) return;
        const level = m.labels[enforceLabel];
        if (level !== "restricted") {
            report(
                `Namespace ${m.name} ${level === undefined ? `has no ${enforceLabel} label` : `enforces Pod Security ${level}`}: workspaces must enforce restricted; set the label ${enforceLabel}: restricted`,
            );
        }
    },
    (namespace, r) => {
        const metadata = namespace.metadata;
        const name = metadata?.name;
        if (!metadata || typeof name !== "string" || workspaceIdOf(name) === undefined) return undefined;
        if (metadata.labels?.[enforceLabel] !== undefined) return undefined;
        metadata.labels = { ...(metadata.labels ?? {}), [enforceLabel]: "restricted" };
        return r.props;
    },
);
