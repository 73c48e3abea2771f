import { isReferenceValue, isSensitiveName, redacted, secretLookingValue } from "../lib/patterns";
import { resourcePolicy } from "../lib/policy";
import { entriesOf, failUnknown, get, UNKNOWN, workloadOf } from "../lib/resources";

/**
 * A credential in a pod's env comes from a Secret (`valueFrom.secretKeyRef`),
 * never a literal `value` (it would sit in the manifest, the state file and
 * every `kubectl get -o yaml`) and never a ConfigMap. Decided by the env
 * var's name first; any other literal value is scanned for secret shapes.
 * A sensitive name with a value unknown at preview fails closed.
 */
export const secretEnvFromSecretRef = resourcePolicy(
    {
        name: "secret-env-from-secret-ref",
        family: "no-plaintext-secrets",
        description:
            "Credential env vars (PASSWORD, TOKEN, API_KEY, SECRET, DSN, ...) come only from valueFrom.secretKeyRef; no env value looks like a secret.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Put the value in a Kubernetes Secret (kubectl create secret generic <name> --from-literal=<key>=...), or an ExternalSecret.\n" +
            "2. Replace `value:` with `valueFrom: { secretKeyRef: { name: <secret>, key: <key> } }` (in stack config: a { secretName, key } field).",
    },
    (r, { report }) => {
        for (const { c, at: where } of workloadOf(r)?.containers ?? []) {
            for (const e of c.env ?? []) {
                const name = String(e.name);
                const fields = new Map(entriesOf(e));
                const value = fields.get("value");
                const from = fields.get("valueFrom");
                if (isSensitiveName(name)) {
                    if (value === UNKNOWN) failUnknown(e, "value");
                    if (typeof value === "string" && !isReferenceValue(value)) {
                        report(
                            `${where} sets ${name} as a literal value (${redacted(value)}): a credential must come from a Secret; use valueFrom.secretKeyRef { name, key }`,
                        );
                    } else if (from !== undefined && get(from, "secretKeyRef") === undefined) {
                        const source = Object.keys(from as object)[0] ?? "valueFrom";
                        report(`${where} reads ${name} from ${source}, not a Secret: a credential must come from valueFrom.secretKeyRef { name, key }`);
                    }
                } else if (typeof value === "string") {
                    const looks = secretLookingValue(value);
                    if (looks)
                        report(
                            `${where} env ${name} has a literal value that looks like ${looks} (${redacted(value)}): move it to a Secret and use valueFrom.secretKeyRef`,
                        );
                }
            }
        }
    },
);
