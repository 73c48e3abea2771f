import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig, Workspace as WorkspaceConfig } from "../../stacks/schema";
import { natsClientCertificateUsages } from "../addons/nats";
import { metadataExcept } from "../../policies/lib/network";
import { commonLabels, names, restrictedPodSecurityLabels } from "../names";
import type { NatsEndpoint } from "../runtime/connections";
import type { IssuerRef } from "../runtime/ingress";
import { ports, runtimeNames } from "../runtime/workload";

export interface WorkspaceArgs {
    /** The workspace's entry in `workspaces`. */
    workspace: WorkspaceConfig;
    /** The ClusterSecretStore the workspace's ExternalSecrets read (`secrets.storeName`). */
    storeName: string;
    /** The stack's `sessions`: whether the session ServiceAccount mounts a token. */
    sessions: StackConfig["sessions"];
    /** `images.pullSecrets`: the session ServiceAccount pulls with them. */
    imagePullSecrets: string[];
    /** Where NATS runs; session pods may reach its client port. */
    nats: NatsEndpoint;
    /** The app namespace (NATS and the api run there). */
    appNamespace: pulumi.Input<string>;
    /** The api's ServiceAccount, which alone may manage session pods and jobs here. */
    apiServiceAccount: pulumi.Input<string>;
    /**
     * The NATS client CA issuer: each workspace gets its own client
     * certificate (CN `ws-<id>`) in Secret `x1agent-nats-client`. Must be a
     * ClusterIssuer to issue into this namespace. Unset: no certificate.
     */
    natsClientIssuer?: IssuerRef;
    /** The ClusterSecretStore (and ESO's CRDs) the ExternalSecrets need first. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One workspace: namespace `x1agent-ws-<id>` with Pod Security `restricted`
 * (enforce, warn, audit), a default-deny NetworkPolicy (ingress and egress)
 * plus the allowed paths (DNS in kube-system, NATS and the api in
 * `x1agent`, the workspace's `egressCidrs`), ResourceQuota and LimitRange,
 * the session ServiceAccount (no token, no RBAC), a Role letting the api's
 * ServiceAccount manage session pods and jobs here and nothing more (no
 * Secrets, no exec, no logs), and the workspace's ExternalSecrets against the
 * configured ClusterSecretStore. Pods here can mount only this namespace's
 * Secrets: the kubelet resolves secret volumes and env in the pod's own
 * namespace, and nothing here grants Secret access anywhere.
 */
export class Workspace extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: WorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:workspaces:Workspace", name, args, opts);
        const { workspace: ws } = args;
        const labels = {
            ...commonLabels("workspace"),
            [runtimeNames.workspaceLabel]: ws.id,
            ...(ws.team ? { "x1agent.dev/team": ws.team } : {}),
        };

        const ns = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: names.workspaceNamespace(ws.id),
                    labels: {
                        ...labels,
                        ...restrictedPodSecurityLabels,
                    },
                },
            },
            { parent: this },
        );
        const namespace = ns.metadata.name;
        const meta = (n: string) => ({ name: n, namespace, labels });
        const child = { parent: this };

        // Network: deny everything, then the few paths a session pod needs.
        const appNs: k8s.types.input.networking.v1.NetworkPolicyPeer = {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": names.appNamespace } },
        };
        const egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule[] = [
            {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                    },
                ],
                ports: [
                    { protocol: "UDP", port: 53 },
                    { protocol: "TCP", port: 53 },
                ],
            },
            { to: [{ ...appNs, podSelector: { matchLabels: args.nats.podSelector } }], ports: [{ protocol: "TCP", port: args.nats.clientPort }] },
            {
                to: [{ ...appNs, podSelector: { matchLabels: { "app.kubernetes.io/name": runtimeNames.api } } }],
                ports: [{ protocol: "TCP", port: ports.http }],
            },
        ];
        // A block that covers the cloud metadata endpoint excepts it: it hands out the node's cloud credentials.
        if (ws.egressCidrs.length) {
            egress.push({
                to: ws.egressCidrs.map((cidr) => ({ ipBlock: { cidr, ...(metadataExcept(cidr).length ? { except: metadataExcept(cidr) } : {}) } })),
            });
        }
        new k8s.networking.v1.NetworkPolicy(
            `${name}-default-deny`,
            { metadata: meta("default-deny"), spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
            child,
        );
        new k8s.networking.v1.NetworkPolicy(
            `${name}-allow-session-egress`,
            { metadata: meta("allow-session-egress"), spec: { podSelector: {}, policyTypes: ["Egress"], egress } },
            child,
        );

        new k8s.core.v1.ResourceQuota(
            `${name}-quota`,
            {
                metadata: meta("x1agent-workspace"),
                spec: {
                    hard: {
                        "requests.cpu": ws.quota.cpu,
                        "limits.cpu": ws.quota.cpu,
                        "requests.memory": ws.quota.memory,
                        "limits.memory": ws.quota.memory,
                        pods: String(ws.quota.pods),
                        // Session pods need no way in from outside the cluster.
                        "services.loadbalancers": "0",
                        "services.nodeports": "0",
                    },
                },
            },
            child,
        );
        new k8s.core.v1.LimitRange(
            `${name}-limits`,
            {
                metadata: meta("x1agent-workspace"),
                spec: {
                    limits: [
                        {
                            type: "Container",
                            defaultRequest: { cpu: ws.limits.defaultRequest.cpu, memory: ws.limits.defaultRequest.memory },
                            default: { cpu: ws.limits.default.cpu, memory: ws.limits.default.memory },
                            max: { cpu: ws.quota.cpu, memory: ws.quota.memory },
                        },
                    ],
                },
            },
            child,
        );

        new k8s.core.v1.ServiceAccount(
            `${name}-session-sa`,
            {
                metadata: meta(runtimeNames.sessionServiceAccount),
                automountServiceAccountToken: args.sessions.automountServiceAccountToken,
                ...(args.imagePullSecrets.length ? { imagePullSecrets: args.imagePullSecrets.map((n) => ({ name: n })) } : {}),
            },
            child,
        );

        // The api starts session pods and jobs here. No secrets (not even list), no exec/attach/portforward, no
        // logs: with those it could read a Secret through a pod. The session admission policy (Workspaces) keeps
        // what it creates to the session image and ServiceAccount.
        const role = new k8s.rbac.v1.Role(
            `${name}-api-role`,
            {
                metadata: meta("x1agent-api-sessions"),
                rules: [
                    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "delete", "deletecollection"] },
                    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch", "create", "delete", "deletecollection"] },
                    { apiGroups: [""], resources: ["events"], verbs: ["get", "list", "watch"] },
                ],
            },
            child,
        );
        new k8s.rbac.v1.RoleBinding(
            `${name}-api-binding`,
            {
                metadata: meta("x1agent-api-sessions"),
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: args.apiServiceAccount, namespace: args.appNamespace }],
            },
            child,
        );

        if (args.natsClientIssuer) {
            new k8s.apiextensions.CustomResource(
                `${name}-nats-client`,
                {
                    apiVersion: "cert-manager.io/v1",
                    kind: "Certificate",
                    metadata: meta(runtimeNames.natsClientSecret),
                    spec: {
                        secretName: runtimeNames.natsClientSecret,
                        commonName: `ws-${ws.id}`,
                        duration: "2160h",
                        renewBefore: "360h",
                        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                        usages: natsClientCertificateUsages,
                        issuerRef: { kind: args.natsClientIssuer.kind, name: args.natsClientIssuer.name, group: "cert-manager.io" },
                    },
                },
                { parent: this, dependsOn: args.dependsOn },
            );
        }

        for (const secret of ws.secrets) {
            new k8s.apiextensions.CustomResource(
                `${name}-secret-${secret.name}`,
                {
                    apiVersion: "external-secrets.io/v1",
                    kind: "ExternalSecret",
                    metadata: meta(secret.name),
                    spec: externalSecretSpec(args.storeName, secret),
                },
                { parent: this, dependsOn: args.dependsOn },
            );
        }

        this.namespace = namespace;
        this.registerOutputs({ namespace: this.namespace });
    }
}

/**
 * An ExternalSecret against the configured ClusterSecretStore. Capture mode
 * (Tier 1): `remoteKey` is a Secret in x1agent-secrets. Bind mode: the path
 * in the backend. `property` picks one key (materialized under that name);
 * without it every key of the remote secret is.
 */
export function externalSecretSpec(storeName: string, secret: WorkspaceConfig["secrets"][number]): Record<string, unknown> {
    return {
        refreshInterval: "1h",
        secretStoreRef: { kind: "ClusterSecretStore", name: storeName },
        target: { name: secret.name, creationPolicy: "Owner", deletionPolicy: "Retain" },
        ...(secret.property
            ? { data: [{ secretKey: secret.property, remoteRef: { key: secret.remoteKey, property: secret.property } }] }
            : { dataFrom: [{ extract: { key: secret.remoteKey } }] }),
    };
}
