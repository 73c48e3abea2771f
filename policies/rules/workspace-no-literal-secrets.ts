import { kindPolicy } from "../lib/kind-policy";
import { describe, entriesOf, meta } from "../lib/resources";
import { workspaceIdOf } from "../lib/names";

/**
 * Secrets in a workspace are materialized by ESO from the backend; a Secret
 * with literal data written by the program puts the value in the manifests,
 * the state file and the rendered YAML. (Secrets are seen unwrapped here, so
 * the decision is by structure: a Secret object with data in a workspace.)
 */
export const workspaceNoLiteralSecrets = kindPolicy(
    "core/Secret",
    {
        name: "workspace-no-literal-secrets",
        family: "no-plaintext-secrets",
        description: "No Secret with literal data or stringData in x1agent-ws-* namespaces: workspace secrets come from ExternalSecrets.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Store the value in the backend under x1agent/<id>/ (or, in Tier 1, as <id>-<name> in x1agent-secrets).\n" +
            "2. List it in workspaces[].secrets so the program creates an ExternalSecret that materializes it; delete the literal Secret.",
    },
    (secret, r, { report }) => {
        const ns = meta(r).namespace;
        if (workspaceIdOf(ns) === undefined) return;
        const keys = [...entriesOf(secret.data), ...entriesOf(secret.stringData)].map(([k]) => k);
        if (keys.length === 0) return;
        report(
            `${describe(r)} carries literal data (${keys.join(", ")}) in workspace namespace ${ns}: workspace secrets must come from an ExternalSecret (workspaces[].secrets), never from the program's manifests`,
        );
    },
);
