import { resourcePolicy } from "../lib/policy";
import { describe, k8sType, meta } from "../lib/resources";
import { tierOfStore } from "../lib/names";
import { esoGeneratorsGroup, esoGroup } from "../lib/stores";

/**
 * Every kind the External Secrets Operator's CRDs define (chart 2.x), and
 * what an object of it lets its creator do, with whose credentials. ESO's
 * controller can read and write every Secret in the cluster and request
 * tokens for any ServiceAccount, so each kind is a request to act with that
 * reach. `checked` kinds are the ones x1agent uses, reviewed by their own
 * policies; every other kind is refused.
 */
export const esoKinds: Record<string, { checked: string } | { risk: string }> = {
    ClusterSecretStore: {
        checked: "cluster-secret-store-scoped, tier1-store-reads-only-secrets-namespace, tier3-store-has-cloud-identity; only the x1agent store names",
    },
    ExternalSecret: {
        checked:
            "external-secret-namespace-allowed, external-secret-store-allowed, external-secret-remote-key-prefix, external-secret-remote-key-own-workspace",
    },
    PushSecret: { checked: "no-push-secret-in-workspaces" },
    ClusterPushSecret: { checked: "no-push-secret-in-workspaces" },
    SecretStore: {
        risk: "is a store with its own provider and credentials that no policy reviews; a provider block without auth makes ESO use its own ambient identity (node role, its ServiceAccount's cloud identity), and a Webhook provider fetches any URL ESO can reach",
    },
    ClusterExternalSecret: {
        risk: "writes ExternalSecrets into every namespace its selectors match, outside the per-workspace key prefix each workspace is held to",
    },
    ClusterGenerator: { risk: "is a generator any namespace's ExternalSecret can use, with the credentials it names or ESO's own" },
    GeneratorState: { risk: "holds what a generator produced (tokens to revoke); only ESO writes it" },
    ECRAuthorizationToken: { risk: "mints an ECR registry token with ESO's AWS identity (or the ServiceAccount or keys it names)" },
    STSSessionToken: { risk: "mints AWS session credentials of ESO's AWS identity (or the ServiceAccount or keys it names) into a Secret" },
    GCRAccessToken: { risk: "mints a Google access token through Workload Identity for the ServiceAccount it names, or ESO's own identity" },
    ACRAccessToken: { risk: "mints an Azure Container Registry token with a managed or workload identity" },
    VaultDynamicSecret: { risk: "calls any Vault path with any method, as the Vault identity it configures" },
    Webhook: {
        risk: "makes ESO's controller fetch any URL it can reach (the Kubernetes API, cloud metadata, Vault) and store the answer in a Secret, past the workspace's NetworkPolicy",
    },
    GithubAccessToken: { risk: "mints a GitHub App installation token from a private key in a Secret" },
    GitlabDeployToken: { risk: "creates GitLab deploy tokens with the API credentials it names" },
    QuayAccessToken: { risk: "mints a Quay robot-account token by federating a ServiceAccount token" },
    CloudsmithAccessToken: { risk: "mints a Cloudsmith token by federating a ServiceAccount token" },
    Grafana: { risk: "creates Grafana service-account tokens with the admin credentials it names" },
    BeyondtrustWorkloadCredentialsDynamicSecret: { risk: "obtains dynamic credentials from BeyondTrust with the credentials it names" },
    MFA: { risk: "derives TOTP codes from a seed in a Secret" },
    SSHKey: { risk: "generates SSH key pairs (no credential is read, but nothing in x1agent uses it)" },
    Password: { risk: "generates passwords (no credential is read, but nothing in x1agent uses it)" },
    UUID: { risk: "generates UUIDs (no credential is read, but nothing in x1agent uses it)" },
    Fake: { risk: "returns static data from its spec (for tests; nothing in x1agent uses it)" },
};

interface Config {
    /** ESO kinds reviewed for this stack beyond the ones x1agent uses. */
    allowKinds: string[];
}

/**
 * x1agent reaches secrets through one kind of store (the x1 ClusterSecretStore
 * of its tier) and one kind of consumer (ExternalSecrets in workspaces).
 * Every other kind the ESO CRDs define acts with ESO's cluster-wide reach
 * and credentials nothing in this pack reviews, so the program creates none;
 * a kind this table does not know (a newer chart) is refused until reviewed.
 */
export const esoKindAllowed = resourcePolicy<Config>(
    {
        name: "eso-kind-allowed",
        family: "secret-scoping",
        description:
            "The program creates only the External Secrets kinds x1agent uses (its x1-* ClusterSecretStore, ExternalSecrets; PushSecrets are no-push-secret-in-workspaces'): no SecretStore, ClusterExternalSecret, generator or ClusterGenerator.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Read secrets through the stack's x1-* ClusterSecretStore with an ExternalSecret in the workspace (workspaces[].secrets); delete SecretStores, ClusterExternalSecrets and generators.\n" +
            "2. A second ClusterSecretStore is another reader identity: serve every tier through the one x1 store the SecretsBackend creates.\n" +
            "3. A kind that is truly needed is reviewed in docs/threat-model.md first, then listed in this policy's allowKinds config.",
        configSchema: {
            properties: {
                allowKinds: {
                    type: "array",
                    items: { type: "string" },
                    default: [],
                    description: "ESO kinds reviewed for this stack beyond the ones x1agent uses.",
                },
            },
        },
    },
    (r, { report, config }) => {
        const t = k8sType(r.type);
        if (!t || (t.group !== esoGroup && t.group !== esoGeneratorsGroup) || config.allowKinds.includes(t.kind)) return;
        const entry = esoKinds[t.kind];
        if (entry === undefined) {
            report(
                `${describe(r)} is a ${t.group} kind this pack has not reviewed: remove it, or review what it lets its creator do (docs/threat-model.md) and add ${t.kind} to allowKinds`,
            );
        } else if ("risk" in entry) {
            report(
                `${describe(r)}: a ${t.kind} ${entry.risk}. x1agent reads secrets only through its x1-* ClusterSecretStore and workspace ExternalSecrets; remove it`,
            );
        } else if (t.kind === "ClusterSecretStore" && !(meta(r).name in tierOfStore)) {
            report(
                `${describe(r)} is not one of the x1agent stores (${Object.keys(tierOfStore).join(", ")}): every store is a reader identity of its own; serve the tier through the SecretsBackend's store`,
            );
        }
    },
);
