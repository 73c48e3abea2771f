import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/schema";
import { names } from "./names";
import { AppRuntime } from "./runtime/app-runtime";
import { Backups } from "./runtime/backup";
import { CaptureAccess } from "./runtime/capture-access";
import { SecretsBackend } from "./secrets/secrets-backend";
import { Workspaces } from "./workspaces/workspaces";

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
    /** The public URL, `https://<ingress.host>`. */
    public readonly url: pulumi.Output<string>;
    /** `x1agent-ws-<id>` per workspace, in config order. */
    public readonly workspaceNamespaces: pulumi.Output<string[]>;
    /**
     * The validated config that produced this deployment (defaults filled in),
     * for the portal. It holds no secret values: secret fields only name Secrets.
     */
    public readonly config: pulumi.Output<StackConfig>;

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

        const workspaces = new Workspaces(
            `${name}-workspaces`,
            {
                config,
                nats: runtime.nats,
                appNamespace: runtime.namespace,
                apiServiceAccount: runtime.apiServiceAccount,
                // ExternalSecrets name the store: it must exist first.
                dependsOn: [secrets.store],
            },
            { parent: this },
        );
        if (config.secrets.tier === "kubernetes") {
            new CaptureAccess(
                `${name}-capture`,
                { secretsNamespace: names.secretsNamespace, apiServiceAccount: runtime.apiServiceAccount, apiNamespace: runtime.namespace },
                // The Role lives in x1agent-secrets, which the secrets backend creates.
                { parent: this, dependsOn: [secrets] },
            );
        }
        if (config.backup.enabled) {
            new Backups(
                `${name}-backup`,
                { config, namespace: runtime.namespace, secretsNamespace: names.secretsNamespace, database: runtime.database, configData: runtime.configData },
                { parent: this, dependsOn: [secrets] },
            );
        }

        this.tier = pulumi.output(config.secrets.tier);
        this.storeName = secrets.storeName;
        this.uiMode = secrets.uiMode;
        this.appNamespace = runtime.namespace;
        this.url = runtime.url;
        this.workspaceNamespaces = workspaces.namespaces;
        this.config = pulumi.output(config);
        this.registerOutputs({
            tier: this.tier,
            storeName: this.storeName,
            uiMode: this.uiMode,
            appNamespace: this.appNamespace,
            url: this.url,
            workspaceNamespaces: this.workspaceNamespaces,
            config: this.config,
        });
    }
}
