import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SecretsBackend } from "../../../components/secrets/secrets-backend";
import { ofKind, registered, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";

beforeAll(() => setupMocks());
beforeEach(resetRegistered);

const eks = {
    aws: { region: "us-east-1", accountId: "222222222222", oidcProviderArn: "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X" },
};
const gke = { gcp: { project: "x1agent-staging", region: "europe-west1" } };
const aks = {
    azure: {
        subscriptionId: "8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        tenantId: "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d",
        resourceGroup: "x1",
        location: "westeurope",
        oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/t/",
    },
};
const vaultId = "/subscriptions/8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/x1/providers/Microsoft.KeyVault/vaults/x1agent-prod";

/** One config per tier, as the example stacks and the schema allow them. */
const tiers = {
    kubernetes: () => stackConfig(),
    vault: () => stackConfig({ secrets: { tier: "vault", vault: { server: "https://vault.example.com" } } }),
    aws: () => stackConfig({ cluster: { provider: "eks", name: "x1agent-prod" }, cloud: eks, secrets: { tier: "aws" } }),
    gcp: () => stackConfig({ cluster: { provider: "gke", name: "x1agent-staging" }, cloud: gke, secrets: { tier: "gcp" } }),
    azure: () =>
        stackConfig({
            cluster: { provider: "aks", name: "x1agent-aks" },
            cloud: aks,
            secrets: { tier: "azure", azure: { vaultUrl: "https://x1agent-prod.vault.azure.net", vaultId } },
        }),
};

async function store(tier: keyof typeof tiers) {
    const config = tiers[tier]();
    new SecretsBackend("secrets", { secrets: config.secrets, clusterName: config.cluster.name });
    const stores = ofKind(await settled(), "ClusterSecretStore");
    expect(stores).toHaveLength(1);
    return stores[0]!.inputs;
}

describe("the secrets backend", () => {
    it.each(Object.keys(tiers) as (keyof typeof tiers)[])("every store is scoped to x1agent namespaces (%s)", async (tier) => {
        const s = await store(tier);
        expect(s.apiVersion).toBe("external-secrets.io/v1");
        const regexes: string[] = s.spec.conditions.flatMap((c: { namespaceRegexes?: string[] }) => c.namespaceRegexes ?? []);
        const allowed = (ns: string) => regexes.some((r) => new RegExp(r).test(ns));
        for (const ns of ["x1agent", "x1agent-ws-demo", "x1agent-ws-a1"]) expect(allowed(ns), ns).toBe(true);
        for (const ns of ["x1agent-secrets", "kube-system", "default", "external-secrets", "cert-manager", "x1agent-ws-", "evil-x1agent", "x1agent-wsx"])
            expect(allowed(ns), ns).toBe(false);
    });

    it.each([
        ["aws", "x1-aws"],
        ["gcp", "x1-gcp"],
        ["azure", "x1-azure"],
    ] as const)("Tier 3 %s is the %s store, authenticated as x1agent/x1agent-api with no credential of its own", async (tier, name) => {
        const s = await store(tier);
        expect(s.metadata.name).toBe(name);
        const text = JSON.stringify(s.spec.provider);
        expect(text).toContain('"serviceAccountRef":{"name":"x1agent-api","namespace":"x1agent"}');
        expect(text).not.toMatch(/secretRef|accessKey|clientSecret|secretAccessKey/i);
    });

    it("Tier 3 on AWS reads Secrets Manager in the cluster's region through IRSA", async () => {
        expect((await store("aws")).spec.provider).toEqual({
            aws: { service: "SecretsManager", region: "us-east-1", auth: { jwt: { serviceAccountRef: { name: "x1agent-api", namespace: "x1agent" } } } },
        });
    });

    it("Tier 3 on GCP reads Secret Manager through GKE Workload Identity of this cluster", async () => {
        expect((await store("gcp")).spec.provider.gcpsm).toEqual({
            projectID: "x1agent-staging",
            auth: {
                workloadIdentity: {
                    clusterLocation: "europe-west1",
                    clusterName: "x1agent-staging",
                    clusterProjectID: "x1agent-staging",
                    serviceAccountRef: { name: "x1agent-api", namespace: "x1agent" },
                },
            },
        });
    });

    it("Tier 3 on Azure reads the one Key Vault through Azure Workload Identity", async () => {
        expect((await store("azure")).spec.provider.azurekv).toEqual({
            authType: "WorkloadIdentity",
            vaultUrl: "https://x1agent-prod.vault.azure.net",
            tenantId: "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d",
            serviceAccountRef: { name: "x1agent-api", namespace: "x1agent" },
        });
    });

    it("Tier 1 reader can read Secrets only in x1agent-secrets", async () => {
        new SecretsBackend("secrets", { secrets: stackConfig().secrets, clusterName: "local" });
        const all = await settled();
        const [role] = ofKind(all, "Role");
        expect(role!.inputs.metadata).toMatchObject({ name: "eso-reader", namespace: "x1agent-secrets" });
        expect(role!.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }]);
        expect(ofKind(all, "ClusterRole")).toEqual([]);
        expect(ofKind(all, "ClusterRoleBinding")).toEqual([]);
        const [binding] = ofKind(all, "RoleBinding");
        expect(binding!.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "eso-reader", namespace: "x1agent-secrets" }]);
    });

    it("Tier 2 and 3 create nothing in x1agent-secrets", async () => {
        for (const tier of ["vault", "aws"] as const) {
            resetRegistered();
            await store(tier);
            expect(ofKind(registered, "Namespace")).toEqual([]);
        }
    });
});
