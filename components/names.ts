/** Names every component agrees on; one place, so policies and tests can import them too. */
export const names = {
    /** The application namespace. */
    appNamespace: "x1agent",
    /** Tier 1: where Secrets live, privileged. */
    secretsNamespace: "x1agent-secrets",
    /** ESO's namespace. */
    esoNamespace: "external-secrets",
    /** The api's ServiceAccount; the subject of cloud workload identity. */
    apiServiceAccount: "x1agent-api",
    /** Tier 1 reader ServiceAccount. */
    esoReader: "eso-reader",
    /** Workspace namespace for a workspace id. */
    workspaceNamespace: (id: string) => `x1agent-ws-${id}`,
    workspaceNamespacePrefix: "x1agent-ws-",
} as const;

/** Labels on every object this program creates. */
export function commonLabels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "x1agent",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
    };
}
