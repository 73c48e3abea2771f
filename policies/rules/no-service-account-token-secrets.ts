import { resourcePolicy } from "../lib/policy";
import { describe, get, isKind } from "../lib/resources";
import { esoGroup, isExternalSecret } from "../lib/stores";

const tokenType = "kubernetes.io/service-account-token";
const accountAnnotation = "kubernetes.io/service-account.name";

/**
 * A Secret of type kubernetes.io/service-account-token, annotated with a
 * ServiceAccount's name, is filled by the token controller with a token of
 * that account that never expires: whoever can mount or read the Secret acts
 * as the account (eso-reader reads every Tier 1 value; x1agent-api holds the
 * cloud identity). It needs no data, so no literal-secret check sees it. An
 * ExternalSecret can ask for the same by its target template's type.
 * x1agent uses short-lived projected tokens only.
 */
export const noServiceAccountTokenSecrets = resourcePolicy(
    {
        name: "no-service-account-token-secrets",
        family: "secret-scoping",
        description: "No Secret of type kubernetes.io/service-account-token (a long-lived token of a ServiceAccount), and no ExternalSecret whose target template asks for one.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Delete the token Secret: pods get short-lived tokens through a projected serviceAccountToken volume (or automountServiceAccountToken), and only where the ServiceAccount needs the API.\n" +
            "2. For a token outside the cluster, request it with the TokenRequest API (kubectl create token <sa> --duration=...), never as a Secret.",
    },
    (r, { report }) => {
        if (isKind(r, "core", "Secret")) {
            if (get(r.props, "type") !== tokenType) return;
            const account = get(r.props, "metadata", "annotations", accountAnnotation);
            report(
                `${describe(r)} is a ${tokenType} Secret${account === undefined ? "" : ` for ServiceAccount ${String(account)}`}: the token controller fills it with a token that never expires; ` +
                    "delete it and use projected serviceAccountToken volumes (short-lived) where a pod needs the API",
            );
            return;
        }
        const cluster = isKind(r, esoGroup, "ClusterExternalSecret");
        if (!isExternalSecret(r) && !cluster) return;
        const spec = cluster ? get(r.props, "spec", "externalSecretSpec") : get(r.props, "spec");
        if (get(spec, "target", "template", "type") === tokenType) {
            report(
                `${describe(r)} sets ${cluster ? "spec.externalSecretSpec" : "spec"}.target.template.type ${tokenType}: the Secret it writes would be filled with a long-lived ServiceAccount token; ` +
                    "remove the type (ExternalSecrets materialize Opaque Secrets)",
            );
        }
    },
);
