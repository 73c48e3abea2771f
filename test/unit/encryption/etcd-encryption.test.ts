import { parse } from "yaml";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EtcdEncryption } from "../../../components/encryption/etcd-encryption";
import { ConfigError } from "../../../stacks/validate";
import { type RegisteredResource, resetRegistered, settled, stackConfig, valueOf } from "../../helpers/mocks";
import { gcpProjectNumber, setupCloudMocks } from "../identity/cloud-mocks";

beforeAll(() => setupCloudMocks());
beforeEach(resetRegistered);

const one = (all: RegisteredResource[], type: string) => {
    const found = all.filter((r) => r.type === type);
    expect(found, type).toHaveLength(1);
    return found[0]!;
};
const awsCloud = {
    aws: { region: "us-east-1", accountId: "111111111111", oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X" },
};
const azureCloud = {
    azure: {
        subscriptionId: "8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        tenantId: "5a6b7c8d-9e0f-4a1b-9c2d-3e4f5a6b7c8d",
        resourceGroup: "x1",
        location: "westeurope",
        oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/t/",
    },
};

function encrypt(config: ReturnType<typeof stackConfig>) {
    return new EtcdEncryption("etcd", { clusterName: config.cluster.name, etcdEncryption: config.etcdEncryption });
}

describe("etcd encryption at rest", () => {
    it("EKS: a KMS key with rotation on, a key policy letting only EKS in this account use it, and the wiring command", async () => {
        const enc = encrypt(stackConfig({ cluster: { provider: "eks", name: "x1agent-dev" }, cloud: awsCloud }));
        const key = one(await settled(), "aws:kms/key:Key").inputs;
        expect(key).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
        const statements = JSON.parse(key.policy).Statement;
        expect(statements[0]).toMatchObject({ Principal: { AWS: "arn:aws:iam::111111111111:root" }, Action: "kms:*" });
        for (const s of statements.slice(1))
            expect(s.Condition.StringEquals).toEqual({ "kms:CallerAccount": "111111111111", "kms:ViaService": "eks.us-east-1.amazonaws.com" });
        const out = await valueOf(enc.output);
        expect(out).toMatchObject({ enabled: true, provider: "aws-kms", keyId: "arn:aws:mock:::etcd-key" });
        expect(out.wiring).toContain("aws eks associate-encryption-config");
        expect(out.wiring).toContain('"resources":["secrets"]');
    });

    it("GKE: a key ring and a rotating key, with encrypt/decrypt for the cluster's GKE service agent", async () => {
        encrypt(
            stackConfig({
                cluster: { provider: "gke", name: "x1agent-staging" },
                cloud: { gcp: { project: "x1agent-staging", region: "europe-west1" } },
                secrets: { tier: "gcp" },
            }),
        );
        const all = await settled();
        expect(one(all, "gcp:kms/keyRing:KeyRing").inputs).toMatchObject({ project: "x1agent-staging", location: "europe-west1" });
        expect(one(all, "gcp:kms/cryptoKey:CryptoKey").inputs).toMatchObject({ purpose: "ENCRYPT_DECRYPT", rotationPeriod: "7776000s" });
        expect(one(all, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember").inputs).toMatchObject({
            role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member: `serviceAccount:service-${gcpProjectNumber}@container-engine-robot.iam.gserviceaccount.com`,
        });
    });

    it("AKS: a rotating RSA key in the configured Key Vault", async () => {
        const keyVaultId = "/subscriptions/8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/kms-rg/providers/Microsoft.KeyVault/vaults/x1agent-kms";
        const enc = encrypt(stackConfig({ cluster: { provider: "aks", name: "x1agent-aks" }, cloud: azureCloud, etcdEncryption: { keyVaultId } }));
        const key = one(await settled(), "azure-native:keyvault:Key").inputs;
        expect(key).toMatchObject({
            resourceGroupName: "kms-rg",
            vaultName: "x1agent-kms",
            properties: { kty: "RSA", rotationPolicy: { lifetimeActions: [{ action: { type: "rotate" } }] } },
        });
        expect((await valueOf(enc.output)).wiring).toContain("--enable-azure-keyvault-kms");
    });

    it("an existing key is used as is: no key is created", async () => {
        const existing = "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555";
        const enc = encrypt(stackConfig({ cluster: { provider: "eks", name: "x1agent-dev" }, cloud: awsCloud, etcdEncryption: { existingKeyId: existing } }));
        expect((await settled()).filter((r) => r.type.startsWith("aws:"))).toEqual([]);
        expect((await valueOf(enc.output)).keyId).toBe(existing);
    });

    it.each(["local", "self-managed"] as const)("%s: the API server EncryptionConfiguration, KMS v2 through the configured plugin socket", async (provider) => {
        const enc = encrypt(
            stackConfig({ cluster: { provider, name: "x1agent-onprem" }, etcdEncryption: { kmsPluginEndpoint: "unix:///run/kms/plugin.sock" } }),
        );
        const out = await valueOf(enc.output);
        expect(out.provider).toBe("kms-v2-plugin");
        const doc = parse(out.encryptionConfiguration!);
        expect(doc).toEqual({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "EncryptionConfiguration",
            resources: [
                {
                    resources: ["secrets"],
                    providers: [{ kms: { apiVersion: "v2", name: "x1agent-kms", endpoint: "unix:///run/kms/plugin.sock", timeout: "3s" } }, { identity: {} }],
                },
            ],
        });
        // Encryption first: `identity` only reads what was stored before.
        expect(Object.keys(doc.resources[0].providers[0])).toEqual(["kms"]);
    });

    it("disabled: nothing is created and the output says so", async () => {
        const enc = encrypt(stackConfig({ etcdEncryption: { enabled: false } }));
        expect(await valueOf(enc.output)).toEqual({ enabled: false });
    });
});

describe("cluster ownership in config", () => {
    it("own is refused with the reason and what to write instead", () => {
        expect(() => stackConfig({ cluster: { provider: "eks", name: "x1agent-dev", ownership: "own" }, cloud: awsCloud })).toThrow(ConfigError);
        try {
            stackConfig({ cluster: { provider: "eks", name: "x1agent-dev", ownership: "own" }, cloud: awsCloud });
        } catch (e) {
            const problem = (e as ConfigError).problems.find((p) => p.key === "x1agent:cluster.ownership")!;
            expect(problem.message).toMatch(/never creates or imports/);
            expect(problem.message).toMatch(/ownership: attach/);
        }
    });

    it("AKS without a Key Vault for the etcd key is refused before anything is deployed", () => {
        expect(() => stackConfig({ cluster: { provider: "aks", name: "x1agent-aks" }, cloud: azureCloud })).toThrow(/etcdEncryption\.keyVaultId/);
    });
});
