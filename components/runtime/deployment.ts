import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    type ContainerArgs,
    hardenedPodTemplate,
    mayRunSeveral,
    noWiring,
    type PodWiring,
    ports,
    reloaderAnnotations,
    runtimeNames,
    type WorkloadConfig,
} from "./workload";

export interface HardenedDeploymentArgs {
    /** Namespace of every object (the app namespace). */
    namespace: pulumi.Input<string>;
    /** Object name and `app.kubernetes.io/name` of the pods, e.g. `x1agent-api`. */
    appName: string;
    /** Labels on every object; the pod template carries them too. */
    labels: Record<string, string>;
    /** The workload's stack config (`api`, `app` or `worker`): replicas, resources, hpa, grace period. */
    workload: WorkloadConfig;
    /** The one container, by what sets it apart: name, image, args, its own env. Its resources are `workload.resources`. */
    container: Omit<ContainerArgs, "resources">;
    /** Database, NATS, sign-in, object-storage wiring: env after the container's own, volumes, the Secrets read. Default none. */
    wiring?: PodWiring;
    /** The pods' ServiceAccount. */
    serviceAccountName: pulumi.Input<string>;
    /** Mount its token: only for pods that call the Kubernetes API (the api). */
    automountServiceAccountToken: boolean;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** `images.pullSecrets`. */
    imagePullSecrets: string[];
    /** Expose `http` (80 -> 8080) and `metrics` (9090) through a ClusterIP Service of the same name. Default true. */
    service?: boolean;
}

/**
 * A stateless x1agent Deployment with what every one of them gets: the
 * hardened pod template (`hardenedPodTemplate`, a server pod: probes, drain,
 * zone spread) around its one container, a Service, a PodDisruptionBudget
 * when it can run more than one pod, and an autoscaling/v2 HPA when
 * `hpa.enabled` (which then owns the replica count). Reloader annotations
 * list the Secrets and the shared ConfigMap the pods read.
 */
export class HardenedDeployment extends pulumi.ComponentResource {
    public readonly deploymentName: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string> | undefined;

    constructor(name: string, args: HardenedDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:HardenedDeployment", name, args, opts);
        const { workload } = args;
        const wiring = args.wiring ?? noWiring();
        const selector = { "app.kubernetes.io/name": args.appName };
        const metadata = { name: args.appName, namespace: args.namespace, labels: args.labels };
        const template = hardenedPodTemplate({
            imagePullSecrets: args.imagePullSecrets,
            appName: args.appName,
            labels: args.labels,
            serviceAccountName: args.serviceAccountName,
            automountServiceAccountToken: args.automountServiceAccountToken,
            containers: [
                {
                    ...args.container,
                    resources: workload.resources,
                    env: [...(args.container.env ?? []), ...wiring.env],
                    volumeMounts: [...(args.container.volumeMounts ?? []), ...wiring.volumeMounts],
                },
            ],
            volumes: wiring.volumes,
            configData: args.configData,
            secrets: wiring.secrets,
            kind: "server",
            terminationGracePeriodSeconds: workload.terminationGracePeriodSeconds,
        });

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { ...metadata, annotations: reloaderAnnotations(wiring.secrets, [runtimeNames.configMap]) },
                spec: {
                    // With an HPA the count is its to own: a `replicas` here would reset it on every up.
                    ...(workload.hpa.enabled ? {} : { replicas: workload.replicas }),
                    revisionHistoryLimit: 5,
                    selector: { matchLabels: selector },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template,
                },
            },
            { parent: this },
        );

        let service: k8s.core.v1.Service | undefined;
        if (args.service ?? true) {
            service = new k8s.core.v1.Service(
                `${name}-service`,
                {
                    metadata,
                    spec: {
                        type: "ClusterIP",
                        selector,
                        ports: [
                            { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
                            { name: "metrics", port: ports.metrics, targetPort: "metrics", protocol: "TCP" },
                        ],
                    },
                },
                { parent: this },
            );
        }

        if (mayRunSeveral(workload)) {
            new k8s.policy.v1.PodDisruptionBudget(
                `${name}-pdb`,
                // One pod at a time: a node drain never takes the service down, and a single pod never blocks a drain.
                { metadata, spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
                { parent: this },
            );
        }

        if (workload.hpa.enabled) {
            new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                `${name}-hpa`,
                {
                    metadata,
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
                        minReplicas: workload.hpa.minReplicas,
                        maxReplicas: workload.hpa.maxReplicas,
                        metrics: [
                            {
                                type: "Resource",
                                resource: { name: "cpu", target: { type: "Utilization", averageUtilization: workload.hpa.targetCPUUtilization } },
                            },
                        ],
                    },
                },
                { parent: this },
            );
        }

        this.deploymentName = deployment.metadata.name;
        this.serviceName = service?.metadata.name;
        this.registerOutputs({ deploymentName: this.deploymentName, serviceName: this.serviceName });
    }
}
