import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import {
    type ContainerArgs,
    hardenedPodTemplate,
    type ImageName,
    imageRef,
    mayRunSeveral,
    noWiring,
    type PodWiring,
    ports,
    reloaderAnnotations,
    runtimeLabels,
    runtimeNames,
    tokenlessServiceAccount,
    type WorkloadConfig,
} from "./workload";

/** What the api, the app and the worker are each given besides their own section of the stack config. */
export interface RuntimeWorkloadArgs {
    /** The stack's `images`: the workload's image, the registry and pull Secrets. */
    images: StackConfig["images"];
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The `RuntimeWorkloadArgs` of a component's args (without its other keys, which the Deployment does not read). */
export function runtimeWorkloadArgs({ images, namespace, configData }: RuntimeWorkloadArgs): RuntimeWorkloadArgs {
    return { images, namespace, configData };
}

export interface HardenedDeploymentArgs extends RuntimeWorkloadArgs {
    /** Which workload: the objects are `runtimeNames[role]`, labelled `runtimeLabels(role)`. */
    role: "api" | "app" | "worker";
    /** The workload's stack config (`api`, `app` or `worker`): replicas, resources, hpa, grace period. */
    workload: WorkloadConfig;
    /** The one container, by what sets it apart: name, image (of `images`), args, its own env. Its resources are `workload.resources`. */
    container: Omit<ContainerArgs, "resources" | "image"> & { image: ImageName };
    /** Database, NATS, sign-in, object-storage wiring: env after the container's own, volumes, the Secrets read. Default none. */
    wiring?: PodWiring;
    /** The pods' ServiceAccount. */
    serviceAccountName: pulumi.Input<string>;
    /** Mount its token: only for pods that call the Kubernetes API (the api). */
    automountServiceAccountToken: boolean;
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
        const appName = runtimeNames[args.role];
        const labels = runtimeLabels(args.role);
        const selector = { "app.kubernetes.io/name": appName };
        const metadata = { name: appName, namespace: args.namespace, labels };
        const template = hardenedPodTemplate({
            imagePullSecrets: args.images.pullSecrets,
            appName,
            labels,
            serviceAccountName: args.serviceAccountName,
            automountServiceAccountToken: args.automountServiceAccountToken,
            containers: [
                {
                    ...args.container,
                    image: imageRef(args.images, args.container.image),
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

/**
 * A runtime workload that never calls the Kubernetes API (the app, the
 * worker): its own ServiceAccount mounting no token (`<name>-sa`), and its
 * HardenedDeployment (`<name>-workload`), both children of `parent`.
 */
export function tokenlessDeployment(
    name: string,
    args: Omit<HardenedDeploymentArgs, "serviceAccountName" | "automountServiceAccountToken">,
    parent: pulumi.Resource,
): HardenedDeployment {
    const metadata = { name: runtimeNames[args.role], namespace: args.namespace, labels: runtimeLabels(args.role) };
    const sa = tokenlessServiceAccount(`${name}-sa`, metadata, parent);
    return new HardenedDeployment(`${name}-workload`, { ...args, serviceAccountName: sa.metadata.name, automountServiceAccountToken: false }, { parent });
}
