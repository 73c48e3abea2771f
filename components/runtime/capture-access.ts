import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commonLabels } from "../names";
import { runtimeNames } from "./workload";

export interface CaptureAccessArgs {
    /** The Tier 1 secrets namespace (x1agent-secrets); create this component after it. */
    secretsNamespace: pulumi.Input<string>;
    /** The api's ServiceAccount and its namespace. */
    apiServiceAccount: pulumi.Input<string>;
    apiNamespace: pulumi.Input<string>;
}

/**
 * Tier 1 capture mode: users type secret values into x1agent's UI and the api
 * stores them as Secrets in `x1agent-secrets`. The api may create and
 * replace (PUT) Secrets there and delete them, and nothing else: no get,
 * list, watch or patch, so it can never read a value back (a create or PUT
 * answers with what was sent; a patch would answer with the merged object).
 * Only in Tier 1: bind mode has no values to write.
 */
export class CaptureAccess extends pulumi.ComponentResource {
    public readonly roleName: pulumi.Output<string>;

    constructor(name: string, args: CaptureAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:CaptureAccess", name, args, opts);
        const labels = commonLabels("api");
        const roleName = `${runtimeNames.api}-capture`;
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            {
                metadata: { name: roleName, namespace: args.secretsNamespace, labels },
                rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["create", "update", "delete"] }],
            },
            { parent: this },
        );
        new k8s.rbac.v1.RoleBinding(
            `${name}-binding`,
            {
                metadata: { name: roleName, namespace: args.secretsNamespace, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: args.apiServiceAccount, namespace: args.apiNamespace }],
            },
            { parent: this },
        );
        this.roleName = role.metadata.name;
        this.registerOutputs({ roleName: this.roleName });
    }
}
