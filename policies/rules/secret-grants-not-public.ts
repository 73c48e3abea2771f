import { parseDocument, statementName } from "../lib/iam";
import { resourcePolicy } from "../lib/policy";
import { get, list } from "../lib/resources";
import { secretReadingRoles } from "./gcp-secret-access-scoped";

/** GCP members that mean "anyone": on the internet, or with any Google account. */
const publicMembers = new Set(["allUsers", "allAuthenticatedUsers"]);

/** GCP resources that grant a role to members, and where. */
const gcpGrants = [
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
    "gcp:secretmanager/secretIamBinding:SecretIamBinding",
];

/** Does an IAM Principal name everyone (`"*"`, `{ AWS: "*" }`)? */
function everyone(principal: unknown): boolean {
    if (principal === "*") return true;
    const aws = get(principal, "AWS");
    return aws === "*" || (Array.isArray(aws) && aws.includes("*"));
}

/**
 * The other side of the scoping checks: a grant limited to x1agent's secrets
 * still leaks them when it is made to everyone. A GCP secret role for
 * allUsers or allAuthenticatedUsers, or a Secrets Manager resource policy
 * allowing Principal "*", lets any account (any Google user, any AWS
 * principal) read the secret, past every workload-identity check.
 */
export const secretGrantsNotPublic = resourcePolicy(
    {
        name: "secret-grants-not-public",
        family: "secret-scoping",
        description:
            'No secret is readable by everyone: no GCP secret role for allUsers/allAuthenticatedUsers, no Secrets Manager resource policy allowing Principal "*".',
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Grant secret roles to x1agent's Google service account only (serviceAccount:<gsa>@<project>.iam.gserviceaccount.com), never allUsers or allAuthenticatedUsers.\n" +
            '2. Remove Secrets Manager resource policies that allow Principal "*"; x1agent reads through its IRSA role\'s identity policy and needs none.',
    },
    (r, { report }) => {
        if (gcpGrants.includes(r.type)) {
            const role = String(get(r.props, "role") ?? "");
            if (!secretReadingRoles.has(role)) return;
            const members = [get(r.props, "member"), ...list(r.props, "members")].filter((m): m is string => typeof m === "string" && publicMembers.has(m));
            if (members.length > 0) {
                report(
                    `${r.type} '${r.name}' grants ${role} to ${members.join(", ")}: anyone could read the secrets it covers; grant it to x1agent's Google service account only`,
                );
            }
            return;
        }
        if (r.type !== "aws:secretsmanager/secretPolicy:SecretPolicy") return;
        const parsed = parseDocument(get(r.props, "policy"));
        if (!parsed.ok) {
            report(`aws:secretsmanager/secretPolicy:SecretPolicy '${r.name}' policy ${parsed.error}: write it with JSON.stringify of a policy document`);
            return;
        }
        parsed.statements.forEach((s, i) => {
            if (s.effect === "Allow" && everyone(s.principal)) {
                report(
                    `aws:secretsmanager/secretPolicy:SecretPolicy '${r.name}' ${statementName(s, i)} allows Principal "*": every AWS principal could read the secret; remove the statement (x1agent needs no resource policy)`,
                );
            }
        });
    },
);
