import { kindPolicy } from "../lib/kind-policy";
import { meta } from "../lib/resources";
import { names } from "../lib/names";

/**
 * The Tier 1 store reads Secrets with the Kubernetes provider. It must read
 * only x1agent-secrets (ESO's default remoteNamespace is `default`), as the
 * eso-reader ServiceAccount of that namespace. On a ClusterSecretStore a
 * serviceAccount without an explicit namespace resolves in the namespace of
 * each ExternalSecret: any workspace's own ServiceAccount named eso-reader
 * would become the reader.
 *
 * Remediation fills in only missing fields, with the one correct value
 * (remoteNamespace and the ServiceAccount's namespace: x1agent-secrets).
 */
export const tier1StoreReadsOnlySecretsNamespace = kindPolicy(
    "external-secrets.io/ClusterSecretStore",
    {
        name: "tier1-store-reads-only-secrets-namespace",
        family: "secret-scoping",
        description: "A Kubernetes-provider store reads only x1agent-secrets, as a ServiceAccount whose namespace is set explicitly to x1agent-secrets.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Set spec.provider.kubernetes.remoteNamespace: ${names.secretsNamespace}.\n` +
            `2. Authenticate with auth.serviceAccount: { name: ${names.esoReader}, namespace: ${names.secretsNamespace} } (the namespace explicitly), not a token or client certificate.`,
    },
    (store, r, { report }) => {
        const k = store.spec?.provider?.kubernetes;
        if (k === undefined) return;
        const name = meta(r).name;
        const remote = k.remoteNamespace;
        if (remote !== names.secretsNamespace) {
            report(
                `ClusterSecretStore ${name} reads Secrets from namespace ${remote === undefined ? "default (remoteNamespace is unset; ESO's default)" : String(remote)}: ` +
                    `Tier 1 values live only in ${names.secretsNamespace}; set spec.provider.kubernetes.remoteNamespace: ${names.secretsNamespace}`,
            );
        }
        const auth = k.auth ?? {};
        const sa = auth.serviceAccount;
        for (const other of ["token", "cert"] as const) {
            if (auth[other] !== undefined) {
                report(
                    `ClusterSecretStore ${name} authenticates with auth.${other} (a long-lived credential in a Secret): use auth.serviceAccount { name: ${names.esoReader}, namespace: ${names.secretsNamespace} } instead`,
                );
            }
        }
        if (sa === undefined) {
            report(`ClusterSecretStore ${name} has no auth.serviceAccount: authenticate as { name: ${names.esoReader}, namespace: ${names.secretsNamespace} }`);
            return;
        }
        const saNamespace = sa.namespace;
        if (saNamespace === undefined) {
            report(
                `ClusterSecretStore ${name}: auth.serviceAccount ${sa.name} has no namespace, so ESO resolves it in each ExternalSecret's namespace ` +
                    `(a workspace could supply its own): set auth.serviceAccount.namespace: ${names.secretsNamespace}`,
            );
        } else if (saNamespace !== names.secretsNamespace) {
            report(
                `ClusterSecretStore ${name}: auth.serviceAccount is in namespace ${String(saNamespace)}; the reader must be the ServiceAccount in ${names.secretsNamespace}`,
            );
        }
    },
    (store, r) => {
        const k = store.spec?.provider?.kubernetes;
        if (k === undefined) return undefined;
        let changed = false;
        // In place: see cluster-secret-store-scoped for why props are not copied.
        if (k.remoteNamespace === undefined) {
            k.remoteNamespace = names.secretsNamespace;
            changed = true;
        }
        if (k.auth?.serviceAccount !== undefined && k.auth.serviceAccount.namespace === undefined) {
            k.auth.serviceAccount.namespace = names.secretsNamespace;
            changed = true;
        }
        return changed ? r.props : undefined;
    },
);
