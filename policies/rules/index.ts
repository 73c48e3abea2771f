/**
 * Every policy of the pack, in the order docs/policies.md lists them: the
 * tier-upgrade family, secret scoping, no plaintext secrets, the production
 * checklist. Each entry is a factory; `allPolicies()` builds them with their
 * default enforcement levels (policy config overrides those at run time).
 */
import type { PolicyOptions, X1Policy } from "../lib/policy";
import { awsSecretAccessScoped } from "./aws-secret-access-scoped";
import { azureSecretAccessScoped } from "./azure-secret-access-scoped";
import { cloudIdentityApiOnly } from "./cloud-identity-api-only";
import { clusterSecretStoreScoped } from "./cluster-secret-store-scoped";
import { configmapNoSecrets } from "./configmap-no-secrets";
import { esoCurrentApiVersion } from "./eso-current-api-version";
import { esoKindAllowed } from "./eso-kind-allowed";
import { esoReaderRbacScoped } from "./eso-reader-rbac-scoped";
import { externalSecretNamespaceAllowed } from "./external-secret-namespace-allowed";
import { externalSecretRemoteKeyOwnWorkspace } from "./external-secret-remote-key-own-workspace";
import { externalSecretRemoteKeyPrefix } from "./external-secret-remote-key-prefix";
import { externalSecretStoreAllowed } from "./external-secret-store-allowed";
import { externalSecretTargetSecret } from "./external-secret-target-secret";
import { externalSecretsUseActiveStore } from "./external-secrets-use-active-store";
import { gcpSecretAccessScoped } from "./gcp-secret-access-scoped";
import { helmValuesNoSecrets } from "./helm-values-no-secrets";
import { irsaTrustExact } from "./irsa-trust-exact";
import { kmsKeyRotation } from "./kms-key-rotation";
import { natsClientCertVerification } from "./nats-client-cert-verification";
import { noPushSecretInWorkspaces } from "./no-push-secret-in-workspaces";
import { noServiceAccountTokenSecrets } from "./no-service-account-token-secrets";
import { pdbForMultiReplica } from "./pdb-for-multi-replica";
import { rbacNoIndirectSecretAccess } from "./rbac-no-indirect-secret-access";
import { secretEnvFromSecretRef } from "./secret-env-from-secret-ref";
import { secretGrantsNotPublic } from "./secret-grants-not-public";
import { secretsNamespaceNoWorkloads } from "./secrets-namespace-no-workloads";
import { secretsNamespaceRbacScoped } from "./secrets-namespace-rbac-scoped";
import { secretsTierNoDowngrade } from "./secrets-tier-no-downgrade";
import { secretsTierUiModeConsistent } from "./secrets-tier-ui-mode-consistent";
import { tier1DataRetainedDuringMigration } from "./tier1-data-retained-during-migration";
import { tier1RequiresEtcdEncryption } from "./tier1-requires-etcd-encryption";
import { tier1StoreReadsOnlySecretsNamespace } from "./tier1-store-reads-only-secrets-namespace";
import { tier3StoreHasCloudIdentity } from "./tier3-store-has-cloud-identity";
import { workloadNonRootReadOnly } from "./workload-non-root-read-only";
import { workloadProbes } from "./workload-probes";
import { workloadResources } from "./workload-resources";
import { workspaceDefaultDenyNetworkPolicy } from "./workspace-default-deny-network-policy";
import { workspaceEgressNoMetadata } from "./workspace-egress-no-metadata";
import { workspaceNoLiteralSecrets } from "./workspace-no-literal-secrets";
import { workspaceNoSecretRead } from "./workspace-no-secret-read";
import { workspacePodConfined } from "./workspace-pod-confined";
import { workspacePodSecurityRestricted } from "./workspace-pod-security-restricted";

export const policyFactories: ((options?: PolicyOptions) => X1Policy)[] = [
    // Tier upgrades
    secretsTierUiModeConsistent,
    externalSecretsUseActiveStore,
    tier3StoreHasCloudIdentity,
    tier1DataRetainedDuringMigration,
    secretsTierNoDowngrade,
    // Secret scoping
    esoCurrentApiVersion,
    clusterSecretStoreScoped,
    externalSecretNamespaceAllowed,
    externalSecretStoreAllowed,
    externalSecretRemoteKeyPrefix,
    externalSecretRemoteKeyOwnWorkspace,
    externalSecretTargetSecret,
    esoKindAllowed,
    tier1StoreReadsOnlySecretsNamespace,
    esoReaderRbacScoped,
    secretsNamespaceRbacScoped,
    awsSecretAccessScoped,
    irsaTrustExact,
    gcpSecretAccessScoped,
    azureSecretAccessScoped,
    workspaceNoSecretRead,
    noPushSecretInWorkspaces,
    rbacNoIndirectSecretAccess,
    noServiceAccountTokenSecrets,
    workspacePodConfined,
    secretsNamespaceNoWorkloads,
    workspaceEgressNoMetadata,
    cloudIdentityApiOnly,
    secretGrantsNotPublic,
    kmsKeyRotation,
    // No plaintext secrets
    secretEnvFromSecretRef,
    configmapNoSecrets,
    helmValuesNoSecrets,
    workspaceNoLiteralSecrets,
    // Production checklist
    tier1RequiresEtcdEncryption,
    workloadProbes,
    workloadResources,
    workloadNonRootReadOnly,
    pdbForMultiReplica,
    workspacePodSecurityRestricted,
    workspaceDefaultDenyNetworkPolicy,
    natsClientCertVerification,
];

export function allPolicies(): X1Policy[] {
    return policyFactories.map((make) => make());
}
