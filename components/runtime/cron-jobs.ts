import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { hardenedPodTemplate, imageRef, type PodWiring, runtimeNames, scheduledJobSpec, tokenlessServiceAccount } from "./workload";

export interface MaintenanceJobsArgs {
    /** The stack's `cronJobs`: one CronJob per entry. */
    cronJobs: StackConfig["cronJobs"];
    /** The stack's `images`: the jobs run the api image. */
    images: StackConfig["images"];
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Data of the shared ConfigMap the pods read (for the rollout checksum). */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Database and NATS wiring (env, Secret mounts). */
    wiring: PodWiring;
}

/**
 * The scheduled maintenance workloads (`cronJobs`): one CronJob per entry,
 * running the api image with the entry's arguments under a ServiceAccount
 * with no token. Runs never overlap, are stopped after
 * `activeDeadlineSeconds`, and are cleaned up a day after they finish. Each
 * run starts fresh pods, so it always reads the current Secret values.
 */
export class MaintenanceJobs extends pulumi.ComponentResource {
    public readonly cronJobNames: pulumi.Output<string[]>;

    constructor(name: string, args: MaintenanceJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:MaintenanceJobs", name, args, opts);
        const labels = { ...commonLabels("maintenance"), "app.kubernetes.io/name": runtimeNames.maintenance };

        const sa = tokenlessServiceAccount(`${name}-sa`, { name: runtimeNames.maintenance, namespace: args.namespace, labels }, this);
        const jobs = args.cronJobs.map((job) => {
            const jobLabels = { ...labels, "x1agent.dev/job": job.name };
            return new k8s.batch.v1.CronJob(
                `${name}-${job.name}`,
                {
                    metadata: { name: `x1agent-${job.name}`, namespace: args.namespace, labels: jobLabels },
                    spec: scheduledJobSpec({
                        schedule: job.schedule,
                        labels: jobLabels,
                        startingDeadlineSeconds: 300,
                        activeDeadlineSeconds: job.activeDeadlineSeconds,
                        pod: hardenedPodTemplate({
                            imagePullSecrets: args.images.pullSecrets,
                            appName: runtimeNames.maintenance,
                            labels: jobLabels,
                            serviceAccountName: sa.metadata.name,
                            automountServiceAccountToken: false,
                            containers: [
                                {
                                    name: "maintenance",
                                    image: imageRef(args.images, "api"),
                                    args: job.args,
                                    resources: job.resources,
                                    env: args.wiring.env,
                                    volumeMounts: args.wiring.volumeMounts,
                                },
                            ],
                            volumes: args.wiring.volumes,
                            configData: args.configData,
                            secrets: args.wiring.secrets,
                            kind: "job",
                        }),
                    }),
                },
                { parent: this },
            );
        });

        this.cronJobNames = pulumi.all(jobs.map((j) => j.metadata.name));
        this.registerOutputs({ cronJobNames: this.cronJobNames });
    }
}
