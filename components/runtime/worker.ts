import * as pulumi from "@pulumi/pulumi";
import { type RuntimeWorkloadArgs, runtimeWorkloadArgs, tokenlessDeployment } from "./deployment";
import type { PodWiring, WorkloadConfig } from "./workload";

export interface WorkerArgs extends RuntimeWorkloadArgs {
    /** The stack's `worker`: replicas, resources, hpa, grace period. It runs the api image. */
    worker: WorkloadConfig;
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
        const worker = { ...runtimeWorkloadArgs(args), role: "worker" as const, workload: args.worker, wiring: args.wiring, service: false };
        const container = { name: "worker", image: "api" as const, args: ["worker"] };
        this.deploymentName = tokenlessDeployment(name, { ...worker, container }, this).deploymentName;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}
