/**
 * The escape set (docs/threat-model.md): objects an attacker who can add to
 * the program would add to reach a Secret around the rules the pack checked
 * before, each aimed at workspace `demo` of the local stack. They are
 * rendered by their own Kubernetes provider (no cluster), next to the real
 * program, so the real engine and the real pack see them in one preview.
 * Each names, in a comment, the path it takes and the policy that must
 * refuse it.
 */
import * as k8s from "@pulumi/kubernetes";

export function addEscapes(renderDir: string): void {
    const opts = { provider: new k8s.Provider("escapes-k8s", { renderYamlToDirectory: renderDir }) };
    const ws = "x1agent-ws-demo";
    const custom = (name: string, apiVersion: string, kind: string, namespace: string | undefined, spec: Record<string, unknown>) =>
        new k8s.apiextensions.CustomResource(name, { apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec }, opts);
    const hardened = {
        image: "ghcr.io/x1agent/session:1.0.0",
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        },
    };

    // E2: a workspace store without auth reads with ESO's own AWS identity (eso-kind-allowed).
    custom("escape-secret-store", "external-secrets.io/v1", "SecretStore", ws, { provider: { aws: { service: "SecretsManager", region: "us-east-1" } } });
    // E10: ExternalSecrets into every workspace, outside the per-workspace prefix rule (eso-kind-allowed).
    custom("escape-cluster-external-secret", "external-secrets.io/v1", "ClusterExternalSecret", undefined, {
        namespaceSelectors: [{ matchExpressions: [{ key: "x1agent.dev/workspace", operator: "Exists" }] }],
        externalSecretSpec: { secretStoreRef: { kind: "ClusterSecretStore", name: "x1-local" }, dataFrom: [{ extract: { key: "demo-anthropic" } }] },
    });
    // E13 and E5: AWS session credentials of ESO's identity, and an ExternalSecret that materializes them
    // (eso-kind-allowed, external-secret-store-allowed).
    custom("escape-sts-token", "generators.external-secrets.io/v1alpha1", "STSSessionToken", ws, { region: "us-east-1" });
    custom("escape-generated", "external-secrets.io/v1", "ExternalSecret", ws, {
        secretStoreRef: { kind: "ClusterSecretStore", name: "x1-local" },
        target: { name: "escape-generated" },
        dataFrom: [
            { sourceRef: { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: "STSSessionToken", name: "escape-sts-token" } } },
        ],
    });
    // E4: a find whose path looks scoped; ESO's Kubernetes provider ignores the path and lists every Tier 1 Secret
    // (external-secret-remote-key-prefix).
    custom("escape-find-all", "external-secrets.io/v1", "ExternalSecret", ws, {
        secretStoreRef: { kind: "ClusterSecretStore", name: "x1-local" },
        target: { name: "escape-find-all" },
        dataFrom: [{ find: { path: "demo-", name: { regexp: ".*" } } }],
    });
    // E7: the target becomes a long-lived token of a ServiceAccount of the workspace (external-secret-target-secret).
    custom("escape-token-template", "external-secrets.io/v1", "ExternalSecret", ws, {
        secretStoreRef: { kind: "ClusterSecretStore", name: "x1-local" },
        target: {
            name: "escape-token",
            template: { type: "kubernetes.io/service-account-token", metadata: { annotations: { "kubernetes.io/service-account.name": "default" } } },
        },
        data: [{ secretKey: "token", remoteRef: { key: "demo-anthropic" } }],
    });
    // R19: a data-less token Secret for the api, which the literal-secret check passes (no-service-account-token-secrets).
    new k8s.core.v1.Secret(
        "escape-api-token",
        {
            metadata: { name: "escape-api-token", namespace: "x1agent", annotations: { "kubernetes.io/service-account.name": "x1agent-api" } },
            type: "kubernetes.io/service-account-token",
        },
        opts,
    );
    // R4, R6: exec into pods and mint tokens, given to the session ServiceAccount (rbac-no-indirect-secret-access).
    new k8s.rbac.v1.Role(
        "escape-debug-role",
        {
            metadata: { name: "escape-debug", namespace: ws },
            rules: [
                { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] },
                { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] },
            ],
        },
        opts,
    );
    new k8s.rbac.v1.RoleBinding(
        "escape-debug-binding",
        {
            metadata: { name: "escape-debug", namespace: ws },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "escape-debug" },
            subjects: [{ kind: "ServiceAccount", name: "x1agent-session", namespace: ws }],
        },
        opts,
    );
    // R17: Secret reads aggregated into the built-in view, which every other check treats as safe (rbac-no-indirect-secret-access).
    new k8s.rbac.v1.ClusterRole(
        "escape-aggregated-view",
        {
            metadata: { name: "escape-aggregated-view", labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } },
            rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }],
        },
        opts,
    );
    // P1: the kubelet's pod directory, every Secret mounted on the node (workspace-pod-confined).
    new k8s.core.v1.Pod(
        "escape-host-path",
        {
            metadata: { name: "escape-host-path", namespace: ws },
            spec: {
                serviceAccountName: "x1agent-session",
                containers: [{ name: "main", ...hardened, volumeMounts: [{ name: "pods", mountPath: "/host-pods", readOnly: true }] }],
                volumes: [{ name: "pods", hostPath: { path: "/var/lib/kubelet/pods" } }],
            },
        },
        opts,
    );
    // P6: a pod in x1agent-secrets as eso-reader reads every Tier 1 value (secrets-namespace-no-workloads).
    new k8s.apps.v1.Deployment(
        "escape-secrets-namespace",
        {
            metadata: { name: "escape-dump", namespace: "x1agent-secrets" },
            spec: {
                selector: { matchLabels: { app: "escape-dump" } },
                template: {
                    metadata: { labels: { app: "escape-dump" } },
                    spec: {
                        serviceAccountName: "eso-reader",
                        containers: [
                            {
                                name: "main",
                                ...hardened,
                                readinessProbe: { httpGet: { path: "/readyz", port: 8080 } },
                                livenessProbe: { httpGet: { path: "/healthz", port: 8080 } },
                            },
                        ],
                    },
                },
            },
        },
        opts,
    );
}
