import { resourcePolicy } from "../lib/policy";
import { get } from "../lib/resources";

/** Roles that read secret payloads (or grant themselves that). */
export const secretReadingRoles = new Set([
    "roles/secretmanager.secretAccessor",
    "roles/secretmanager.admin",
    "roles/secretmanager.secretVersionManager",
    "roles/secretmanager.secretVersionAdder",
    "roles/owner",
    "roles/editor",
]);
/** Roles too broad to grant anywhere in this stack. */
const neverRoles = new Set(["roles/secretmanager.admin", "roles/owner", "roles/editor"]);

const projectLevel = ["gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding"];
const aboveProject = [
    "gcp:organizations/iAMMember:IAMMember",
    "gcp:organizations/iAMBinding:IAMBinding",
    "gcp:folder/iAMMember:IAMMember",
    "gcp:folder/iAMBinding:IAMBinding",
];
const secretLevel = ["gcp:secretmanager/secretIamMember:SecretIamMember", "gcp:secretmanager/secretIamBinding:SecretIamBinding"];

/** The secret id a secret-level grant is on, from `projects/p/secrets/<id>` or a bare `<id>`. */
export function secretIdOf(secretId: string): string {
    return secretId.split("/secrets/").pop()!.split("/")[0]!;
}

/** A project-level condition limiting a grant to secrets whose id starts with x1agent. */
const x1agentCondition = /resource\.name\.startsWith\(\s*["']projects\/[^/"']+\/secrets\/x1agent[-/]?["']\s*\)/;

/**
 * Secret Manager access for x1agent only on x1agent's secrets: a
 * secretAccessor grant on the project needs an IAM condition
 * `resource.name.startsWith("projects/<n>/secrets/x1agent")` (and nothing
 * OR'ed around it), a grant on a secret must be on an `x1agent-*` secret,
 * and no grant here reaches above the project or uses admin/owner/editor.
 */
export const gcpSecretAccessScoped = resourcePolicy(
    {
        name: "gcp-secret-access-scoped",
        family: "secret-scoping",
        description:
            'GCP Secret Manager access is granted only on x1agent secrets: project-level secretAccessor carries a resource.name.startsWith("projects/<n>/secrets/x1agent") condition; no org/folder grants, no admin/owner/editor.',
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            '1. Grant roles/secretmanager.secretAccessor only, with condition { title: "x1agent secrets only", expression: \'resource.name.startsWith("projects/<number>/secrets/x1agent-")\' }, or on individual x1agent-* secrets with gcp.secretmanager.SecretIamMember.\n' +
            "2. Never grant secret roles on folders or organizations, and never admin, owner or editor.",
    },
    (r, { report }) => {
        const all = [...projectLevel, ...aboveProject, ...secretLevel];
        if (!all.includes(r.type)) return;
        const role = String(get(r.props, "role") ?? "");
        if (!secretReadingRoles.has(role)) return;
        const at = `${r.type} '${r.name}' (${role})`;
        if (neverRoles.has(role)) {
            report(`${at} grants ${role}, which reads or manages every secret it reaches: grant roles/secretmanager.secretAccessor on x1agent secrets only`);
            return;
        }
        if (aboveProject.includes(r.type)) {
            report(
                `${at} is granted on a ${r.type.includes("organizations") ? "organization" : "folder"}, reaching every project's secrets: grant it on the project with an x1agent condition`,
            );
            return;
        }
        if (secretLevel.includes(r.type)) {
            const id = secretIdOf(String(get(r.props, "secretId") ?? ""));
            if (!id.startsWith("x1agent"))
                report(`${at} is granted on secret ${id}, which is not an x1agent secret (ids start with x1agent-): grant it only on x1agent secrets`);
            return;
        }
        const expression = get(r.props, "condition", "expression");
        if (typeof expression !== "string") {
            report(
                `${at} is granted on the whole project without a condition, so it reads every secret in it: add condition.expression 'resource.name.startsWith("projects/<number>/secrets/x1agent-")'`,
            );
        } else if (!x1agentCondition.test(expression) || /\|\||!/.test(expression)) {
            report(
                `${at} has condition '${expression}', which does not limit it to x1agent secrets: use exactly 'resource.name.startsWith("projects/<number>/secrets/x1agent-")'`,
            );
        }
    },
);
