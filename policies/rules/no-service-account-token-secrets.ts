import { kindPolicy } from "../lib/kind-policy";
import { describe } from "../lib/resources";

export const tokenType = "kubernetes.io/service-account-token";
const accountAnnotation = "kubernetes.io/service-account.name";

/**
 * A Secret of type kubernetes.io/service-account-token, annotated with a
 * ServiceAccount's name, is filled by the token controller with a token of
 * that account that never expires: whoever can mount or read the Secret acts
 * as the account (eso-reader reads every Tier 1 value; x1agent-api holds the
 * cloud identity). It needs no data, so no literal-secret check sees it.
 * x1agent uses short-lived projected tokens only (an ExternalSecret asking
 * for such a Secret: external-secret-target-secret).
 */
export const noServiceAccountTokenSecrets = kindPolicy(
    "core/Secret",
    {
        name: "no-service-account-token-secrets",
        family: "secret-scoping",
        description:
            "No Secret of type kubernetes.io/service-account-token: the token controller fills it with a long-lived token of the ServiceAccount it names.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Delete the token Secret: pods get short-lived tokens through a projected serviceAccountToken volume (or automountServiceAccountToken), and only where the ServiceAccount needs the API.\n" +
            "2. For a token outside the cluster, request it with the TokenRequest API (kubectl create token <sa> --duration=...), never as a Secret.",
    },
    (secret, r, { report }) => {
        if (secret.type !== tokenType) return;
        const account = secret.metadata?.annotations?.[accountAnnotation];
        report(
            `${describe(r)} is a ${tokenType} Secret${account === undefined ? "" : ` for ServiceAccount ${String(account)}`}: the token controller fills it with a token that never expires; ` +
                "delete it and use projected serviceAccountToken volumes (short-lived) where a pod needs the API",
        );
    },
);
