/**
 * Fake resources shaped like what the program registers (type tokens and
 * props as a preview shows them), so each policy test starts from a
 * compliant object and changes the one thing the case is about.
 */
import type { FakeResource } from "./fakes";

export type Tier = "kubernetes" | "vault" | "aws" | "gcp" | "azure";

export const storeName: Record<Tier, string> = { kubernetes: "x1-local", vault: "x1-vault", aws: "x1-aws", gcp: "x1-gcp", azure: "x1-azure" };
export const defaultRegexes = ["^x1agent$", "^x1agent-ws-[a-z0-9]([-a-z0-9]*[a-z0-9])?$"];
const apiSa = { name: "x1agent-api", namespace: "x1agent" };

export function namespace(name: string, labels: Record<string, string> = {}, protect = false): FakeResource {
    return { type: "kubernetes:core/v1:Namespace", name: `ns-${name}`, props: { metadata: { name, labels } }, protect };
}

export function workspaceNamespace(id: string): FakeResource {
    return namespace(`x1agent-ws-${id}`, { "pod-security.kubernetes.io/enforce": "restricted", "x1agent.dev/workspace": id });
}

const providers: Record<Tier, Record<string, unknown>> = {
    kubernetes: {
        kubernetes: {
            remoteNamespace: "x1agent-secrets",
            server: { caProvider: { type: "ConfigMap", name: "kube-root-ca.crt", namespace: "x1agent-secrets", key: "ca.crt" } },
            auth: { serviceAccount: { name: "eso-reader", namespace: "x1agent-secrets" } },
        },
    },
    vault: {
        vault: {
            server: "https://vault.example.com",
            path: "secret",
            version: "v2",
            auth: { kubernetes: { mountPath: "kubernetes", role: "x1agent", serviceAccountRef: apiSa } },
        },
    },
    aws: { aws: { service: "SecretsManager", region: "us-east-1", auth: { jwt: { serviceAccountRef: apiSa } } } },
    gcp: {
        gcpsm: {
            projectID: "x1agent-staging",
            auth: {
                workloadIdentity: {
                    clusterLocation: "europe-west1",
                    clusterName: "x1agent-staging",
                    clusterProjectID: "x1agent-staging",
                    serviceAccountRef: apiSa,
                },
            },
        },
    },
    azure: { azurekv: { authType: "WorkloadIdentity", vaultUrl: "https://x1agent-prod.vault.azure.net", tenantId: "t", serviceAccountRef: apiSa } },
};

/** The program's ClusterSecretStore for a tier; `spec` entries replace the defaults. */
export function store(tier: Tier, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}, version = "v1"): FakeResource {
    return {
        type: `kubernetes:external-secrets.io/${version}:ClusterSecretStore`,
        name: `store-${tier}`,
        props: {
            apiVersion: `external-secrets.io/${version}`,
            kind: "ClusterSecretStore",
            metadata: { name: storeName[tier], labels: { "x1agent.dev/secrets-tier": tier, ...labels } },
            spec: { provider: providers[tier], conditions: [{ namespaceRegexes: defaultRegexes }], ...spec },
        },
    };
}

export function externalSecret(ns: string, name: string, store: string, keys: string[], extra: Record<string, unknown> = {}, version = "v1"): FakeResource {
    return {
        type: `kubernetes:external-secrets.io/${version}:ExternalSecret`,
        name: `es-${ns}-${name}`,
        props: {
            metadata: { name, namespace: ns },
            spec: {
                secretStoreRef: { kind: "ClusterSecretStore", name: store },
                target: { name },
                data: keys.map((key, i) => ({ secretKey: `k${i}`, remoteRef: { key } })),
                ...extra,
            },
        },
    };
}

/** The Platform component's registered outputs. */
export function platform(tier: Tier, overrides: Record<string, unknown> = {}): FakeResource {
    return {
        type: "x1agent:index:Platform",
        name: "x1agent",
        props: { tier, storeName: storeName[tier], uiMode: tier === "kubernetes" ? "capture" : "bind", appNamespace: "x1agent", ...overrides },
    };
}

export function etcdEncryption(output: Record<string, unknown> | string, top: Record<string, unknown> = {}): FakeResource {
    return { type: "x1agent:encryption:EtcdEncryption", name: "x1agent-etcd", props: { output, ...top } };
}

export interface ContainerOptions {
    name?: string;
    env?: Record<string, unknown>[];
    securityContext?: Record<string, unknown>;
    resources?: Record<string, unknown>;
    probes?: boolean;
}

export function container(o: ContainerOptions = {}): Record<string, unknown> {
    return {
        name: o.name ?? "main",
        image: "ghcr.io/x1agent/api:1.0.0",
        env: o.env ?? [],
        resources: o.resources ?? { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
        securityContext: o.securityContext ?? { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        ...(o.probes === false
            ? {}
            : { livenessProbe: { httpGet: { path: "/healthz", port: "http" } }, readinessProbe: { httpGet: { path: "/readyz", port: "http" } } }),
    };
}

export function deployment(
    ns: string,
    name: string,
    o: { replicas?: number; containers?: Record<string, unknown>[]; podSecurityContext?: Record<string, unknown> } = {},
): FakeResource {
    const labels = { "app.kubernetes.io/name": name };
    return {
        type: "kubernetes:apps/v1:Deployment",
        name: `deploy-${name}`,
        props: {
            metadata: { name, namespace: ns, labels },
            spec: {
                replicas: o.replicas ?? 1,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        securityContext: o.podSecurityContext ?? { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
                        containers: o.containers ?? [container()],
                    },
                },
            },
        },
    };
}

export function pdb(ns: string, name: string, matchLabels: Record<string, string>): FakeResource {
    return {
        type: "kubernetes:policy/v1:PodDisruptionBudget",
        name: `pdb-${name}`,
        props: { metadata: { name, namespace: ns }, spec: { maxUnavailable: 1, selector: { matchLabels } } },
    };
}

export function networkPolicy(ns: string, name: string, spec: Record<string, unknown>): FakeResource {
    return { type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name: `np-${ns}-${name}`, props: { metadata: { name, namespace: ns }, spec } };
}

export const defaultDeny = (ns: string) => networkPolicy(ns, "default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });

export function configMap(ns: string, name: string, data: Record<string, unknown>): FakeResource {
    return { type: "kubernetes:core/v1:ConfigMap", name: `cm-${name}`, props: { metadata: { name, namespace: ns }, data } };
}

export function rbac(
    kind: "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
    ns: string | undefined,
    name: string,
    body: Record<string, unknown>,
): FakeResource {
    return {
        type: `kubernetes:rbac.authorization.k8s.io/v1:${kind}`,
        name: `${kind}-${ns ?? "cluster"}-${name}`,
        props: { metadata: ns ? { name, namespace: ns } : { name }, ...body },
    };
}

export const readSecretsRule = { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] };

/** The IRSA pieces the identity component creates. */
export function irsaRole(
    condition: Record<string, unknown> = {
        StringEquals: {
            "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:x1agent:x1agent-api",
            "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        },
    },
): FakeResource {
    return {
        type: "aws:iam/role:Role",
        name: "x1agent-identity-role",
        props: {
            name: "x1agent-prod-x1agent-api",
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [
                    {
                        Effect: "Allow",
                        Principal: { Federated: "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC" },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: condition,
                    },
                ],
            }),
        },
    };
}

export function rolePolicy(
    statements: Record<string, unknown>[] = [
        { Sid: "ReadX1agentSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: ["arn:aws:secretsmanager:*:*:secret:x1agent/*"] },
    ],
): FakeResource {
    return {
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "x1agent-identity-secrets-policy",
        props: { role: "x1agent-prod-x1agent-api", name: "x1agent-secrets-read", policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }) },
    };
}

export function gcpIdentity(): FakeResource[] {
    return [
        { type: "gcp:serviceaccount/account:Account", name: "gsa", props: { accountId: "x1agent-staging-api", project: "x1agent-staging" } },
        {
            type: "gcp:serviceaccount/iAMMember:IAMMember",
            name: "wi-user",
            props: {
                role: "roles/iam.workloadIdentityUser",
                member: "serviceAccount:x1agent-staging.svc.id.goog[x1agent/x1agent-api]",
                serviceAccountId: "gsa",
            },
        },
        gcpProjectGrant(),
    ];
}

export function gcpProjectGrant(
    condition: Record<string, unknown> | null = {
        title: "x1agent secrets only",
        expression: 'resource.name.startsWith("projects/123456789/secrets/x1agent-")',
    },
    role = "roles/secretmanager.secretAccessor",
): FakeResource {
    return {
        type: "gcp:projects/iAMMember:IAMMember",
        name: "secret-accessor",
        props: {
            project: "x1agent-staging",
            role,
            member: "serviceAccount:x1agent-staging-api@x1agent-staging.iam.gserviceaccount.com",
            ...(condition ? { condition } : {}),
        },
    };
}

export const vaultId = "/subscriptions/s1/resourceGroups/rg-x1/providers/Microsoft.KeyVault/vaults/x1agent-prod";

export function azureRoleAssignment(scope = vaultId, roleGuid = "4633458b-17de-408a-b874-0445c86b69e6"): FakeResource {
    return {
        type: "azure-native:authorization:RoleAssignment",
        name: "kv-secrets-user",
        props: {
            principalId: "p",
            principalType: "ServicePrincipal",
            roleDefinitionId: `/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
            scope,
        },
    };
}

export function azureIdentity(): FakeResource[] {
    return [
        { type: "azure-native:managedidentity:UserAssignedIdentity", name: "uai", props: { resourceName: "x1agent-prod-x1agent-api" } },
        {
            type: "azure-native:managedidentity:FederatedIdentityCredential",
            name: "fic",
            props: { subject: "system:serviceaccount:x1agent:x1agent-api", audiences: ["api://AzureADTokenExchange"], issuer: "https://oidc.example" },
        },
        azureRoleAssignment(),
    ];
}
