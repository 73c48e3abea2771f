import { isReferenceValue, isSensitiveName, redacted, secretLookingValue } from "../lib/patterns";
import { kindPolicy } from "../lib/kind-policy";
import { describe, entriesOf, failUnknown, UNKNOWN } from "../lib/resources";

/**
 * ConfigMaps are readable by anyone who can read the namespace's config and
 * are never encrypted at rest: no key named like a credential carries a
 * value, and no value looks like a private key, token or URL with a
 * password. Unknown values are skipped by the pattern scan (they are not
 * text yet) but a credential-named key with an unknown value fails closed.
 */
export const configmapNoSecrets = kindPolicy(
    "core/ConfigMap",
    {
        name: "configmap-no-secrets",
        family: "no-plaintext-secrets",
        description: "ConfigMaps carry no secret values: no credential-named key with a value, no value shaped like a key, token or password URL.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Move the value into a Secret (or an ExternalSecret in workspaces) and reference it with secretKeyRef or a Secret volume.\n" +
            "2. Keep in the ConfigMap only where the credential is: a Secret name, a file path.",
    },
    (configMap, r, { report }) => {
        const data = configMap.data;
        for (const [key, value] of entriesOf(data)) {
            if (value === UNKNOWN) {
                if (isSensitiveName(key)) failUnknown(data, key);
                continue;
            }
            if (typeof value !== "string") continue;
            if (isSensitiveName(key) && !isReferenceValue(value)) {
                report(`${describe(r)} data.${key} holds a credential (${redacted(value)}) by its name: ConfigMaps are not secret; move it to a Secret`);
                continue;
            }
            const looks = secretLookingValue(value);
            if (looks) report(`${describe(r)} data.${key} contains what looks like ${looks} (${redacted(value)}): move it to a Secret`);
        }
    },
);
