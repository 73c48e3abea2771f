import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { withoutStackConfig } from "../inputs";
import { commonLabels } from "../names";
import { HardenedDeployment } from "./deployment";
import { hardenedPodTemplate, imageRef, runtimeNames } from "./workload";

export interface AppArgs {
    /** The validated stack config; reads `app`, `images`. */
    config: StackConfig;
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
    public readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:App", name, withoutStackConfig(args), opts);
        const { config } = args;
        const labels = { ...commonLabels("app"), "app.kubernetes.io/name": runtimeNames.app };

        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-sa`,
            { metadata: { name: runtimeNames.app, namespace: args.namespace, labels }, automountServiceAccountToken: false },
            { parent: this },
        );
        const template = hardenedPodTemplate({
            config,
            appName: runtimeNames.app,
            labels,
            serviceAccountName: sa.metadata.name,
            automountServiceAccountToken: false,
            containers: [{ name: "app", image: imageRef(config.images, "app"), resources: config.app.resources }],
            configData: args.configData,
            secrets: [],
            kind: "server",
            terminationGracePeriodSeconds: config.app.terminationGracePeriodSeconds,
        });
        const deployment = new HardenedDeployment(
            `${name}-workload`,
            { namespace: args.namespace, appName: runtimeNames.app, labels, workload: config.app, template, secrets: [], configMaps: [runtimeNames.configMap] },
            { parent: this },
        );

        this.serviceName = deployment.serviceName!;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
