/**
 * Names every component agrees on. The names themselves (namespaces, store
 * names per tier, the labels the policy pack reads) are defined once in the
 * policy pack's `policies/lib/names.ts`, which the pack needs without the
 * program; they are re-exported here for the components.
 */
export { addonNames, names } from "../policies/lib/names";

/** Labels on every object this program creates. */
export function commonLabels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "x1agent",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
    };
}

/** Namespace labels for Pod Security `restricted`: enforced at the latest version, and warned and audited too. */
export const restrictedPodSecurityLabels: Record<string, string> = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
};
