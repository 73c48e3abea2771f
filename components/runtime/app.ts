import * as pulumi from "@pulumi/pulumi";
import { type RuntimeWorkloadArgs, runtimeWorkloadArgs, tokenlessDeployment } from "./deployment";
import type { WorkloadConfig } from "./workload";

export interface AppArgs extends RuntimeWorkloadArgs {
    /** The stack's `app`: replicas, resources, hpa, grace period. */
    app: WorkloadConfig;
}

/**
 * The x1agent web app: a stateless Deployment and Service behind the
 * Ingress. It reads no Secret and never calls the Kubernetes API, so its
 * own ServiceAccount mounts no token.
 */
export class App extends pulumi.ComponentResource {
    public readonly serviceName: pulumi.Output<string> | undefined;

    constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:App", name, args, opts);
        const app = { ...runtimeWorkloadArgs(args), role: "app", workload: args.app, container: { name: "app", image: "app" } } as const;
        this.serviceName = tokenlessDeployment(name, app, this).serviceName;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
