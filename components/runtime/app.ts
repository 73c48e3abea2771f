import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { HardenedDeployment } from "./deployment";
import { imageRef, runtimeNames, tokenlessServiceAccount, type WorkloadConfig } from "./workload";

export interface AppArgs {
    /** The stack's `app`: replicas, resources, hpa, grace period. */
    app: WorkloadConfig;
    /** The stack's `images`: the app image, the registry and pull Secrets. */
    images: StackConfig["images"];
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
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
        const labels = { ...commonLabels("app"), "app.kubernetes.io/name": runtimeNames.app };

        const sa = tokenlessServiceAccount(`${name}-sa`, { name: runtimeNames.app, namespace: args.namespace, labels }, this);
        const deployment = new HardenedDeployment(
            `${name}-workload`,
            {
                namespace: args.namespace,
                appName: runtimeNames.app,
                labels,
                workload: args.app,
                container: { name: "app", image: imageRef(args.images, "app") },
                serviceAccountName: sa.metadata.name,
                automountServiceAccountToken: false,
                configData: args.configData,
                imagePullSecrets: args.images.pullSecrets,
            },
            { parent: this },
        );

        this.serviceName = deployment.serviceName;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
