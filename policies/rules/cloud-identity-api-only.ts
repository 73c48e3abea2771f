import { parseDocument, statementName } from "../lib/iam";
import { guarded, type Res, stackPolicy } from "../lib/policy";
import { asKind, describe, get, list, meta } from "../lib/resources";
import { names } from "../lib/names";

interface Config {
    /** Kubernetes ServiceAccounts (`namespace/name`) reviewed to hold a cloud identity besides the api's. */
    allowServiceAccounts: string[];
}

const api = `${names.appNamespace}/${names.apiServiceAccount}`;
/** ServiceAccount annotations that attach a cloud identity (IRSA, GKE and Azure Workload Identity). */
const identityAnnotations = ["eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account", "azure.workload.identity/client-id"];
/** Roles on a Google service account that let their member act as it. */
const actAsRoles = new Set([
    "roles/iam.workloadIdentityUser",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountOpenIdTokenCreator",
]);

/** `ns/name` of `system:serviceaccount:ns:name`, `<pool>[ns/name]`, or undefined. */
function kubernetesAccount(subject: string): string | undefined {
    const sub = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(subject);
    if (sub) return `${sub[1]}/${sub[2]}`;
    const wi = /^serviceAccount:[^[]+\.svc\.id\.goog\[([^/\]]+)\/([^\]]+)\]$/.exec(subject);
    return wi ? `${wi[1]}/${wi[2]}` : undefined;
}

/**
 * The cloud identity that reads x1agent's secrets belongs to the api's
 * ServiceAccount alone. The trust checks elsewhere make a trust exact, not
 * right: a second IRSA role, Workload Identity binding or federated
 * credential for a workspace's ServiceAccount (or ESO's, whose identity any
 * store without auth falls back to) would pass them and hand that account
 * the same secrets. So every trust names x1agent/x1agent-api, nothing else
 * may act as that identity (AssumeRole principals, token-creator roles), no
 * static key exists for it, and only the api's ServiceAccount (never ESO's
 * chart values) carries an identity annotation.
 */
export const cloudIdentityApiOnly = stackPolicy<Config>(
    {
        name: "cloud-identity-api-only",
        family: "secret-scoping",
        description:
            "Only x1agent/x1agent-api holds a cloud identity: IRSA trusts, Workload Identity bindings and federated credentials name it alone, nothing else can assume or impersonate the identity, no static keys, no identity annotation on any other ServiceAccount (ESO's included).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Trust only system:serviceaccount:${names.appNamespace}:${names.apiServiceAccount} (IRSA sub, workloadIdentityUser member <project>.svc.id.goog[${api}], federated credential subject).\n` +
            "2. Give the role no other trust statement (no AWS/Service principal), and grant no serviceAccountTokenCreator/serviceAccountUser on the Google service account.\n" +
            "3. Delete access keys and service-account keys; remove identity annotations from other ServiceAccounts and from the ESO chart's serviceAccount.annotations.",
        configSchema: {
            properties: {
                allowServiceAccounts: {
                    type: "array",
                    items: { type: "string" },
                    default: [],
                    description: "ServiceAccounts (namespace/name) reviewed to hold a cloud identity besides the api's.",
                },
            },
        },
    },
    (resources, { report: reportStack, config }) => {
        for (const r of resources)
            guarded(r, reportStack, () => check(r, (message) => reportStack(message, r.urn), new Set([api, ...config.allowServiceAccounts])));
    },
);

function check(r: Res, report: (message: string) => void, allowed: Set<string>): void {
    const foreign = (subject: string) => {
        const account = kubernetesAccount(subject);
        return account === undefined || !allowed.has(account);
    };
    const fix = `trust only ${api}`;

    if (r.type === "aws:iam/role:Role") {
        const parsed = parseDocument(get(r.props, "assumeRolePolicy"));
        if (!parsed.ok) return; // irsa-trust-exact reports it
        const webIdentity = (actions: string[]) => actions.some((a) => /^(sts:AssumeRoleWithWebIdentity|sts:\*|\*)$/i.test(a));
        if (!parsed.statements.some((s) => s.effect === "Allow" && webIdentity(s.actions))) return; // not a workload identity
        parsed.statements.forEach((s, i) => {
            if (s.effect !== "Allow") return;
            const at = `aws:iam/role:Role '${r.name}' trust ${statementName(s, i)}`;
            if (!webIdentity(s.actions) || get(s.principal, "Federated") === undefined) {
                report(
                    `${at} lets ${JSON.stringify(s.principal ?? "anyone")} assume the workload-identity role (${s.actions.join(", ")}): remove the statement; ${fix}`,
                );
                return;
            }
            const subs = Object.entries(s.condition.StringEquals ?? {})
                .filter(([k]) => k.endsWith(":sub"))
                .flatMap(([, v]) => v);
            const others = subs.filter(foreign);
            if (others.length > 0) report(`${at} trusts ${others.join(", ")}: that account would read x1agent's secrets as the api; ${fix}`);
        });
        return;
    }
    if (r.type === "aws:iam/accessKey:AccessKey" || r.type === "gcp:serviceaccount/key:Key") {
        report(
            `${r.type} '${r.name}' creates a static cloud key, a credential that never expires and can be copied anywhere: delete it; x1agent authenticates by workload identity only`,
        );
        return;
    }
    if (
        r.type === "gcp:serviceaccount/iAMMember:IAMMember" ||
        r.type === "gcp:serviceaccount/iAMBinding:IAMBinding" ||
        r.type === "gcp:projects/iAMMember:IAMMember"
    ) {
        const role = String(get(r.props, "role") ?? "");
        if (!actAsRoles.has(role)) return;
        const members = [get(r.props, "member"), ...list(r.props, "members")].filter((m): m is string => typeof m === "string");
        const at = `${r.type} '${r.name}' (${role})`;
        if (r.type === "gcp:projects/iAMMember:IAMMember") {
            report(
                `${at} on the whole project lets ${members.join(", ")} act as every service account in it, x1agent's included: grant it on one service account, to ${api} only`,
            );
            return;
        }
        const others = role === "roles/iam.workloadIdentityUser" ? members.filter(foreign) : members;
        if (others.length > 0) {
            report(
                `${at} lets ${others.join(", ")} act as the Google service account: remove the grant; only <project>.svc.id.goog[${api}] may, through roles/iam.workloadIdentityUser`,
            );
        }
        return;
    }
    if (r.type === "azure-native:managedidentity:FederatedIdentityCredential") {
        const subject = String(get(r.props, "subject") ?? "");
        if (foreign(subject))
            report(
                `FederatedIdentityCredential '${r.name}' trusts subject ${subject}: that account would act as the managed identity; ${fix} (system:serviceaccount:${names.appNamespace}:${names.apiServiceAccount})`,
            );
        return;
    }
    const account = asKind(r, "core/ServiceAccount");
    if (account) {
        const { name, namespace } = meta(r);
        if (allowed.has(`${namespace}/${name}`)) return; // its annotation is computed (unknown at preview) and rightly there
        const keys = Object.keys(account.metadata?.annotations ?? {});
        const found = identityAnnotations.filter((a) => keys.includes(a));
        if (found.length > 0) {
            report(`${describe(r)} carries ${found.join(", ")}, a cloud identity: only ${api} may hold one; remove the annotation`);
        }
        return;
    }
    if (r.type === "x1agent:addons:ExternalSecrets") {
        const keys = Object.keys(get(r.props, "chartValues", "serviceAccount", "annotations") ?? {});
        const found = identityAnnotations.filter((a) => keys.includes(a));
        if (found.length > 0) {
            report(
                `The ESO chart values give the controller's ServiceAccount ${found.join(", ")}: every store or generator without its own auth would then act with that cloud identity; ` +
                    `remove serviceAccount.annotations from addons.externalSecrets.values (stores authenticate as ${api})`,
            );
        }
    }
}
