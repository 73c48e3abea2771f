import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels, names } from "../names";

export interface AppRuntimeArgs {
    /** The validated stack config; the runtime reads api, images, observability, secrets. */
    config: StackConfig;
    /** Annotations for the api ServiceAccount (cloud workload identity). */
    apiServiceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The x1agent application runtime: the `x1agent` namespace, the api's
 * ServiceAccount (the subject of cloud workload identity and Vault auth), and
 * the api Deployment and Service.
 */
export class AppRuntime extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly apiServiceAccount: pulumi.Output<string>;

    constructor(name: string, args: AppRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:AppRuntime", name, args, opts);
        const { config } = args;
        const labels = commonLabels("runtime");

        const ns = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: names.appNamespace,
                    labels: { ...labels, "pod-security.kubernetes.io/enforce": "restricted" },
                },
            },
            { parent: this },
        );
        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-api-sa`,
            {
                metadata: {
                    name: names.apiServiceAccount,
                    namespace: ns.metadata.name,
                    labels,
                    annotations: args.apiServiceAccountAnnotations,
                },
            },
            { parent: this },
        );

        const apiLabels = { ...labels, "app.kubernetes.io/name": "x1agent-api" };
        const image = config.images.api;
        new k8s.apps.v1.Deployment(
            `${name}-api`,
            {
                metadata: { name: "x1agent-api", namespace: ns.metadata.name, labels: apiLabels },
                spec: {
                    replicas: config.api.replicas,
                    selector: { matchLabels: { "app.kubernetes.io/name": "x1agent-api" } },
                    template: {
                        metadata: { labels: apiLabels },
                        spec: {
                            serviceAccountName: sa.metadata.name,
                            securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
                            containers: [
                                {
                                    name: "api",
                                    image: `${config.images.registry}/${image.repository}${image.digest ? `@${image.digest}` : `:${image.tag}`}`,
                                    ports: [{ name: "http", containerPort: 8080 }],
                                    env: [
                                        { name: "X1AGENT_SECRETS_STORE", value: config.secrets.storeName },
                                        { name: "X1AGENT_SECRETS_UI_MODE", value: config.secrets.uiMode },
                                        { name: "X1AGENT_LOG_LEVEL", value: config.observability.logLevel },
                                    ],
                                    resources: config.api.resources,
                                    securityContext: {
                                        allowPrivilegeEscalation: false,
                                        readOnlyRootFilesystem: true,
                                        capabilities: { drop: ["ALL"] },
                                    },
                                    livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
                                    readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
                                },
                            ],
                        },
                    },
                },
            },
            { parent: this },
        );
        new k8s.core.v1.Service(
            `${name}-api-service`,
            {
                metadata: { name: "x1agent-api", namespace: ns.metadata.name, labels: apiLabels },
                spec: { selector: { "app.kubernetes.io/name": "x1agent-api" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
            },
            { parent: this },
        );

        this.namespace = ns.metadata.name;
        this.apiServiceAccount = sa.metadata.name;
        this.registerOutputs({ namespace: this.namespace, apiServiceAccount: this.apiServiceAccount });
    }
}
