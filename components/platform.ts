import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/schema";
import { AppRuntime } from "./runtime/app-runtime";
import { SecretsBackend } from "./secrets/secrets-backend";

export interface PlatformArgs {
    /** The validated stack config (stacks/schema). */
    config: StackConfig;
}

/**
 * The whole x1agent installation on one cluster: the add-ons it depends on
 * and the application runtime, composed from stack config. Pass the
 * Kubernetes provider (render-to-directory or a kube context) through
 * `providers`; every child inherits it.
 */
export class Platform extends pulumi.ComponentResource {
    public readonly tier: pulumi.Output<string>;
    public readonly storeName: pulumi.Output<string>;
    public readonly uiMode: pulumi.Output<string>;
    public readonly appNamespace: pulumi.Output<string>;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:index:Platform", name, args, opts);
        const { config } = args;

        const runtime = new AppRuntime(`${name}-runtime`, { config }, { parent: this });
        const secrets = new SecretsBackend(
            `${name}-secrets`,
            { secrets: config.secrets },
            // Vault authenticates the api's ServiceAccount: it must exist first.
            { parent: this, dependsOn: [runtime] },
        );

        this.tier = pulumi.output(config.secrets.tier);
        this.storeName = secrets.storeName;
        this.uiMode = secrets.uiMode;
        this.appNamespace = runtime.namespace;
        this.registerOutputs({ tier: this.tier, storeName: this.storeName, uiMode: this.uiMode, appNamespace: this.appNamespace });
    }
}
