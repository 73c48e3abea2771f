import { guarded, stackPolicy, type Res } from "../lib/policy";
import {
    builtinClusterRoles,
    capabilities,
    type Capability,
    isAggregated,
    rbacGroup,
    roleRefOf,
    rolesOf,
    ruleCapabilities,
    rulesOf,
    type Subject,
    subjectName,
    subjectsOf,
} from "../lib/rbac";
import { asKind, isKind, meta } from "../lib/resources";
import { names, runtimeNames, workspaceIdOf } from "../lib/names";

interface AllowedGrant {
    /** `ServiceAccount <namespace>/<name>`, `Group <name>` or `User <name>`. */
    subject: string;
    /** A capability id (docs/threat-model.md, policies/lib/rbac.ts). */
    capability: string;
    /** Where: a namespace name, `x1agent-ws-*` for every workspace, or `*` for cluster-wide. */
    namespace: string;
}

interface Config {
    /** Namespaces of the add-on controllers (ESO, cert-manager, ...), trusted with their charts' RBAC. */
    controllerNamespaces: string[];
    /** Grants reviewed beyond the program's own. */
    allowGrants: AllowedGrant[];
}

const api = `ServiceAccount ${names.appNamespace}/${names.apiServiceAccount}`;
const workspaces = `${names.workspaceNamespacePrefix}*`;

/**
 * The grants the program makes on purpose, each reviewed in
 * docs/threat-model.md: the Tier 1 readers and the api's write-only capture
 * role in x1agent-secrets, and the api's right to start session pods in
 * workspaces, which is safe only behind the session admission policy.
 */
const programGrants: (AllowedGrant & { needsSessionPolicy?: boolean })[] = [
    { subject: `ServiceAccount ${names.secretsNamespace}/${names.esoReader}`, capability: "read-secrets", namespace: names.secretsNamespace },
    { subject: `ServiceAccount ${names.appNamespace}/${runtimeNames.secretsBackup}`, capability: "read-secrets", namespace: names.secretsNamespace },
    { subject: api, capability: "write-secrets", namespace: names.secretsNamespace },
    { subject: api, capability: "run-pods", namespace: workspaces, needsSessionPolicy: true },
];

function namespaceMatches(pattern: string, scope: string): boolean {
    if (pattern === "*") return true;
    if (scope === "*") return false;
    if (pattern === workspaces) return workspaceIdOf(scope) !== undefined;
    return pattern === scope;
}

/** Is there a ValidatingAdmissionPolicy bound with Deny that checks pods in workspace namespaces? */
function sessionPolicyEnforced(resources: Res[]): boolean {
    const policies = new Set(
        resources
            .filter((r) =>
                (asKind(r, "admissionregistration.k8s.io/ValidatingAdmissionPolicy")?.spec?.matchConstraints?.resourceRules ?? []).some((rule) =>
                    (rule.resources ?? []).includes("pods"),
                ),
            )
            .map((r) => meta(r).name),
    );
    return resources.some((r) => {
        const binding = asKind(r, "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding")?.spec;
        return binding?.policyName !== undefined && policies.has(binding.policyName) && (binding.validationActions ?? []).map(String).includes("Deny");
    });
}

const aggregationLabel = /^rbac\.authorization\.k8s\.io\/aggregate-to-(admin|edit|view)$/;

/**
 * Reading a Secret needs no `get secrets`: starting a pod that mounts it,
 * exec into one, a ServiceAccount token, impersonation, granting oneself the
 * right, writing a token Secret, changing the session admission policy, or
 * asking ESO to materialize it reach the same values. Every binding in the
 * stack is resolved to its rules and each such capability
 * (policies/lib/rbac.ts) must be one the program grants on purpose or one
 * reviewed in config; the add-on controllers' own namespaces are trusted
 * with their charts' RBAC. A role this stack does not define, or an
 * aggregated one, cannot be verified and fails closed; a ClusterRole that
 * aggregates such a capability into admin, edit or view hands it to everyone
 * who holds those.
 */
export const rbacNoIndirectSecretAccess = stackPolicy<Config>(
    {
        name: "rbac-no-indirect-secret-access",
        family: "secret-scoping",
        description:
            "No Role or ClusterRole bound in the stack reaches a Secret indirectly (pods that mount it, exec/attach, serviceaccounts/token, impersonate, escalate/bind, token Secrets, admission changes, ESO objects, nodes/proxy), except the grants the program makes on purpose.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Remove the capability from the Role: list resources and verbs explicitly, never `*`, and leave out pods/exec, pods/attach, serviceaccounts/token, impersonate, escalate, bind and nodes/proxy.\n" +
            "2. Bind Roles this stack defines (or the built-in view), not admin, edit or cluster-admin; never aggregate such rules into admin/edit/view.\n" +
            "3. A grant that is truly needed is reviewed in docs/threat-model.md and added to this policy's allowGrants config ({ subject, capability, namespace }).",
        configSchema: {
            properties: {
                controllerNamespaces: {
                    type: "array",
                    items: { type: "string" },
                    default: ["kube-system", names.esoNamespace, "cert-manager", "cnpg-system"],
                    description: "Namespaces of the add-on controllers, trusted with the RBAC their charts ship.",
                },
                allowGrants: {
                    type: "array",
                    items: {
                        type: "object",
                        properties: {
                            subject: { type: "string" },
                            capability: { type: "string", enum: capabilities.map((c) => c.id) },
                            namespace: { type: "string" },
                        },
                        required: ["subject", "capability", "namespace"],
                    },
                    default: [],
                    description:
                        "Reviewed grants beyond the program's own: { subject: 'ServiceAccount ns/name', capability, namespace ('x1agent-ws-*', a name, or '*') }.",
                },
            },
        },
    },
    (resources, { report, config }) => {
        const { roles, clusterRoles } = rolesOf(resources);
        const sessionPolicy = sessionPolicyEnforced(resources);

        for (const r of resources) {
            if (!isKind(r, rbacGroup, "ClusterRole")) continue;
            guarded(r, report, () => {
                const m = meta(r);
                const into = Object.keys(m.labels).filter((l) => aggregationLabel.test(l) && m.labels[l] === "true");
                if (into.length === 0) return;
                const caps = [...new Set(rulesOf(r).flatMap(ruleCapabilities))];
                if (caps.length > 0) {
                    report(
                        `ClusterRole ${m.name} aggregates into ${into.map((l) => l.split("aggregate-to-")[1]).join(", ")} rules that ${caps.map((c) => c.what).join("; ")}: ` +
                            "everyone holding those built-in roles in any namespace gets it; remove the aggregate-to-* label (for the ESO chart: rbac.aggregateToEdit/aggregateToAdmin false)",
                        r.urn,
                    );
                }
            });
        }

        for (const b of resources) {
            const isRoleBinding = isKind(b, rbacGroup, "RoleBinding");
            if (!isRoleBinding && !isKind(b, rbacGroup, "ClusterRoleBinding")) continue;
            guarded(b, report, () => {
                const m = meta(b);
                const scope = isRoleBinding ? m.namespace : "*";
                const where = isRoleBinding ? `RoleBinding ${m.namespace}/${m.name}` : `ClusterRoleBinding ${m.name}`;
                const subjects = subjectsOf(b).filter((s) => !(s.kind === "ServiceAccount" && config.controllerNamespaces.includes(s.namespace!)));
                if (subjects.length === 0) return;
                const refKind = roleRefOf(b).kind;
                const refName = roleRefOf(b).name;
                const role = refKind === "Role" ? roles.get(`${m.namespace}/${refName}`) : clusterRoles.get(refName);
                let caps: Capability[];
                if (role && isAggregated(role)) {
                    report(
                        `${where} binds ${subjects.map(subjectName).join(", ")} to aggregated ClusterRole ${refName}, whose rules cannot be verified here: bind a Role with explicit rules`,
                        b.urn,
                    );
                    return;
                } else if (role) {
                    caps = [...new Set(rulesOf(role).flatMap(ruleCapabilities))];
                } else if (refKind === "ClusterRole" && refName in builtinClusterRoles) {
                    caps = builtinClusterRoles[refName]!;
                } else {
                    report(
                        `${where} binds ${subjects.map(subjectName).join(", ")} to ${refKind} ${refName}, which this stack does not define, so what it reaches cannot be verified: define the role in this stack or bind the built-in view`,
                        b.urn,
                    );
                    return;
                }
                for (const s of subjects) checkSubject(s, caps, scope, where, b.urn);
            });
        }

        function checkSubject(s: Subject, caps: Capability[], scope: string, where: string, urn: string) {
            const who = subjectName(s);
            const allowed = [...programGrants, ...config.allowGrants];
            const open = caps.filter((c) => {
                const grant = allowed.find((g) => g.subject === who && g.capability === c.id && namespaceMatches(g.namespace, scope));
                if (grant === undefined) return true;
                if ("needsSessionPolicy" in grant && grant.needsSessionPolicy && !sessionPolicy) {
                    report(
                        `${where} lets ${who} ${c.what} in ${scope}, which is safe only behind the session admission policy, and the stack has none bound with Deny: keep sessions.admissionPolicy: true`,
                        urn,
                    );
                }
                return false;
            });
            if (open.length === 0) return;
            const at = scope === "*" ? "in every namespace" : `in namespace ${scope}`;
            report(
                `${where} lets ${who} ${open.map((c) => c.what).join("; ")} ${at}: each reaches Secret values without reading them; remove ${open.length === 1 ? "it" : "them"} from the role (${open.map((c) => c.id).join(", ")})`,
                urn,
            );
        }
    },
);
