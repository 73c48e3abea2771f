import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { mayRunSeveral, ports, reloaderAnnotations, type SecretUse } from "./workload";

export interface HardenedDeploymentArgs {
    /** Namespace of every object (the app namespace). */
    namespace: pulumi.Input<string>;
    /** Object name and `app.kubernetes.io/name` of the pods, e.g. `x1agent-api`. */
    appName: string;
    /** Labels on every object; the pod template carries them too. */
    labels: Record<string, string>;
    /** replicas, hpa and grace period from the stack config (`api`, `app` or `worker`). */
    workload: StackConfig["api"];
    /** The pod template (from `hardenedPodTemplate`). */
    template: k8s.types.input.core.v1.PodTemplateSpec;
    /** Secrets the pods read: listed for Reloader so an in-place value change rolls them. */
    secrets: SecretUse[];
    /** ConfigMaps the pods read, for Reloader. */
    configMaps: string[];
    /** Expose `http` (80 -> 8080) and `metrics` (9090) through a ClusterIP Service of the same name. Default true. */
    service?: boolean;
}

/**
 * A stateless x1agent Deployment with what every one of them gets: a
 * Service, a PodDisruptionBudget when it can run more than one pod, and an
 * autoscaling/v2 HPA when `hpa.enabled` (which then owns the replica count).
 */
export class HardenedDeployment extends pulumi.ComponentResource {
    public readonly deploymentName: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string> | undefined;

    constructor(name: string, args: HardenedDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:HardenedDeployment", name, args, opts);
        const { workload } = args;
        const selector = { "app.kubernetes.io/name": args.appName };
        const metadata = { name: args.appName, namespace: args.namespace, labels: args.labels };

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: { ...metadata, annotations: reloaderAnnotations(args.secrets, args.configMaps) },
                spec: {
                    // With an HPA the count is its to own: a `replicas` here would reset it on every up.
                    ...(workload.hpa.enabled ? {} : { replicas: workload.replicas }),
                    revisionHistoryLimit: 5,
                    selector: { matchLabels: selector },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: args.template,
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
                            { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: workload.hpa.targetCPUUtilization } } },
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
