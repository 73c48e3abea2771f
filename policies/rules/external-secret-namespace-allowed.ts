import { resourcePolicy } from "../lib/policy";
import { meta } from "../lib/resources";
import { isExternalSecret } from "../lib/stores";
import { names, workspaceIdOf } from "../lib/names";

interface Config {
    /** Namespaces besides x1agent-ws-* where ExternalSecrets may live. */
    allowNamespaces: string[];
}

/**
 * ExternalSecrets materialize secret values as Secrets; they belong in the
 * workspaces (and the app namespace), nowhere else: an ExternalSecret in
 * kube-system or a tenant's namespace copies x1agent secrets out of reach of
 * the workspace isolation.
 */
export const externalSecretNamespaceAllowed = resourcePolicy<Config>(
    {
        name: "external-secret-namespace-allowed",
        family: "secret-scoping",
        description: "ExternalSecrets live only in x1agent-ws-* workspace namespaces, plus an allowlist (default: the app namespace x1agent).",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Create the ExternalSecret in the workspace namespace x1agent-ws-<id> that uses it.\n" +
            "2. If another namespace truly needs one, add it to this policy's config allowNamespaces (and to the store's conditions).",
        configSchema: {
            properties: {
                allowNamespaces: {
                    type: "array",
                    items: { type: "string" },
                    default: [names.appNamespace],
                    description: "Namespaces besides x1agent-ws-* where ExternalSecrets may live.",
                },
            },
        },
    },
    (r, { report, config }) => {
        if (!isExternalSecret(r)) return;
        const m = meta(r);
        if (workspaceIdOf(m.namespace) !== undefined || config.allowNamespaces.includes(m.namespace)) return;
        report(
            `ExternalSecret ${m.namespace}/${m.name} is in namespace ${m.namespace}; ExternalSecrets may only live in x1agent-ws-<id> workspaces ` +
                `or ${config.allowNamespaces.join(", ") || "(no other namespace)"}: move it to the workspace that uses it, or add ${m.namespace} to allowNamespaces in this policy's config`,
        );
    },
);
