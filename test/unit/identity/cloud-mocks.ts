/**
 * The shared mocks (test/helpers/mocks.ts) plus what the cloud lookups
 * return: the GCP project number that IAM conditions and the GKE service
 * agent's name are built from.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockCall, registered } from "../../helpers/mocks";

export const gcpProjectNumber = "123456789012";

export async function setupCloudMocks(stack = "unit"): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type.startsWith("aws:") && !state.arn) state.arn = `arn:aws:mock:::${args.name}`;
                if (args.type === "gcp:serviceaccount/account:Account")
                    state.email = `${String(args.inputs.accountId)}@${String(args.inputs.project)}.iam.gserviceaccount.com`;
                if (args.type === "azure-native:managedidentity:UserAssignedIdentity")
                    Object.assign(state, { name: args.inputs.resourceName, clientId: "client-id-of-mock", principalId: "principal-id-of-mock" });
                if (args.type === "azure-native:keyvault:Key")
                    state.keyUriWithVersion = `https://mock.vault.azure.net/keys/${String(args.inputs.keyName)}/0123`;
                return { id: `${args.name}-id`, state };
            },
            call: (args) => (args.token === "gcp:organizations/getProject:getProject" ? { ...args.inputs, number: gcpProjectNumber } : mockCall(args)),
        },
        "x1agent-platform",
        stack,
        false,
    );
}
