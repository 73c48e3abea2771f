import { stackPolicy, type Res } from "../lib/policy";
import { asKind, entriesOf, UNKNOWN } from "../lib/resources";
import { declaredTier } from "../lib/stores";
import { names } from "../lib/names";

export const etcdEncryptionType = "x1agent:encryption:EtcdEncryption";
const kmsProviders = new Set(["aws-kms", "gcp-kms", "azure-key-vault", "kms-v2-plugin"]);
const keyTypes = new Set(["aws:kms/key:Key", "gcp:kms/cryptoKey:CryptoKey", "azure-native:keyvault:Key"]);

/** The component's `enabled`/`provider`: top-level outputs first, then the `output` object; UNKNOWN when not known at preview. */
function encryptionState(c: Res): { enabled: unknown; provider: unknown } {
    const top = new Map(entriesOf(c.props));
    if (top.has("enabled")) return { enabled: top.get("enabled"), provider: top.get("provider") };
    const output = top.get("output");
    if (output === UNKNOWN) return { enabled: UNKNOWN, provider: UNKNOWN };
    const inner = new Map(entriesOf(output));
    return { enabled: inner.get("enabled"), provider: inner.get("provider") };
}

/**
 * Tier 1 keeps every secret value in etcd (the x1agent-secrets namespace),
 * so it is acceptable only with Secrets encrypted at rest by a KMS key. The
 * policy looks for the EtcdEncryption component the program creates and
 * reads what it registered: enabled, and a KMS-backed provider (cloud KMS
 * key, or the KMS v2 plugin's EncryptionConfiguration for self-managed and
 * local clusters). When the component's output is unknown at preview (a key
 * created in this run), a KMS key inside the component is the evidence;
 * otherwise the check fails closed.
 */
export const tier1RequiresEtcdEncryption = stackPolicy(
    {
        name: "tier1-requires-etcd-encryption",
        family: "production-checklist",
        description: "Tier 1 (secrets in x1agent-secrets) runs only with KMS-backed etcd encryption of Secrets (the EtcdEncryption component, enabled).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Set etcdEncryption.enabled: true in the stack config (the default) so the program creates the KMS key (EKS, GKE, AKS) or the KMS v2 EncryptionConfiguration (self-managed, local).\n" +
            "2. Wire it into the cluster with the command in the stack output etcdEncryption.wiring (or install the EncryptionConfiguration on the API servers).\n" +
            "3. Or leave Tier 1: set secrets.tier to vault or a cloud tier.",
    },
    (resources, { report }) => {
        const declared = declaredTier(resources);
        const secretsNs = resources.find((r) => asKind(r, "core/Namespace")?.metadata?.name === names.secretsNamespace);
        if (declared?.tier !== "kubernetes" && !secretsNs) return;
        const why =
            declared?.tier === "kubernetes"
                ? `the stack declares Tier 1 (${declared.source})`
                : `Namespace ${names.secretsNamespace} (Tier 1 values) is in the program`;
        const components = resources.filter((r) => r.type === etcdEncryptionType);
        if (components.length === 0) {
            report(
                `${why}, but there is no etcd encryption (${etcdEncryptionType}) in the stack: Tier 1 secret values would sit in etcd unencrypted. Set etcdEncryption.enabled: true, or use a higher tier`,
            );
            return;
        }
        for (const c of components) {
            const { enabled, provider } = encryptionState(c);
            if (enabled === UNKNOWN || provider === UNKNOWN) {
                const key = resources.find((r) => keyTypes.has(r.type) && r.parent === c.urn);
                if (!key) {
                    report(
                        `${why}; the etcd encryption's outputs are unknown during this preview and no KMS key is created inside it, so KMS-backed encryption cannot be verified (fails closed): ` +
                            "register `enabled` and `provider` as plain outputs of EtcdEncryption, or preview again after the key exists",
                        c.urn,
                    );
                }
                continue;
            }
            if (enabled !== true) {
                report(
                    `${why}, but etcd encryption is disabled (etcdEncryption.enabled: false): Tier 1 secret values would sit in etcd unencrypted. Set etcdEncryption.enabled: true, or use a higher tier`,
                    c.urn,
                );
            } else if (typeof provider !== "string" || !kmsProviders.has(provider)) {
                report(`${why}, but etcd encryption provider ${String(provider)} is not KMS-backed (expected one of ${[...kmsProviders].join(", ")})`, c.urn);
            }
        }
    },
);
