import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { HardenedDeployment } from "./deployment";
import { imageRef, type PodWiring, runtimeNames, tokenlessServiceAccount, type WorkloadConfig } from "./workload";

export interface WorkerArgs {
    /** The stack's `worker`: replicas, resources, hpa, grace period. */
    worker: WorkloadConfig;
    /** The stack's `images`: the worker runs the api image. */
    images: StackConfig["images"];
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
        super("x1agent:runtime:Worker", name, args, opts);
        const labels = { ...commonLabels("worker"), "app.kubernetes.io/name": runtimeNames.worker };

        const sa = tokenlessServiceAccount(`${name}-sa`, { name: runtimeNames.worker, namespace: args.namespace, labels }, this);
        const deployment = new HardenedDeployment(
            `${name}-workload`,
            {
                namespace: args.namespace,
                appName: runtimeNames.worker,
                labels,
                workload: args.worker,
                container: { name: "worker", image: imageRef(args.images, "api"), args: ["worker"] },
                wiring: args.wiring,
                serviceAccountName: sa.metadata.name,
                automountServiceAccountToken: false,
                configData: args.configData,
                imagePullSecrets: args.images.pullSecrets,
                service: false,
            },
            { parent: this },
        );

        this.deploymentName = deployment.deploymentName;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}
