import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { type SettledAddon, addonChart, mergeValues, upstreamCharts } from "./chart-source";

/**
 * The bundled database's names. The runtime reads them too (the DSN Secret
 * its pods mount, the pod labels its NetworkPolicies select), so they are
 * plain values it can be given before this component exists. CloudNativePG
 * names the application user's Secret `<cluster>-app` and labels the
 * instance pods `cnpg.io/cluster: <cluster>`.
 */
export const postgresNames = {
    operatorNamespace: "cnpg-system",
    cluster: "x1agent-postgres",
    database: "x1agent",
    owner: "x1agent",
    /** Written by the operator: username, password, host, port, dbname, uri, ... */
    appSecret: "x1agent-postgres-app",
} as const;

/** The bundled database as the runtime sees it: the Secret with its DSN, its pods, its ports. */
export interface DatabaseEndpoint {
    /** The operator-generated Secret and the key holding the DSN (used when postgres.connection is `bundled`). */
    bundledSecret: { secretName: string; key: string };
    podSelector: Record<string, string>;
    port: number;
    /** Port the operator reaches each instance's manager on. */
    operatorPort: number;
}

export interface PostgresArgs {
    /**
     * The stack's `addons.postgresOperator`: `install: false` when the
     * CloudNativePG operator already runs (the bundled Cluster is still
     * created), `chart` to override the pinned upstream chart, `values`
     * merged over ours.
     */
    addon: SettledAddon;
    /** The stack's `postgres`, with the derived `connection`. */
    postgres: StackConfig["postgres"];
    /** `images.registry`: the bundled database's image is pulled from there (air-gapped mirrors). */
    registry: string;
    /** The app namespace, as the runtime's Output: the bundled database runs there. */
    appNamespace: pulumi.Input<string>;
}

/**
 * The api's database. `bundled` runs PostgreSQL in the app namespace through
 * the CloudNativePG operator; otherwise the api connects to an external
 * database whose DSN is in a Secret the user created. Which one the api uses
 * follows one precedence, urlFile > url > bundled (settled in config), and
 * `bundled.enabled` only decides whether the in-cluster database exists.
 *
 * Why CloudNativePG: a CNCF project with a steady release cadence that runs
 * PostgreSQL the Kubernetes way (one Cluster object; failover, rolling minor
 * upgrades and backups by the operator), and it generates the application
 * user's credentials into a Secret (`x1agent-postgres-app`, with a ready `uri`), so
 * no password is ever written by this program. A hand-made StatefulSet would
 * leave credentials, failover and upgrades to us.
 *
 * pgvector: with `vectorEnabled`, the bundled database uses CloudNativePG's
 * `standard` image, which ships pgvector, and creates the extension in the
 * application database at bootstrap; an external database must have it
 * already, and the switch only tells the api.
 */
export class Postgres extends pulumi.ComponentResource {
    /** The bundled database's Secret, pods and ports: a reference to a Secret, never a value. */
    public readonly endpoint: pulumi.Output<DatabaseEndpoint>;
    /**
     * The Helm values given to the chart (ours merged with `addons.<name>.values`;
     * empty when the add-on is not installed). Registered so the policy pack's
     * `helm-values-no-secrets` can read them: a preview shows policies a
     * helm.v4.Chart's outputs, never its inputs.
     */
    public readonly chartValues: pulumi.Output<pulumi.Unwrap<Record<string, unknown>>>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:Postgres", name, args, opts);
        const { addon, postgres } = args;
        const labels = commonLabels("postgres");
        const chartValues = mergeValues(postgresOperatorValues, addon.values);
        const installsOperator = postgres.bundled.enabled && addon.install;

        if (postgres.bundled.enabled) {
            const operator: pulumi.Resource[] = [];
            if (addon.install) {
                const ns = new k8s.core.v1.Namespace(
                    `${name}-operator-namespace`,
                    { metadata: { name: postgresNames.operatorNamespace, labels } },
                    { parent: this },
                );
                const chart = addonChart(
                    `${name}-operator`,
                    {
                        addon,
                        pinned: upstreamCharts.postgresOperator,
                        release: "cnpg",
                        namespace: ns.metadata.name,
                        values: chartValues,
                    },
                    { parent: this },
                );
                operator.push(chart);
            }
            const flavour = postgres.vectorEnabled ? "standard" : "minimal";
            new k8s.apiextensions.CustomResource(
                `${name}-cluster`,
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: { name: postgresNames.cluster, namespace: args.appNamespace, labels },
                    spec: {
                        instances: postgres.bundled.instances,
                        imageName: postgres.bundled.image ?? `${args.registry}/cloudnative-pg/postgresql:17-${flavour}-trixie`,
                        storage: { size: postgres.bundled.storage },
                        // The operator creates the owner and writes its generated
                        // password into the `<cluster>-app` Secret.
                        bootstrap: {
                            initdb: {
                                database: postgresNames.database,
                                owner: postgresNames.owner,
                                ...(postgres.vectorEnabled ? { postInitApplicationSQL: ["CREATE EXTENSION IF NOT EXISTS vector"] } : {}),
                            },
                        },
                        enableSuperuserAccess: false,
                    },
                },
                // Same reasoning as cert-manager's resources: waits for the
                // operator chart's CRDs and webhook in up, previews without them.
                { parent: this, dependsOn: operator },
            );
        }

        this.endpoint = pulumi.output(bundledDatabaseEndpoint());
        this.chartValues = pulumi.output(installsOperator ? chartValues : {});
        this.registerOutputs({ endpoint: this.endpoint, chartValues: this.chartValues });
    }
}

/** The bundled database as CloudNativePG runs it; plain values, so the runtime can be given them before this component exists. */
export function bundledDatabaseEndpoint(): DatabaseEndpoint {
    return {
        bundledSecret: { secretName: postgresNames.appSecret, key: "uri" },
        podSelector: { "cnpg.io/cluster": postgresNames.cluster },
        port: 5432,
        operatorPort: 8000,
    };
}

/**
 * What x1agent sets in the CloudNativePG operator's chart (0.27.1): its CRDs
 * (`crds.create`), and requests and a memory limit for the operator (the
 * chart sets none: `resources: {}`). Its probes are the chart's own (GET
 * /readyz on the webhook port for startup, readiness and liveness).
 */
export const postgresOperatorValues = {
    crds: { create: true },
    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
};
