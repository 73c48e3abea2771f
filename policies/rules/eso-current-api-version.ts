import { resourcePolicy } from "../lib/policy";
import { describe, k8sType } from "../lib/resources";
import { esoGroup } from "../lib/stores";

/** The ESO API version this program writes; v1beta1 is no longer served by ESO 0.17 and later. */
export const currentEsoVersion = "v1";

/**
 * External Secrets objects use the current API version. A v1beta1 object is
 * rejected by a current ESO (or silently converted by an old one), so a
 * store's conditions or an ExternalSecret's refs may not mean what they say.
 */
export const esoCurrentApiVersion = resourcePolicy(
    {
        name: "eso-current-api-version",
        family: "secret-scoping",
        description: "External Secrets Operator objects use apiVersion external-secrets.io/v1, not a deprecated version (v1beta1, v1alpha1).",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Change apiVersion to external-secrets.io/v1 (ClusterSecretStore, SecretStore, ExternalSecret, ClusterExternalSecret, PushSecret).\n" +
            "2. The v1 fields are the same as v1beta1's for everything this program uses; check the ESO upgrade notes for removed providers.",
    },
    (r, { report }) => {
        const t = k8sType(r.type);
        if (!t || t.group !== esoGroup || t.version === currentEsoVersion) return;
        report(
            `${describe(r)} uses external-secrets.io/${t.version}, a deprecated API version (not served by ESO 0.17 and later): write apiVersion: external-secrets.io/${currentEsoVersion}`,
        );
    },
);
