import type { ISecretStoreProvider } from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import { parseDocument } from "../lib/iam";
import { type CloudTier, names } from "../lib/names";
import { guarded, stackPolicy, type Res } from "../lib/policy";
import { asKind, get, list } from "../lib/resources";
import { x1Stores, type Store } from "../lib/stores";

const apiSubject = `system:serviceaccount:${names.appNamespace}:${names.apiServiceAccount}`;
const keyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";

/** Where each cloud store names the Kubernetes ServiceAccount it authenticates as. */
/** Where each Tier 3 provider names the ServiceAccount it authenticates as, and how to read it. */
const serviceAccountRefOf: Record<CloudTier, { at: string; read: (p: ISecretStoreProvider | undefined) => { name?: string; namespace?: string } | undefined }> =
    {
        aws: { at: "spec.provider.aws.auth.jwt.serviceAccountRef", read: (p) => p?.aws?.auth?.jwt?.serviceAccountRef },
        gcp: { at: "spec.provider.gcpsm.auth.workloadIdentity.serviceAccountRef", read: (p) => p?.gcpsm?.auth?.workloadIdentity?.serviceAccountRef },
        azure: { at: "spec.provider.azurekv.serviceAccountRef", read: (p) => p?.azurekv?.serviceAccountRef },
    };

function trustsApi(r: Res): boolean {
    const doc = parseDocument(get(r.props, "assumeRolePolicy"));
    if (!doc.ok) return false;
    return doc.statements.some(
        (s) =>
            s.effect === "Allow" &&
            s.actions.some((a) => a.toLowerCase() === "sts:assumerolewithwebidentity") &&
            Object.entries(s.condition.StringEquals ?? {}).some(([k, v]) => k.endsWith(":sub") && v.length === 1 && v[0] === apiSubject),
    );
}

function grantsGetSecretValue(r: Res): boolean {
    const docs = r.type === "aws:iam/role:Role" ? list(r.props, "inlinePolicies").map((p) => get(p, "policy")) : [get(r.props, "policy")];
    return docs.some((d) => {
        const doc = parseDocument(d);
        return doc.ok && doc.statements.some((s) => s.effect === "Allow" && s.actions.some((a) => /^secretsmanager:(GetSecretValue|\*)$/i.test(a)));
    });
}

/** What each cloud needs in this stack, as [description, present?] pairs. */
function identityParts(cloud: string, resources: Res[]): [string, boolean][] {
    const of = (...types: string[]) => resources.filter((r) => types.includes(r.type));
    switch (cloud) {
        case "aws":
            return [
                [
                    `an aws.iam.Role trusting exactly ${apiSubject} (sts:AssumeRoleWithWebIdentity, StringEquals on :sub)`,
                    of("aws:iam/role:Role").some(trustsApi),
                ],
                [
                    "an IAM policy granting secretsmanager:GetSecretValue to it (aws.iam.RolePolicy)",
                    of("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/role:Role").some(grantsGetSecretValue),
                ],
            ];
        case "gcp":
            return [
                ["a Google service account (gcp.serviceaccount.Account)", of("gcp:serviceaccount/account:Account").length > 0],
                [
                    `roles/iam.workloadIdentityUser on it for <project>.svc.id.goog[${names.appNamespace}/${names.apiServiceAccount}]`,
                    of("gcp:serviceaccount/iAMMember:IAMMember", "gcp:serviceaccount/iAMBinding:IAMBinding").some(
                        (r) =>
                            get(r.props, "role") === "roles/iam.workloadIdentityUser" &&
                            [get(r.props, "member"), ...list(r.props, "members")].some(
                                (m) => typeof m === "string" && m.endsWith(`.svc.id.goog[${names.appNamespace}/${names.apiServiceAccount}]`),
                            ),
                    ),
                ],
                [
                    "roles/secretmanager.secretAccessor for it (gcp.projects.IAMMember with a condition, or gcp.secretmanager.SecretIamMember)",
                    of("gcp:projects/iAMMember:IAMMember", "gcp:secretmanager/secretIamMember:SecretIamMember").some(
                        (r) => get(r.props, "role") === "roles/secretmanager.secretAccessor",
                    ),
                ],
            ];
        default:
            return [
                [
                    "a user-assigned identity (azure-native.managedidentity.UserAssignedIdentity)",
                    of("azure-native:managedidentity:UserAssignedIdentity").length > 0,
                ],
                [
                    `a federated identity credential for subject ${apiSubject}`,
                    of("azure-native:managedidentity:FederatedIdentityCredential").some((r) => get(r.props, "subject") === apiSubject),
                ],
                [
                    "a Key Vault Secrets User role assignment (azure-native.authorization.RoleAssignment)",
                    of("azure-native:authorization:RoleAssignment").some((r) =>
                        String(get(r.props, "roleDefinitionId") ?? "")
                            .toLowerCase()
                            .endsWith(keyVaultSecretsUser),
                    ),
                ],
            ];
    }
}

function cloudOf(s: Store): CloudTier | undefined {
    if (s.tier === "aws" || s.provider === "aws") return "aws";
    if (s.tier === "gcp" || s.provider === "gcpsm") return "gcp";
    if (s.tier === "azure" || s.provider === "azurekv") return "azure";
    return undefined;
}

/**
 * A Tier 3 store reads the cloud's secret manager as the api's
 * ServiceAccount through workload identity; the identity (and its grant) must
 * be created by the same stack, or the store cannot authenticate, or worse,
 * relies on a static credential somewhere.
 */
export const tier3StoreHasCloudIdentity = stackPolicy(
    {
        name: "tier3-store-has-cloud-identity",
        family: "tier-upgrades",
        description: "A Tier 3 store (aws, gcp, azure) authenticates as x1agent/x1agent-api through workload identity created in the same stack.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Create the cloud identity with the store: components/identity WorkloadIdentity (IRSA role + policy, GSA + workloadIdentityUser + secretAccessor, or managed identity + federated credential + Key Vault Secrets User).\n" +
            "2. Point the store's auth at the ServiceAccount x1agent/x1agent-api (aws: auth.jwt.serviceAccountRef, gcpsm: auth.workloadIdentity.serviceAccountRef, azurekv: authType WorkloadIdentity + serviceAccountRef); never at a Secret with static keys.",
    },
    (resources, { report }) => {
        for (const s of x1Stores(resources)) {
            const cloud = cloudOf(s);
            if (!cloud) continue;
            guarded(s.res, report, () => {
                const { at, read } = serviceAccountRefOf[cloud];
                const ref = read(asKind(s.res, "external-secrets.io/ClusterSecretStore")?.spec?.provider);
                const name = ref?.name;
                const namespace = ref?.namespace;
                if (name !== names.apiServiceAccount || namespace !== names.appNamespace) {
                    report(
                        `ClusterSecretStore ${s.name} (tier ${cloud}) does not authenticate as ${names.appNamespace}/${names.apiServiceAccount} through workload identity ` +
                            `(found ${name === undefined ? "no serviceAccountRef" : `${namespace ?? "<no namespace>"}/${name}`} at ${at}): ` +
                            `set ${at} to { name: ${names.apiServiceAccount}, namespace: ${names.appNamespace} }`,
                        s.res.urn,
                    );
                }
            });
            const missing = identityParts(cloud, resources)
                .filter(([, present]) => !present)
                .map(([what]) => what);
            if (missing.length > 0) {
                report(
                    `ClusterSecretStore ${s.name} (tier ${cloud}) has no cloud identity in this stack: missing ${missing.join("; ")}. ` +
                        "Create the WorkloadIdentity component in the same stack as the store (one preview must contain both)",
                    s.res.urn,
                );
            }
        }
    },
);
