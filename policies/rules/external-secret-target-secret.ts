import type { IExternalSecretTarget } from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import { resourcePolicy } from "../lib/policy";
import { describe } from "../lib/resources";
import { externalSecretSpec } from "../lib/stores";
import { tokenType } from "./no-service-account-token-secrets";

/**
 * What an ExternalSecret writes is an ordinary Secret in its own namespace.
 * `target.manifest` (ESO's generic targets) writes the values into a
 * ConfigMap or any other resource instead, readable by everyone with `view`
 * and never encrypted at rest; a template of type
 * kubernetes.io/service-account-token makes the token controller fill the
 * Secret with a long-lived token of the ServiceAccount its annotation names.
 */
export const externalSecretTargetSecret = resourcePolicy(
    {
        name: "external-secret-target-secret",
        family: "secret-scoping",
        description:
            "ExternalSecrets (and ClusterExternalSecrets) write an ordinary Secret: no target.manifest (a ConfigMap or other resource), no template of type kubernetes.io/service-account-token.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Remove spec.target.manifest: secret values belong in a Secret, which Kubernetes encrypts at rest and view cannot read.\n" +
            `2. Remove spec.target.template.type ${tokenType}; materialize an Opaque Secret (the default).`,
    },
    (r, { report }) => {
        const es = externalSecretSpec(r);
        if (!es) return;
        const at = `${es.at}.target`;
        // target.manifest (a generic target) is in the CRDs of the chart we ship but newer than the models: typed here.
        const target: (IExternalSecretTarget & { manifest?: { kind?: string } }) | undefined = es.spec?.target;
        const manifest = target?.manifest;
        if (manifest !== undefined) {
            report(
                `${describe(r)} sets ${at}.manifest (${manifest.kind ?? "a generic target"}): the values would land outside a Secret, readable by view and unencrypted at rest; remove it and let ESO write a Secret`,
            );
        }
        if (target?.template?.type === tokenType) {
            report(
                `${describe(r)} sets ${at}.template.type ${tokenType}: the Secret it writes would be filled with a long-lived ServiceAccount token; remove the type (Opaque is the default)`,
            );
        }
    },
);
