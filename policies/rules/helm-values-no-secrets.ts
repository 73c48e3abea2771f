import { isReferenceValue, isSensitiveName, redacted, secretLookingValue } from "../lib/patterns";
import { resourcePolicy } from "../lib/policy";
import { get, leaves, UNKNOWN } from "../lib/resources";

const chartTypes = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"]);

/**
 * Helm values end up in the Pulumi state, the Helm release Secret and often
 * in rendered ConfigMaps: charts get credentials through `existingSecret`
 * style references, never as values. Structure first (a credential-named
 * key with a string value), then value shapes.
 */
export const helmValuesNoSecrets = resourcePolicy(
    {
        name: "helm-values-no-secrets",
        family: "no-plaintext-secrets",
        description: "Helm chart values (helm.v4.Chart, helm.v3.Release) carry no secret values: credentials are passed by Secret reference (existingSecret, secretName).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Create the credential as a Secret (or ExternalSecret) and pass its name through the chart's reference value (existingSecret, secretName, ...).\n" +
            "2. Remove the literal from addons.<name>.values in the stack config.",
    },
    (r, { report }) => {
        if (!chartTypes.has(r.type)) return;
        const values = get(r.props, "values");
        for (const { path, value } of leaves(values)) {
            const key = path[path.length - 1] ?? "";
            const where = `${r.type} '${r.name}' values.${path.join(".")}`;
            if (value === UNKNOWN) {
                if (isSensitiveName(key)) get(values, ...path); // raises the unknown-value violation
                continue;
            }
            if (typeof value !== "string") continue;
            if (isSensitiveName(key) && !isReferenceValue(value)) {
                report(`${where} is a credential by its name (${redacted(value)}): pass it by Secret reference (existingSecret/secretName), not as a value`);
                continue;
            }
            const looks = secretLookingValue(value);
            if (looks) report(`${where} looks like ${looks} (${redacted(value)}): pass it by Secret reference, not as a value`);
        }
    },
);
