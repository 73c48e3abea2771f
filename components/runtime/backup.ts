import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { SettledBackup, SettledPostgres, StackConfig } from "../../stacks/schema";
import { commonLabels, names } from "../names";
import { type DatabaseEndpoint, databaseWiring, objectStorageWiring } from "./connections";
import { hardenedPodTemplate, imageRef, mergeWiring, noWiring, type PodWiring, runtimeNames, scheduledJobSpec, tokenlessServiceAccount } from "./workload";

export interface BackupsArgs {
    /** The stack's settled `backup`: schedule, retention, PVC size, resources, and the Tier 1 secrets export when there is Tier 1 data. */
    backup: SettledBackup;
    /** The stack's `objectStorage`: where backups go when a driver is set (else to PVCs). */
    objectStorage: StackConfig["objectStorage"];
    /** The stack's settled `postgres`: the connection the pg_dump job reads. */
    postgres: SettledPostgres;
    /** The stack's `images`: the backup image, the registry and pull Secrets. */
    images: StackConfig["images"];
    /** The app namespace, where the backup CronJobs and PVCs live. */
    namespace: pulumi.Input<string>;
    /** The Tier 1 secrets namespace (x1agent-secrets), whose Secrets the secrets backup may read. */
    secretsNamespace?: pulumi.Input<string>;
    /** Where the bundled Postgres's DSN Secret is (for a bundled connection). */
    database: DatabaseEndpoint;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Scheduled backups of the state the seeds name (`backup.enabled`):
 *
 * - Postgres: a `pg_dump` CronJob against the configured connection
 *   (urlFile > url > bundled), the bundled CloudNativePG database included
 *   (docs/parity.md says why not the operator's own ScheduledBackup).
 * - Tier 1 (or a migration away from it that is not done): the Secrets in
 *   `x1agent-secrets`, exported by a CronJob whose ServiceAccount may only
 *   get/list Secrets in that one namespace, encrypted to
 *   `backup.secretsRecipient` (age) before anything is written.
 *
 * Both write to `objectStorage` when a driver is set, else to a PVC kept
 * when the stack is destroyed. Tier 2/3 need no secrets backup: the backend
 * is the system of record.
 */
export class Backups extends pulumi.ComponentResource {
    public readonly cronJobNames: pulumi.Output<string[]>;

    constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:Backups", name, args, opts);
        const { backup } = args;
        const labels = { ...commonLabels("backup"), "app.kubernetes.io/name": runtimeNames.backup };
        const cronJobs: k8s.batch.v1.CronJob[] = [];

        // A destination per kind of state: object storage, or a PVC of its own (two RWO claims never contend).
        const destination = (what: "postgres" | "secrets"): PodWiring => {
            const os = args.objectStorage;
            if (os.driver !== "none") {
                const scheme = { s3: "s3", gcs: "gs", azure: "azblob" }[os.driver];
                return mergeWiring(objectStorageWiring(os), {
                    ...noWiring(),
                    env: [{ name: "X1AGENT_BACKUP_DESTINATION", value: `${scheme}://${os.bucket}/x1agent-backups/${what}` }],
                });
            }
            const claim = new k8s.core.v1.PersistentVolumeClaim(
                `${name}-${what}-pvc`,
                {
                    metadata: { name: `${runtimeNames.backup}-${what}`, namespace: args.namespace, labels },
                    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: backup.storage } } },
                },
                // Backups outlive the stack: destroying the installation must not destroy its backups.
                { parent: this, retainOnDelete: true },
            );
            return {
                ...noWiring(),
                env: [{ name: "X1AGENT_BACKUP_DESTINATION", value: `file:///backups/${what}` }],
                volumes: [{ name: "backups", persistentVolumeClaim: { claimName: claim.metadata.name } }],
                volumeMounts: [{ name: "backups", mountPath: `/backups/${what}` }],
            };
        };

        const cronJob = (what: "postgres" | "secrets", serviceAccountName: pulumi.Input<string>, token: boolean, wiring: PodWiring, jobArgs: string[]) => {
            const jobLabels = { ...labels, "x1agent.dev/backup": what };
            return new k8s.batch.v1.CronJob(
                `${name}-${what}`,
                {
                    metadata: { name: `${runtimeNames.backup}-${what}`, namespace: args.namespace, labels: jobLabels },
                    spec: scheduledJobSpec({
                        schedule: backup.schedule,
                        labels: jobLabels,
                        startingDeadlineSeconds: 3600,
                        pod: hardenedPodTemplate({
                            imagePullSecrets: args.images.pullSecrets,
                            appName: runtimeNames.backup,
                            labels: jobLabels,
                            serviceAccountName,
                            automountServiceAccountToken: token,
                            containers: [
                                {
                                    name: what,
                                    image: imageRef(args.images, "backup"),
                                    args: jobArgs,
                                    resources: backup.resources,
                                    env: [{ name: "X1AGENT_BACKUP_RETENTION_DAYS", value: String(backup.retentionDays) }, ...wiring.env],
                                    volumeMounts: wiring.volumeMounts,
                                },
                            ],
                            volumes: wiring.volumes,
                            configData: args.configData,
                            secrets: wiring.secrets,
                            kind: "job",
                        }),
                    }),
                },
                { parent: this },
            );
        };

        const postgresSa = tokenlessServiceAccount(`${name}-postgres-sa`, { name: `${runtimeNames.backup}-postgres`, namespace: args.namespace, labels }, this);
        cronJobs.push(
            cronJob("postgres", postgresSa.metadata.name, false, mergeWiring(databaseWiring(args.postgres, args.database), destination("postgres")), [
                "postgres",
                "--format=custom",
            ]),
        );

        if (backup.secretsExport) {
            const secretsNamespace = args.secretsNamespace ?? names.secretsNamespace;
            // No token mounted by default: the pod mounts it explicitly (below), the only way to read the Secrets.
            const sa = tokenlessServiceAccount(`${name}-secrets-sa`, { name: runtimeNames.secretsBackup, namespace: args.namespace, labels }, this);
            // Read Secrets in x1agent-secrets only: a Role there, bound to this one ServiceAccount.
            const role = new k8s.rbac.v1.Role(
                `${name}-secrets-role`,
                {
                    metadata: { name: runtimeNames.secretsBackup, namespace: secretsNamespace, labels },
                    rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }],
                },
                { parent: this },
            );
            new k8s.rbac.v1.RoleBinding(
                `${name}-secrets-binding`,
                {
                    metadata: { name: runtimeNames.secretsBackup, namespace: secretsNamespace, labels },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
                },
                { parent: this },
            );
            const wiring = mergeWiring(destination("secrets"), {
                ...noWiring(),
                env: [
                    { name: "X1AGENT_BACKUP_SECRETS_NAMESPACE", value: secretsNamespace },
                    { name: "X1AGENT_BACKUP_AGE_RECIPIENT", value: backup.secretsExport.recipient },
                ],
            });
            // The token is the only way to read the Secrets; the pod's ServiceAccount grants nothing else.
            cronJobs.push(cronJob("secrets", sa.metadata.name, true, wiring, ["secrets", "--encrypt=age"]));
        }

        this.cronJobNames = pulumi.all(cronJobs.map((j) => j.metadata.name));
        this.registerOutputs({ cronJobNames: this.cronJobNames });
    }
}
