import { hasWildcard, parseDocument, statementName } from "../lib/iam";
import { resourcePolicy } from "../lib/policy";
import { get } from "../lib/resources";

/**
 * An IRSA trust policy names exactly one ServiceAccount and the STS
 * audience, with StringEquals: a StringLike or a wildcard in `sub` lets any
 * ServiceAccount matching the pattern (any workspace's, for example) assume
 * the role that reads x1agent's secrets.
 */
export const irsaTrustExact = resourcePolicy(
    {
        name: "irsa-trust-exact",
        family: "secret-scoping",
        description:
            "IAM roles assumed with web identity (IRSA) trust exactly one sub (system:serviceaccount:<ns>:<name>) and aud sts.amazonaws.com, with StringEquals and no wildcards.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            '1. In assumeRolePolicy, use Condition.StringEquals with both "<issuer>:sub": "system:serviceaccount:x1agent:x1agent-api" and "<issuer>:aud": "sts.amazonaws.com".\n' +
            "2. Remove StringLike/ForAnyValue conditions and any '*' or '?' in those values.",
    },
    (r, { report }) => {
        if (r.type !== "aws:iam/role:Role") return;
        const parsed = parseDocument(get(r.props, "assumeRolePolicy"));
        if (!parsed.ok) {
            report(`aws:iam/role:Role '${r.name}' assumeRolePolicy ${parsed.error}`);
            return;
        }
        parsed.statements.forEach((s, i) => {
            if (s.effect !== "Allow" || !s.actions.some((a) => a.toLowerCase() === "sts:assumerolewithwebidentity" || a === "*" || a.toLowerCase() === "sts:*"))
                return;
            const at = `aws:iam/role:Role '${r.name}' trust ${statementName(s, i)}`;
            for (const [op, block] of Object.entries(s.condition)) {
                if (op === "StringEquals") continue;
                const keys = Object.keys(block).filter((k) => k.endsWith(":sub") || k.endsWith(":aud"));
                if (keys.length > 0) report(`${at} matches ${keys.join(", ")} with ${op}: use StringEquals with the exact value`);
            }
            const eq = s.condition.StringEquals ?? {};
            const sub = Object.entries(eq).find(([k]) => k.endsWith(":sub"));
            const aud = Object.entries(eq).find(([k]) => k.endsWith(":aud"));
            if (!sub) {
                report(
                    `${at} has no StringEquals on <issuer>:sub, so every ServiceAccount in the cluster can assume the role: add "<issuer>:sub": "system:serviceaccount:x1agent:x1agent-api"`,
                );
            } else if (sub[1].length !== 1 || hasWildcard(sub[1][0]!) || !/^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$/.test(sub[1][0]!)) {
                report(
                    `${at} trusts sub ${JSON.stringify(sub[1])}: name exactly one ServiceAccount, "system:serviceaccount:<namespace>:<name>", without wildcards`,
                );
            }
            if (!aud) {
                report(`${at} has no StringEquals on <issuer>:aud: add "<issuer>:aud": "sts.amazonaws.com"`);
            } else if (aud[1].length !== 1 || aud[1][0] !== "sts.amazonaws.com") {
                report(`${at} trusts aud ${JSON.stringify(aud[1])}: the audience must be exactly "sts.amazonaws.com"`);
            }
            const federated = get(s.principal, "Federated");
            if (typeof federated !== "string" || !/^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider\/[^*?]+$/.test(federated)) {
                report(
                    `${at} trusts Principal.Federated ${JSON.stringify(federated)}: name the cluster's IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>)`,
                );
            }
        });
    },
);
