import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { withoutStackConfig } from "../inputs";
import { commonLabels } from "../names";
import { HardenedDeployment } from "./deployment";
import { type PodWiring, hardenedPodTemplate, imageRef, runtimeNames } from "./workload";

export interface WorkerArgs {
    /** The validated stack config; reads `worker`, `images`. */
    config: StackConfig;
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Database, NATS and object-storage wiring (env, Secret mounts). */
    wiring: PodWiring;
}

/**
 * The optional background worker (the seeds' embedding worker): the api
 * image run as `worker`, its own resource profile, replicas, PDB and HPA. It
 * takes work from NATS and Postgres, serves only probes and metrics, and
 * mounts no ServiceAccount token.
 */
export class Worker extends pulumi.ComponentResource {
    public readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: WorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:Worker", name, withoutStackConfig(args), opts);
        const { config } = args;
        const labels = { ...commonLabels("worker"), "app.kubernetes.io/name": runtimeNames.worker };

        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-sa`,
            { metadata: { name: runtimeNames.worker, namespace: args.namespace, labels }, automountServiceAccountToken: false },
            { parent: this },
        );
        const template = hardenedPodTemplate({
            config,
            appName: runtimeNames.worker,
            labels,
            serviceAccountName: sa.metadata.name,
            automountServiceAccountToken: false,
            containers: [
                {
                    name: "worker",
                    image: imageRef(config.images, "api"),
                    args: ["worker"],
                    resources: config.worker.resources,
                    env: args.wiring.env,
                    volumeMounts: args.wiring.volumeMounts,
                },
            ],
            volumes: args.wiring.volumes,
            configData: args.configData,
            secrets: args.wiring.secrets,
            kind: "server",
            terminationGracePeriodSeconds: config.worker.terminationGracePeriodSeconds,
        });
        const deployment = new HardenedDeployment(
            `${name}-workload`,
            {
                namespace: args.namespace,
                appName: runtimeNames.worker,
                labels,
                workload: config.worker,
                template,
                secrets: args.wiring.secrets,
                configMaps: [runtimeNames.configMap],
                service: false,
            },
            { parent: this },
        );

        this.deploymentName = deployment.deploymentName;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}
