import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { type DatabaseEndpoint, type NatsEndpoint, urlPort } from "./connections";
import { ports, runtimeNames } from "./workload";

export interface RuntimeNetworkPoliciesArgs {
    /** The stack's `network`: ingress controller and monitoring namespaces, the operator's namespace, egress CIDRs. */
    network: StackConfig["network"];
    /** Endpoints outside the namespace the pods send to (`observability.otlpEndpoint`, `proxy.url`): their ports are allowed out. */
    egressUrls: string[];
    /** The stack's `ingress`: an ACME issuer's HTTP-01 solver pods must be reachable. */
    ingress: StackConfig["ingress"];
    /** Which optional workloads run: the worker, maintenance CronJobs, backup CronJobs. Each gets its policy. */
    optional: { worker: boolean; maintenance: boolean; backup: boolean };
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Where NATS runs (pod labels and ports). */
    nats: NatsEndpoint;
    /** Where the bundled Postgres runs (pod labels and ports). */
    database: DatabaseEndpoint;
}

/**
 * NetworkPolicies for the `x1agent` namespace: deny everything, then allow
 * the few paths the runtime uses. DNS for every pod; the ingress controller
 * to the api and app; the app and session pods to the api; the api, worker
 * and jobs to NATS and Postgres; NATS and Postgres peers to each other; the
 * Postgres operator to its instances; metrics from the monitoring
 * namespaces; HTTPS out (Kubernetes API, sign-in, secrets backends, object
 * storage) for the pods that need it, through the proxy when one is set.
 */
export class RuntimeNetworkPolicies extends pulumi.ComponentResource {
    public readonly policyNames: pulumi.Output<string[]>;

    constructor(name: string, args: RuntimeNetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:RuntimeNetworkPolicies", name, args, opts);
        const { nats, database, optional } = args;
        const net = args.network;
        const labels = commonLabels("network");

        const app = (n: string) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": n } } });
        const fromNamespaces = (list: string[]): k8s.types.input.networking.v1.NetworkPolicyPeer[] =>
            list.length ? list.map((n) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": n } } })) : [{ namespaceSelector: {} }];
        const workspaces: k8s.types.input.networking.v1.NetworkPolicyPeer = {
            namespaceSelector: { matchExpressions: [{ key: runtimeNames.workspaceLabel, operator: "Exists" }] },
        };
        const natsPods: k8s.types.input.networking.v1.NetworkPolicyPeer = { podSelector: { matchLabels: nats.podSelector } };
        const dbPods: k8s.types.input.networking.v1.NetworkPolicyPeer = { podSelector: { matchLabels: database.podSelector } };

        // HTTPS out: Kubernetes API (443/6443), sign-in providers, secrets backends, object storage.
        const https: k8s.types.input.networking.v1.NetworkPolicyEgressRule = {
            ...(net.apiEgressCidrs.length ? { to: net.apiEgressCidrs.map((cidr) => ({ ipBlock: { cidr } })) } : {}),
            ports: [tcp(443), tcp(6443)],
        };
        // The OTLP collector and the proxy may be in-cluster or outside: allow their port to any destination.
        const telemetryAndProxy: k8s.types.input.networking.v1.NetworkPolicyEgressRule[] = args.egressUrls.map((u) => ({ ports: [tcp(urlPort(u))] }));
        const toNats: k8s.types.input.networking.v1.NetworkPolicyEgressRule = { to: [natsPods], ports: [tcp(nats.clientPort)] };
        const toDb: k8s.types.input.networking.v1.NetworkPolicyEgressRule = { to: [dbPods], ports: [tcp(database.port)] };
        const metricsFromMonitoring: k8s.types.input.networking.v1.NetworkPolicyIngressRule = {
            from: fromNamespaces(net.monitoringNamespaces),
            ports: [tcp(ports.metrics)],
        };

        const natsClients = [app(runtimeNames.api), app(runtimeNames.worker), app(runtimeNames.maintenance), workspaces];
        const dbClients = [app(runtimeNames.api), app(runtimeNames.worker), app(runtimeNames.maintenance), app(runtimeNames.backup), dbPods];

        const policies: Record<string, k8s.types.input.networking.v1.NetworkPolicySpec> = {
            "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
            "allow-dns": {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [
                            {
                                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                            },
                        ],
                        ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
                    },
                ],
            },
            api: {
                ...app(runtimeNames.api),
                policyTypes: ["Ingress", "Egress"],
                ingress: [
                    { from: [...fromNamespaces(net.ingressControllerNamespaces), app(runtimeNames.app), workspaces], ports: [tcp(ports.http)] },
                    metricsFromMonitoring,
                ],
                egress: [toNats, toDb, https, ...telemetryAndProxy],
            },
            app: {
                ...app(runtimeNames.app),
                policyTypes: ["Ingress", "Egress"],
                ingress: [{ from: fromNamespaces(net.ingressControllerNamespaces), ports: [tcp(ports.http)] }, metricsFromMonitoring],
                egress: [{ to: [app(runtimeNames.api)], ports: [tcp(ports.http)] }, ...telemetryAndProxy],
            },
            nats: {
                podSelector: { matchLabels: nats.podSelector },
                policyTypes: ["Ingress", "Egress"],
                ingress: [
                    { from: natsClients, ports: [tcp(nats.clientPort)] },
                    { from: [natsPods], ports: [tcp(nats.clusterPort)] },
                    { from: fromNamespaces(net.monitoringNamespaces), ports: [tcp(nats.monitorPort)] },
                ],
                egress: [{ to: [natsPods], ports: [tcp(nats.clusterPort)] }],
            },
            postgres: {
                podSelector: { matchLabels: database.podSelector },
                policyTypes: ["Ingress", "Egress"],
                ingress: [
                    { from: dbClients, ports: [tcp(database.port)] },
                    // The operator's manager checks and promotes instances.
                    { from: fromNamespaces([net.postgresOperatorNamespace]), ports: [tcp(database.operatorPort), tcp(database.port)] },
                    { from: fromNamespaces(net.monitoringNamespaces), ports: [tcp(9187)] },
                ],
                // Replication between instances; the instance manager talks to the Kubernetes API; WAL archive to object storage.
                egress: [{ to: [dbPods], ports: [tcp(database.port)] }, https],
            },
        };
        if (optional.worker) {
            policies.worker = {
                ...app(runtimeNames.worker),
                policyTypes: ["Ingress", "Egress"],
                ingress: [metricsFromMonitoring],
                egress: [toNats, toDb, https, ...telemetryAndProxy],
            };
        }
        if (optional.maintenance) {
            policies.maintenance = {
                ...app(runtimeNames.maintenance),
                policyTypes: ["Ingress", "Egress"],
                egress: [toNats, toDb, https, ...telemetryAndProxy],
            };
        }
        if (optional.backup) {
            policies.backup = { ...app(runtimeNames.backup), policyTypes: ["Ingress", "Egress"], egress: [toDb, https, ...telemetryAndProxy] };
        }
        if (args.ingress.enabled && args.ingress.issuer.type === "acme") {
            // cert-manager's HTTP-01 solver pods run in the Ingress's namespace and must be reachable from the controller.
            policies["acme-http01-solver"] = {
                podSelector: { matchLabels: { "acme.cert-manager.io/http01-solver": "true" } },
                policyTypes: ["Ingress"],
                ingress: [{ from: fromNamespaces(net.ingressControllerNamespaces), ports: [tcp(8089)] }],
            };
        }

        const created = Object.entries(policies).map(
            ([suffix, spec]) =>
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-${suffix}`,
                    { metadata: { name: `x1agent-${suffix}`, namespace: args.namespace, labels }, spec },
                    { parent: this },
                ),
        );
        this.policyNames = pulumi.all(created.map((p) => p.metadata.name));
        this.registerOutputs({ policyNames: this.policyNames });
    }
}

function tcp(port: number): k8s.types.input.networking.v1.NetworkPolicyPort {
    return { protocol: "TCP", port };
}
