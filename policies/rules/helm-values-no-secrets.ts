import { isReferenceValue, isSensitiveName, redacted, secretLookingValue } from "../lib/patterns";
import { guarded, stackPolicy } from "../lib/policy";
import { failUnknown, get, leaves, UNKNOWN } from "../lib/resources";

const chartTypes = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"]);
const addonPrefix = "x1agent:addons:";

/**
 * Helm values end up in the Pulumi state, the Helm release Secret and often
 * in rendered ConfigMaps: charts get credentials through `existingSecret`
 * style references, never as values. Structure first (a credential-named
 * key with a string value), then value shapes.
 *
 * Where the values are visible: a chart resource's `values` (helm.v3
 * Release; a helm.v4 Chart's inputs never reach policies, its props are
 * `{}`), and the `chartValues` output the add-on components
 * (`x1agent:addons:*`) register with what they pass to their chart.
 */
export const helmValuesNoSecrets = stackPolicy(
    {
        name: "helm-values-no-secrets",
        family: "no-plaintext-secrets",
        description:
            "Helm chart values (a helm.v3 Release's values, the chartValues the add-on components register) carry no secret values: credentials are passed by Secret reference (existingSecret, secretName).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Create the credential as a Secret (or ExternalSecret) and pass its name through the chart's reference value (existingSecret, secretName, ...).\n" +
            "2. Remove the literal from addons.<name>.values in the stack config.",
    },
    (resources, { report }) => {
        for (const r of resources) {
            const field = chartTypes.has(r.type) ? "values" : r.type.startsWith(addonPrefix) ? "chartValues" : undefined;
            if (!field) continue;
            guarded(r, report, () => {
                const values = get(r.props, field);
                if (values === undefined) return;
                for (const { path, value } of leaves(values)) {
                    const key = path[path.length - 1] ?? "";
                    const where = `${r.type} '${r.name}' ${field}.${path.join(".")}`;
                    if (value === UNKNOWN) {
                        if (isSensitiveName(key)) failUnknown(values, ...path);
                        continue;
                    }
                    if (typeof value !== "string") continue;
                    if (isSensitiveName(key) && !isReferenceValue(value)) {
                        report(
                            `${where} is a credential by its name (${redacted(value)}): pass it by Secret reference (existingSecret/secretName), not as a value`,
                            r.urn,
                        );
                        continue;
                    }
                    const looks = secretLookingValue(value);
                    if (looks) report(`${where} looks like ${looks} (${redacted(value)}): pass it by Secret reference, not as a value`, r.urn);
                }
            });
        }
    },
);
