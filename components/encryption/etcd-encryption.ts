// Cloud SDKs by service, not their root packages: a root import loads every
// service of the cloud (seconds per program start, even for a local stack).
import * as awsKms from "@pulumi/aws/kms";
import * as azureKeyVault from "@pulumi/azure-native/keyvault";
import * as gcpKms from "@pulumi/gcp/kms";
import * as gcpOrganizations from "@pulumi/gcp/organizations";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { SettledEtcdEncryption } from "../../stacks/schema";

/**
 * What the cluster's owner wires, exported as the stack output
 * `etcdEncryption`. Never a secret: key identifiers and a configuration file
 * that names a socket.
 */
export interface EtcdEncryptionOutput {
    enabled: boolean;
    /** `aws-kms`, `gcp-kms`, `azure-key-vault`, or `kms-v2-plugin` (self-managed and local). */
    provider?: string;
    /** The key: KMS key ARN, Cloud KMS crypto key id, or Key Vault key id (with its version, as AKS KMS requires). */
    keyId?: string;
    /** The one command that points the cluster at the key (managed clusters). */
    wiring?: string;
    /** Self-managed and local: the API server's EncryptionConfiguration (KMS v2), YAML. */
    encryptionConfiguration?: string;
}

type Mechanism<M extends SettledEtcdEncryption["mechanism"]> = Extract<SettledEtcdEncryption, { mechanism: M }>;

export interface EtcdEncryptionArgs {
    /** `cluster.name`: goes into key names and the wiring command. */
    clusterName: string;
    /**
     * The stack's settled `etcdEncryption`: the mechanism the cluster
     * provider decides (none when disabled), the cloud account the key lives
     * in, `existingKeyId` to use a key that exists, `kmsPluginEndpoint` for
     * self-managed clusters; on AKS where the key comes from (an existing key,
     * or the vault to create it in).
     */
    etcdEncryption: SettledEtcdEncryption;
}

/**
 * Encryption of Secrets at rest in etcd, backed by a KMS key (Tier 1 keeps
 * every secret value in etcd, so this is what makes Tier 1 acceptable).
 *
 * Ownership: this program attaches to a cluster; it never creates or imports
 * the cluster resource, whose lifecycle (node pools, networking, upgrades)
 * belongs to the stack that created it, and a managed cluster's encryption
 * setting is a field of that resource (EKS `encryptionConfig`, GKE
 * `databaseEncryption`, AKS `securityProfile.azureKeyVaultKms`). So the
 * stack creates the key and what the cloud needs for the cluster to use it,
 * and exports `etcdEncryption` with the key id and the one command that
 * wires it; `cluster.ownership: own` is refused by config validation.
 *
 * - EKS: a KMS key with yearly rotation and a key policy that keeps the
 *   account in control and lets EKS (via the service, in this account)
 *   encrypt, decrypt and create grants; an alias `alias/<cluster>-etcd`.
 * - GKE: a key ring and key (90-day rotation) and the cluster's GKE service
 *   agent's `cryptoKeyEncrypterDecrypter` on that key.
 * - AKS: an RSA key with a 90-day rotation policy in the Key Vault
 *   `etcdEncryption.keyVaultId` (default: the Tier 3 vault).
 * - self-managed and local: the API server's EncryptionConfiguration, KMS v2
 *   through the plugin socket `etcdEncryption.kmsPluginEndpoint`, with
 *   `identity` last so existing unencrypted Secrets stay readable until
 *   rewritten.
 *
 * `etcdEncryption.existingKeyId` uses a key that exists instead of creating
 * one (GKE still gets the service agent's grant on it).
 */
export class EtcdEncryption extends pulumi.ComponentResource {
    public readonly output: pulumi.Output<EtcdEncryptionOutput>;
    /**
     * `enabled` and `provider` again as plain values, known during a preview
     * that creates the key (`output` is not: it waits for the key's id). The
     * policy pack's etcd-encryption check reads these.
     */
    public readonly enabled: pulumi.Output<boolean>;
    public readonly provider: pulumi.Output<string>;

    constructor(name: string, args: EtcdEncryptionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:encryption:EtcdEncryption", name, args, opts);
        const { clusterName, etcdEncryption: e } = args;
        let output: pulumi.Input<EtcdEncryptionOutput>;
        switch (e.mechanism) {
            case "none":
                output = { enabled: false };
                break;
            case "aws-kms":
                output = this.aws(name, clusterName, e);
                break;
            case "gcp-kms":
                output = this.gcp(name, clusterName, e);
                break;
            case "azure-key-vault":
                output = this.azure(name, clusterName, e);
                break;
            case "kms-v2-plugin":
                output = { enabled: true, provider: e.mechanism, encryptionConfiguration: encryptionConfiguration(e.kmsPluginEndpoint) };
                break;
        }
        this.output = pulumi.output(output);
        this.enabled = pulumi.output(e.mechanism !== "none");
        this.provider = pulumi.output(e.mechanism);
        this.registerOutputs({ output: this.output, enabled: this.enabled, provider: this.provider });
    }

    private aws(name: string, clusterName: string, e: Mechanism<"aws-kms">): pulumi.Output<EtcdEncryptionOutput> {
        const cloud = e.aws;
        let keyArn: pulumi.Input<string> = e.existingKeyId ?? "";
        if (!e.existingKeyId) {
            const key = new awsKms.Key(
                `${name}-key`,
                {
                    description: `etcd Secrets encryption for EKS cluster ${clusterName}`,
                    keyUsage: "ENCRYPT_DECRYPT",
                    customerMasterKeySpec: "SYMMETRIC_DEFAULT",
                    enableKeyRotation: true,
                    rotationPeriodInDays: 365,
                    // Losing this key makes every Secret in etcd unreadable: the longest window.
                    deletionWindowInDays: 30,
                    policy: JSON.stringify(awsKeyPolicy(cloud.accountId, cloud.region)),
                },
                // Deleting it would brick the cluster's Secrets; removing it needs an explicit unprotect.
                { parent: this, protect: true },
            );
            new awsKms.Alias(`${name}-alias`, { name: `alias/${clusterName}-etcd`, targetKeyId: key.keyId }, { parent: this });
            keyArn = key.arn;
        }
        return pulumi.output(keyArn).apply((arn) => ({
            enabled: true,
            provider: "aws-kms",
            keyId: arn,
            wiring:
                `aws eks associate-encryption-config --region ${cloud.region} --cluster-name ${clusterName} ` +
                `--encryption-config '[{"resources":["secrets"],"provider":{"keyArn":"${arn}"}}]'`,
        }));
    }

    private gcp(name: string, clusterName: string, e: Mechanism<"gcp-kms">): pulumi.Output<EtcdEncryptionOutput> {
        const cloud = e.gcp;
        let keyId: pulumi.Input<string> = e.existingKeyId ?? "";
        if (!e.existingKeyId) {
            const ring = new gcpKms.KeyRing(
                `${name}-keyring`,
                { project: cloud.project, location: cloud.region, name: `${clusterName}-etcd` },
                // Key rings cannot be deleted in Cloud KMS; keep Pulumi from trying.
                { parent: this, retainOnDelete: true },
            );
            const key = new gcpKms.CryptoKey(
                `${name}-key`,
                { keyRing: ring.id, name: "etcd-secrets", purpose: "ENCRYPT_DECRYPT", rotationPeriod: "7776000s" },
                { parent: this, protect: true },
            );
            keyId = key.id;
        }
        // The GKE service agent does the encrypting; its name carries the project number.
        const project = gcpOrganizations.getProjectOutput({ projectId: cloud.project }, { parent: this });
        new gcpKms.CryptoKeyIAMMember(
            `${name}-gke-agent`,
            {
                cryptoKeyId: keyId,
                role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member: pulumi.interpolate`serviceAccount:service-${project.number}@container-engine-robot.iam.gserviceaccount.com`,
            },
            { parent: this },
        );
        return pulumi.output(keyId).apply((id) => ({
            enabled: true,
            provider: "gcp-kms",
            keyId: id,
            wiring: `gcloud container clusters update ${clusterName} --project ${cloud.project} --location ${cloud.region} --database-encryption-key ${id}`,
        }));
    }

    private azure(name: string, clusterName: string, e: Mechanism<"azure-key-vault">): pulumi.Output<EtcdEncryptionOutput> {
        const cloud = e.azure;
        let keyId: pulumi.Input<string>;
        if ("existingKeyId" in e.key) keyId = e.key.existingKeyId;
        else {
            const vault = parseVaultId(e.key.keyVaultId);
            const key = new azureKeyVault.Key(
                `${name}-key`,
                {
                    resourceGroupName: vault.resourceGroup,
                    vaultName: vault.name,
                    keyName: `${clusterName}-etcd`,
                    properties: {
                        kty: "RSA",
                        keySize: 2048,
                        keyOps: ["encrypt", "decrypt"],
                        rotationPolicy: {
                            lifetimeActions: [{ action: { type: "rotate" }, trigger: { timeAfterCreate: "P90D" } }],
                            attributes: { expiryTime: "P2Y" },
                        },
                    },
                },
                { parent: this, protect: true },
            );
            keyId = key.keyUriWithVersion;
        }
        return pulumi.output(keyId).apply((id) => ({
            enabled: true,
            provider: "azure-key-vault",
            keyId: id,
            wiring:
                `az aks update --resource-group ${cloud.resourceGroup} --name ${clusterName} ` +
                `--enable-azure-keyvault-kms --azure-keyvault-kms-key-id ${id}`,
        }));
    }
}

/** The KMS key policy: the account administers the key; EKS may use it only through the service, for this account. */
export function awsKeyPolicy(accountId: string, region: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AccountAdministersTheKey",
                Effect: "Allow",
                Principal: { AWS: `arn:aws:iam::${accountId}:root` },
                Action: "kms:*",
                Resource: "*",
            },
            {
                Sid: "EksEncryptsSecrets",
                Effect: "Allow",
                Principal: { AWS: "*" },
                Action: ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                Resource: "*",
                Condition: { StringEquals: { "kms:CallerAccount": accountId, "kms:ViaService": `eks.${region}.amazonaws.com` } },
            },
            {
                Sid: "EksCreatesGrantsForItsResources",
                Effect: "Allow",
                Principal: { AWS: "*" },
                Action: "kms:CreateGrant",
                Resource: "*",
                Condition: {
                    StringEquals: { "kms:CallerAccount": accountId, "kms:ViaService": `eks.${region}.amazonaws.com` },
                    Bool: { "kms:GrantIsForAWSResource": "true" },
                },
            },
        ],
    };
}

/**
 * The API server's EncryptionConfiguration (`--encryption-provider-config`):
 * Secrets encrypted by a KMS v2 plugin; `identity` after it only reads what
 * was written before encryption was turned on.
 */
export function encryptionConfiguration(endpoint: string): string {
    return stringify({
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources: [
            {
                resources: ["secrets"],
                providers: [{ kms: { apiVersion: "v2", name: "x1agent-kms", endpoint, timeout: "3s" } }, { identity: {} }],
            },
        ],
    });
}

function parseVaultId(id: string): { resourceGroup: string; name: string } {
    const [, resourceGroup, name] = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i.exec(id) ?? [];
    if (!resourceGroup || !name) {
        throw new pulumi.RunError(`${id} is not a Key Vault resource id: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>`);
    }
    return { resourceGroup, name };
}
