import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import type { NatsEndpoint } from "../runtime/connections";
import type { IssuerRef } from "../runtime/ingress";
import { runtimeNames } from "../runtime/workload";
import { Workspace } from "./workspace";

export interface WorkspacesArgs {
    /** The stack's `workspaces`: one Workspace per entry. */
    workspaces: StackConfig["workspaces"];
    /** The ClusterSecretStore every workspace's ExternalSecrets read (`secrets.storeName`). */
    storeName: string;
    /** The stack's `sessions`: the admission policy and the session ServiceAccount's token. */
    sessions: StackConfig["sessions"];
    /** The stack's `images`: the session image the admission policy admits, and the pull Secrets. */
    images: StackConfig["images"];
    /** Where NATS runs; session pods may reach its client port. */
    nats: NatsEndpoint;
    /** The app namespace (NATS and the api run there). */
    appNamespace: pulumi.Input<string>;
    /** The api's ServiceAccount, which alone may manage session pods and jobs in workspace namespaces. */
    apiServiceAccount: pulumi.Input<string>;
    /** The NATS client CA ClusterIssuer for per-workspace session certificates (when `nats.mtls`). Unset: none are issued. */
    natsClientIssuer?: IssuerRef;
    /** The ClusterSecretStore (and the CRDs) the workspaces' ExternalSecrets and Certificates need first. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Every workspace of the stack, plus what they share: a
 * ValidatingAdmissionPolicy (`sessions.admissionPolicy`) that admits, in any
 * namespace labelled as a workspace, only pods running the session image
 * under the session ServiceAccount, without a ServiceAccount token unless
 * `sessions.automountServiceAccountToken`. It closes the one way the api's
 * pod-create right could reach a Secret: starting some other image that
 * prints the workspace's Secrets.
 */
export class Workspaces extends pulumi.ComponentResource {
    /** `x1agent-ws-<id>` per workspace, in config order. */
    public readonly namespaces: pulumi.Output<string[]>;

    constructor(name: string, args: WorkspacesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:workspaces:Workspaces", name, args, opts);

        const workspaces = args.workspaces.map(
            (workspace) =>
                new Workspace(
                    `${name}-${workspace.id}`,
                    {
                        workspace,
                        storeName: args.storeName,
                        sessions: args.sessions,
                        imagePullSecrets: args.images.pullSecrets,
                        nats: args.nats,
                        appNamespace: args.appNamespace,
                        apiServiceAccount: args.apiServiceAccount,
                        natsClientIssuer: args.natsClientIssuer,
                        dependsOn: args.dependsOn,
                    },
                    { parent: this },
                ),
        );

        if (args.sessions.admissionPolicy) {
            const labels = commonLabels("workspace");
            const inWorkspaces = { namespaceSelector: { matchExpressions: [{ key: runtimeNames.workspaceLabel, operator: "Exists" }] } };
            const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                `${name}-session-policy`,
                {
                    metadata: { name: "x1agent-session-pods", labels },
                    spec: {
                        failurePolicy: "Fail",
                        matchConstraints: {
                            ...inWorkspaces,
                            resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }],
                        },
                        validations: sessionPodValidations(args.images, args.sessions),
                    },
                },
                { parent: this },
            );
            new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                `${name}-session-policy-binding`,
                {
                    metadata: { name: "x1agent-session-pods", labels },
                    spec: { policyName: policy.metadata.name, validationActions: ["Deny"], matchResources: inWorkspaces },
                },
                { parent: this },
            );
        }

        this.namespaces = pulumi.all(workspaces.map((w) => w.namespace));
        this.registerOutputs({ namespaces: this.namespaces });
    }
}

/** The CEL rules a pod in a workspace namespace must pass. */
export function sessionPodValidations(images: StackConfig["images"], sessions: StackConfig["sessions"]): { expression: string; message: string }[] {
    const repo = `${images.registry}/${images.session.repository}`;
    const sessionImage = (list: string) =>
        `(!has(object.spec.${list}) || object.spec.${list}.all(c, c.image.startsWith('${repo}:') || c.image.startsWith('${repo}@')))`;
    const rules = [
        {
            expression: `object.spec.serviceAccountName == '${runtimeNames.sessionServiceAccount}'`,
            message: `workspace pods must run as the ServiceAccount ${runtimeNames.sessionServiceAccount}`,
        },
        {
            expression: ["containers", "initContainers", "ephemeralContainers"].map(sessionImage).join(" && "),
            message: `workspace pods may only run the session image ${repo} (images.session)`,
        },
    ];
    if (!sessions.automountServiceAccountToken) {
        rules.push({
            expression:
                "(!has(object.spec.automountServiceAccountToken) || object.spec.automountServiceAccountToken == false) && " +
                "(!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.projected) || !has(v.projected.sources) || " +
                "v.projected.sources.all(s, !has(s.serviceAccountToken))))",
            message: "workspace pods get no ServiceAccount token (sessions.automountServiceAccountToken is false)",
        });
    }
    return rules;
}
