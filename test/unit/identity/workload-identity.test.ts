import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WorkloadIdentity, keyVaultSecretsUserRoleId } from "../../../components/identity/workload-identity";
import { type RegisteredResource, resetRegistered, settled, stackConfig, valueOf } from "../../helpers/mocks";
import { gcpProjectNumber, setupCloudMocks } from "./cloud-mocks";

beforeAll(() => setupCloudMocks());
beforeEach(resetRegistered);

const one = (all: RegisteredResource[], type: string) => {
    const found = all.filter((r) => r.type === type);
    expect(found, type).toHaveLength(1);
    return found[0]!;
};

const aws = () =>
    stackConfig({
        cluster: { provider: "eks", name: "x1agent-prod" },
        cloud: {
            aws: {
                region: "us-east-1",
                accountId: "222222222222",
                oidcProviderArn: "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123",
            },
        },
        secrets: { tier: "aws" },
    });
const gcp = () =>
    stackConfig({
        cluster: { provider: "gke", name: "x1agent-staging" },
        cloud: { gcp: { project: "x1agent-staging", region: "europe-west1" } },
        secrets: { tier: "gcp" },
    });
const vaultId = "/subscriptions/8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/x1/providers/Microsoft.KeyVault/vaults/x1agent-prod";
const azure = () =>
    stackConfig({
        cluster: { provider: "aks", name: "x1agent-aks" },
        cloud: {
            azure: {
                subscriptionId: "8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
                tenantId: "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d",
                resourceGroup: "x1",
                location: "westeurope",
                oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/",
            },
        },
        secrets: { tier: "azure", azure: { vaultUrl: "https://x1agent-prod.vault.azure.net", vaultId } },
    });

function identity(config: ReturnType<typeof aws>, cloud: "aws" | "gcp" | "azure") {
    const { secrets } = config;
    if (secrets.tier !== cloud) throw new Error(`the fixture for ${cloud} has secrets.tier ${secrets.tier}`);
    return new WorkloadIdentity("id", { secrets, clusterName: config.cluster.name });
}

describe("AWS IRSA for x1agent/x1agent-api", () => {
    it("Tier 3 on AWS grants GetSecretValue on x1agent/* only", async () => {
        identity(aws(), "aws");
        const all = await settled();
        const policy = JSON.parse(one(all, "aws:iam/rolePolicy:RolePolicy").inputs.policy);
        expect(policy.Statement).toEqual([
            {
                Sid: "ReadX1agentSecrets",
                Effect: "Allow",
                Action: ["secretsmanager:GetSecretValue"],
                Resource: ["arn:aws:secretsmanager:*:*:secret:x1agent/*"],
            },
        ]);
        // Nothing else grants this role anything.
        expect(all.filter((r) => /Policy(Attachment)?$/.test(r.type))).toHaveLength(1);
    });

    it("the role trusts the cluster's OIDC provider for exactly the api's ServiceAccount, audience sts.amazonaws.com", async () => {
        identity(aws(), "aws");
        const trust = JSON.parse(one(await settled(), "aws:iam/role:Role").inputs.assumeRolePolicy);
        expect(trust.Statement).toEqual([
            {
                Effect: "Allow",
                Principal: { Federated: "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123" },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:x1agent:x1agent-api",
                        "oidc.eks.us-east-1.amazonaws.com/id/ABC123:aud": "sts.amazonaws.com",
                    },
                },
            },
        ]);
    });

    it("the ServiceAccount is annotated with the role ARN", async () => {
        const id = identity(aws(), "aws");
        expect(await valueOf(id.serviceAccountAnnotations)).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:mock:::id-role" });
    });
});

describe("GKE Workload Identity for x1agent/x1agent-api", () => {
    it("only the api's ServiceAccount may act as the Google service account", async () => {
        identity(gcp(), "gcp");
        const binding = one(await settled(), "gcp:serviceaccount/iAMMember:IAMMember").inputs;
        expect(binding).toMatchObject({ role: "roles/iam.workloadIdentityUser", member: "serviceAccount:x1agent-staging.svc.id.goog[x1agent/x1agent-api]" });
    });

    it("secret access is limited by an IAM condition to secrets named x1agent-*", async () => {
        identity(gcp(), "gcp");
        const grant = one(await settled(), "gcp:projects/iAMMember:IAMMember").inputs;
        expect(grant).toMatchObject({
            project: "x1agent-staging",
            role: "roles/secretmanager.secretAccessor",
            member: "serviceAccount:x1agent-staging-api@x1agent-staging.iam.gserviceaccount.com",
        });
        expect(grant.condition.expression).toBe(`resource.name.startsWith("projects/${gcpProjectNumber}/secrets/x1agent-")`);
    });

    it("the ServiceAccount is annotated with the Google service account", async () => {
        const id = identity(gcp(), "gcp");
        expect(await valueOf(id.serviceAccountAnnotations)).toEqual({
            "iam.gke.io/gcp-service-account": "x1agent-staging-api@x1agent-staging.iam.gserviceaccount.com",
        });
    });
});

describe("Azure Workload Identity for x1agent/x1agent-api", () => {
    it("federates the cluster's OIDC issuer for exactly the api's ServiceAccount", async () => {
        identity(azure(), "azure");
        const fic = one(await settled(), "azure-native:managedidentity:FederatedIdentityCredential").inputs;
        expect(fic).toMatchObject({
            issuer: "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/",
            subject: "system:serviceaccount:x1agent:x1agent-api",
            audiences: ["api://AzureADTokenExchange"],
            resourceName: "x1agent-aks-x1agent-api",
        });
    });

    it("grants Key Vault Secrets User on the one vault and nowhere else", async () => {
        identity(azure(), "azure");
        const all = await settled();
        const grant = one(all, "azure-native:authorization:RoleAssignment").inputs;
        expect(grant.scope).toBe(vaultId);
        expect(grant.roleDefinitionId).toMatch(new RegExp(`/roleDefinitions/${keyVaultSecretsUserRoleId}$`));
        expect(grant).toMatchObject({ principalId: "principal-id-of-mock", principalType: "ServicePrincipal" });
    });

    it("the ServiceAccount carries the identity's client id and the tenant", async () => {
        const id = identity(azure(), "azure");
        expect(await valueOf(id.serviceAccountAnnotations)).toEqual({
            "azure.workload.identity/client-id": "client-id-of-mock",
            "azure.workload.identity/tenant-id": "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d",
        });
    });
});
