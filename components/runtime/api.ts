import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HardenedDeployment, type RuntimeWorkloadArgs, runtimeWorkloadArgs } from "./deployment";
import { mayRunSeveral, type PodWiring, runtimeLabels, runtimeNames, type WorkloadConfig } from "./workload";

export interface ApiArgs extends RuntimeWorkloadArgs {
    /** The stack's `api`: replicas (leader election when it may run several), resources, hpa, grace period. */
    api: WorkloadConfig;
    /** The `x1agent-api` ServiceAccount (cloud identity subject; leader election and session RBAC bind to it). */
    serviceAccountName: pulumi.Input<string>;
    /** Database, NATS, sign-in and object-storage wiring (env, Secret mounts). */
    wiring: PodWiring;
}

/** Lease timings handed to the api; client-go's defaults. */
const leaseDurationSeconds = 15;

/**
 * The x1agent api: a stateless Deployment and Service (`api.replicas`, PDB,
 * optional HPA). When it can run more than one pod, leader election on a
 * coordination.k8s.io Lease: the Lease is created here so the api's Role
 * needs no `create` and is limited to that one Lease by name.
 */
export class Api extends pulumi.ComponentResource {
    public readonly serviceName: pulumi.Output<string> | undefined;
    /** The Lease name, or undefined when the api runs one pod. */
    public readonly leaseName: pulumi.Output<string> | undefined;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:Api", name, args, opts);
        const labels = runtimeLabels("api");
        const leaderElection = mayRunSeveral(args.api);

        let lease: k8s.coordination.v1.Lease | undefined;
        if (leaderElection) {
            lease = new k8s.coordination.v1.Lease(
                `${name}-lease`,
                { metadata: { name: runtimeNames.leaderLease, namespace: args.namespace, labels }, spec: { leaseDurationSeconds } },
                // The holder fields are the running leader's to write; Pulumi owns only the object.
                { parent: this, ignoreChanges: ["spec.holderIdentity", "spec.acquireTime", "spec.renewTime", "spec.leaseTransitions"] },
            );
            const role = new k8s.rbac.v1.Role(
                `${name}-leader-role`,
                {
                    metadata: { name: `${runtimeNames.api}-leader-election`, namespace: args.namespace, labels },
                    rules: [
                        {
                            apiGroups: ["coordination.k8s.io"],
                            resources: ["leases"],
                            resourceNames: [runtimeNames.leaderLease],
                            verbs: ["get", "watch", "update", "patch"],
                        },
                    ],
                },
                { parent: this },
            );
            new k8s.rbac.v1.RoleBinding(
                `${name}-leader-binding`,
                {
                    metadata: { name: `${runtimeNames.api}-leader-election`, namespace: args.namespace, labels },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects: [{ kind: "ServiceAccount", name: args.serviceAccountName, namespace: args.namespace }],
                },
                { parent: this },
            );
        }

        const leaderEnv = leaderElection
            ? [
                  { name: "X1AGENT_LEADER_ELECTION", value: "true" },
                  { name: "X1AGENT_LEADER_ELECTION_LEASE", value: runtimeNames.leaderLease },
                  { name: "X1AGENT_LEADER_ELECTION_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "X1AGENT_LEADER_ELECTION_IDENTITY", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "X1AGENT_LEADER_ELECTION_LEASE_DURATION", value: `${leaseDurationSeconds}s` },
                  { name: "X1AGENT_LEADER_ELECTION_RENEW_DEADLINE", value: "10s" },
                  { name: "X1AGENT_LEADER_ELECTION_RETRY_PERIOD", value: "2s" },
              ]
            : [{ name: "X1AGENT_LEADER_ELECTION", value: "false" }];

        const deployment = new HardenedDeployment(
            `${name}-workload`,
            {
                ...runtimeWorkloadArgs(args),
                role: "api",
                workload: args.api,
                container: { name: "api", image: "api", args: ["serve"], env: leaderEnv },
                wiring: args.wiring,
                serviceAccountName: args.serviceAccountName,
                // The api talks to the Kubernetes API: the leader Lease and session pods in workspace namespaces.
                automountServiceAccountToken: true,
            },
            { parent: this, dependsOn: lease ? [lease] : [] },
        );

        this.serviceName = deployment.serviceName;
        this.leaseName = lease?.metadata.name;
        this.registerOutputs({ serviceName: this.serviceName, leaseName: this.leaseName });
    }
}
