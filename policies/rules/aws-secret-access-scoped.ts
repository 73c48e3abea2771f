import { actionCovers, hasWildcard, parseDocument, statementName } from "../lib/iam";
import { resourcePolicy } from "../lib/policy";
import { get, list } from "../lib/resources";

/** The one place x1agent's secrets live in Secrets Manager. */
export const x1agentSecretArn = "arn:aws:secretsmanager:*:*:secret:x1agent/*";
const x1agentSecretArnPattern = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+|\*):([0-9]{12}|\*):secret:x1agent\/[^*?]*(\*)?$/;

/** AWS managed policies that grant Secrets Manager access on every secret. */
const wideManagedPolicies = ["SecretsManagerReadWrite", "AdministratorAccess", "PowerUserAccess"];

const policyTypes: Record<string, (props: Record<string, unknown>) => { where: string; doc: unknown }[]> = {
    "aws:iam/rolePolicy:RolePolicy": (p) => [{ where: "policy", doc: get(p, "policy") }],
    "aws:iam/policy:Policy": (p) => [{ where: "policy", doc: get(p, "policy") }],
    "aws:iam/userPolicy:UserPolicy": (p) => [{ where: "policy", doc: get(p, "policy") }],
    "aws:iam/groupPolicy:GroupPolicy": (p) => [{ where: "policy", doc: get(p, "policy") }],
    "aws:iam/role:Role": (p) =>
        list(p, "inlinePolicies").map((ip, i) => ({ where: `inlinePolicies[${i}] (${String(get(ip, "name"))})`, doc: get(ip, "policy") })),
};

/** Does this statement reach Secrets Manager at all? */
const touchesSecretsManager = (actions: string[]) =>
    actions.some((a) => actionCovers(a, "secretsmanager:GetSecretValue") || a.toLowerCase().startsWith("secretsmanager:"));

/**
 * Secrets Manager access only on `arn:aws:secretsmanager:*:*:secret:x1agent/*`
 * (or narrower), with named actions: a wildcard resource or action in an
 * x1agent role reads every secret in the account.
 */
export const awsSecretAccessScoped = resourcePolicy(
    {
        name: "aws-secret-access-scoped",
        family: "secret-scoping",
        description: `IAM policies grant Secrets Manager access only on ${x1agentSecretArn} (or narrower), with named actions and no NotAction/NotResource.`,
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Set the statement's Resource to ["${x1agentSecretArn}"] (or a narrower x1agent/<workspace>/* ARN).\n` +
            "2. Name the actions (secretsmanager:GetSecretValue); no secretsmanager:* or *.\n" +
            "3. Do not attach SecretsManagerReadWrite/AdministratorAccess to an x1agent role.",
    },
    (r, { report }) => {
        if (r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
            const arn = String(get(r.props, "policyArn") ?? "");
            const wide = wideManagedPolicies.find((p) => arn.endsWith(`:policy/${p}`));
            if (wide)
                report(
                    `RolePolicyAttachment ${r.name} attaches ${wide}, which reads and writes every secret in the account: attach an inline policy limited to ${x1agentSecretArn} instead`,
                );
            return;
        }
        const docs = policyTypes[r.type];
        if (!docs) return;
        for (const { where, doc } of docs(r.props)) {
            const parsed = parseDocument(doc);
            if (!parsed.ok) {
                report(`${r.type} '${r.name}' ${where} ${parsed.error}: write the policy with JSON.stringify of a policy document`);
                continue;
            }
            parsed.statements.forEach((s, i) => {
                if (s.effect !== "Allow") return;
                const at = `${r.type} '${r.name}' ${where} ${statementName(s, i)}`;
                if (s.notActions.length > 0 || s.notResources.length > 0) {
                    report(
                        `${at} uses ${s.notActions.length > 0 ? "NotAction" : "NotResource"} with Allow, which grants everything not listed (Secrets Manager included): list Action and Resource explicitly`,
                    );
                    return;
                }
                if (!touchesSecretsManager(s.actions)) return;
                const wildActions = s.actions.filter((a) => hasWildcard(a));
                if (wildActions.length > 0) {
                    report(
                        `${at} grants ${wildActions.join(", ")}, a wildcard covering Secrets Manager: name the actions, e.g. "secretsmanager:GetSecretValue"`,
                    );
                }
                const wide = s.resources.filter((res) => !x1agentSecretArnPattern.test(res));
                if (wide.length > 0 || s.resources.length === 0) {
                    report(
                        `${at} allows Secrets Manager on ${wide.join(", ") || "no Resource (every resource)"}: x1agent may only reach ${x1agentSecretArn}; set Resource: ["${x1agentSecretArn}"]`,
                    );
                }
            });
        }
    },
);
