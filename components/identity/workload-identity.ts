// Cloud SDKs by service, not their root packages: a root import loads every
// service of the cloud (seconds per program start, even for a local stack).
import * as awsIam from "@pulumi/aws/iam";
import * as azureAuthorization from "@pulumi/azure-native/authorization";
import * as azureManagedIdentity from "@pulumi/azure-native/managedidentity";
import * as gcpOrganizations from "@pulumi/gcp/organizations";
import * as gcpProjects from "@pulumi/gcp/projects";
import * as gcpServiceAccount from "@pulumi/gcp/serviceaccount";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSecrets } from "../../stacks/schema";
import { names } from "../names";

/** The Kubernetes identity every cloud trusts: exactly the api's ServiceAccount. */
export const apiSubject = `system:serviceaccount:${names.appNamespace}:${names.apiServiceAccount}`;

/** Where x1agent's secrets live in each cloud's secret manager; grants never reach wider. */
export const secretPrefixes = {
    /** Secrets Manager names may contain '/': `x1agent/<workspace>/<name>`. */
    aws: "arn:aws:secretsmanager:*:*:secret:x1agent/*",
    /** Secret Manager ids may not contain '/': `x1agent-<workspace>-<name>`. */
    gcp: "x1agent-",
} as const;

/** Azure's built-in "Key Vault Secrets User" role: read secret values, nothing else. */
export const keyVaultSecretsUserRoleId = "4633458b-17de-408a-b874-0445c86b69e6";

export interface WorkloadIdentityArgs {
    /**
     * The stack's settled Tier 3 `secrets`: the tier decides the cloud, and it
     * carries that cloud's account (`account`), the GCP project the secrets
     * live in and the Azure vault the grant is scoped to.
     */
    secrets: CloudSecrets;
    /** `cluster.name`: used in cloud resource names so two clusters in one account never collide. */
    clusterName: string;
}

/**
 * The cloud workload identity of the api's ServiceAccount `x1agent/x1agent-api`,
 * which ESO's Tier 3 store authenticates as, granting read access to x1agent's
 * secrets and nothing wider:
 *
 * - AWS IRSA: an IAM role trusting the cluster's OIDC provider for exactly
 *   that ServiceAccount (audience `sts.amazonaws.com`), allowed only
 *   `secretsmanager:GetSecretValue` on `x1agent/*`. DescribeSecret, ListSecrets
 *   and BatchGetSecretValue are left out on purpose: x1agent's ExternalSecrets
 *   read known keys (`remoteRef.key`), never `find` or metadata.
 * - GKE Workload Identity: a Google service account the KSA may impersonate
 *   (`roles/iam.workloadIdentityUser` for `<project>.svc.id.goog[x1agent/x1agent-api]`),
 *   with `roles/secretmanager.secretAccessor` under an IAM condition limiting
 *   it to secrets named `x1agent-*`.
 * - Azure Workload Identity: a user-assigned identity, a federated credential
 *   for the cluster's OIDC issuer and that ServiceAccount, and "Key Vault
 *   Secrets User" scoped to the one vault.
 *
 * `serviceAccountAnnotations` is what the ServiceAccount must carry for the
 * cloud to map it to that identity.
 */
export class WorkloadIdentity extends pulumi.ComponentResource {
    /** Annotations for the api ServiceAccount (role ARN, GSA e-mail, or client and tenant id). */
    public readonly serviceAccountAnnotations: pulumi.Output<Record<string, string>>;
    /** The cloud principal: IAM role ARN, Google service account e-mail, or managed identity client id. */
    public readonly principal: pulumi.Output<string>;

    constructor(name: string, args: WorkloadIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:identity:WorkloadIdentity", name, args, opts);
        const { secrets } = args;
        const built =
            secrets.tier === "aws"
                ? this.aws(name, secrets, args.clusterName)
                : secrets.tier === "gcp"
                  ? this.gcp(name, secrets, args.clusterName)
                  : this.azure(name, secrets, args.clusterName);
        this.serviceAccountAnnotations = built.annotations;
        this.principal = built.principal;
        this.registerOutputs({ serviceAccountAnnotations: this.serviceAccountAnnotations, principal: this.principal });
    }

    private aws(name: string, secrets: Extract<CloudSecrets, { tier: "aws" }>, clusterName: string) {
        const cloud = secrets.account;
        // The provider ARN ends in the issuer host the token's claims are keyed by.
        const issuer = cloud.oidcProviderArn.replace(/^arn:aws:iam::[0-9]{12}:oidc-provider\//, "");
        const role = new awsIam.Role(
            `${name}-role`,
            {
                name: `${clusterName}-x1agent-api`,
                description: `IRSA role of ${names.appNamespace}/${names.apiServiceAccount} on ${clusterName}: reads x1agent secrets`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Federated: cloud.oidcProviderArn },
                            Action: "sts:AssumeRoleWithWebIdentity",
                            Condition: { StringEquals: { [`${issuer}:sub`]: apiSubject, [`${issuer}:aud`]: "sts.amazonaws.com" } },
                        },
                    ],
                }),
            },
            { parent: this },
        );
        new awsIam.RolePolicy(
            `${name}-secrets-policy`,
            {
                role: role.id,
                name: "x1agent-secrets-read",
                policy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Sid: "ReadX1agentSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [secretPrefixes.aws] }],
                }),
            },
            { parent: this },
        );
        return {
            annotations: role.arn.apply((arn): Record<string, string> => ({ "eks.amazonaws.com/role-arn": arn })),
            principal: role.arn,
        };
    }

    private gcp(name: string, secrets: Extract<CloudSecrets, { tier: "gcp" }>, clusterName: string) {
        const cloud = secrets.account;
        const secretsProject = secrets.gcp.projectId;
        const gsa = new gcpServiceAccount.Account(
            `${name}-gsa`,
            {
                project: cloud.project,
                accountId: gsaAccountId(clusterName),
                displayName: `x1agent api on ${clusterName}`,
                description: `Workload Identity of ${names.appNamespace}/${names.apiServiceAccount}: reads x1agent secrets`,
            },
            { parent: this },
        );
        new gcpServiceAccount.IAMMember(
            `${name}-workload-identity-user`,
            {
                serviceAccountId: gsa.name,
                role: "roles/iam.workloadIdentityUser",
                member: `serviceAccount:${cloud.project}.svc.id.goog[${names.appNamespace}/${names.apiServiceAccount}]`,
            },
            { parent: this },
        );
        // IAM conditions see Secret Manager resources by project number.
        const project = gcpOrganizations.getProjectOutput({ projectId: secretsProject }, { parent: this });
        new gcpProjects.IAMMember(
            `${name}-secret-accessor`,
            {
                project: secretsProject,
                role: "roles/secretmanager.secretAccessor",
                member: pulumi.interpolate`serviceAccount:${gsa.email}`,
                condition: {
                    title: "x1agent secrets only",
                    description: `Only secrets whose id starts with ${secretPrefixes.gcp}`,
                    expression: pulumi.interpolate`resource.name.startsWith("projects/${project.number}/secrets/${secretPrefixes.gcp}")`,
                },
            },
            { parent: this },
        );
        return {
            annotations: gsa.email.apply((email): Record<string, string> => ({ "iam.gke.io/gcp-service-account": email })),
            principal: gsa.email,
        };
    }

    private azure(name: string, secrets: Extract<CloudSecrets, { tier: "azure" }>, clusterName: string) {
        const cloud = secrets.account;
        const vaultId = secrets.azure.vaultId;
        const identity = new azureManagedIdentity.UserAssignedIdentity(
            `${name}-identity`,
            { resourceGroupName: cloud.resourceGroup, location: cloud.location, resourceName: `${clusterName}-x1agent-api` },
            { parent: this },
        );
        new azureManagedIdentity.FederatedIdentityCredential(
            `${name}-federated-credential`,
            {
                resourceGroupName: cloud.resourceGroup,
                resourceName: identity.name,
                federatedIdentityCredentialResourceName: names.apiServiceAccount,
                issuer: cloud.oidcIssuerUrl,
                subject: apiSubject,
                audiences: ["api://AzureADTokenExchange"],
            },
            { parent: this },
        );
        new azureAuthorization.RoleAssignment(
            `${name}-key-vault-secrets-user`,
            {
                principalId: identity.principalId,
                principalType: "ServicePrincipal",
                roleDefinitionId: `/subscriptions/${cloud.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${keyVaultSecretsUserRoleId}`,
                scope: vaultId,
            },
            { parent: this },
        );
        return {
            annotations: identity.clientId.apply(
                (clientId): Record<string, string> => ({
                    "azure.workload.identity/client-id": clientId,
                    "azure.workload.identity/tenant-id": cloud.tenantId,
                }),
            ),
            principal: identity.clientId,
        };
    }
}

/** A Google service account id: 6-30 characters, lower case, starting with a letter. */
export function gsaAccountId(clusterName: string): string {
    const id = `${clusterName}-api`
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 30)
        .replace(/-+$/, "");
    return /^[a-z]/.test(id) && id.length >= 6 ? id : `x1-${id}`.slice(0, 30);
}
