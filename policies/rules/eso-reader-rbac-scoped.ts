import { resourcePolicy } from "../lib/policy";
import { names } from "../lib/names";
import { bindingSubjects, rbacGroup as rbac, roleRefOf, rulesOf } from "../lib/rbac";
import { isKind, meta } from "../lib/resources";
const readVerbs = new Set(["get", "list", "watch"]);

/**
 * `eso-reader` is the identity that can read every Tier 1 secret value. It
 * may read Secrets in x1agent-secrets and nothing else: bound only by a
 * RoleBinding there, its Role limited to get/list/watch on secrets (plus
 * the SelfSubjectRulesReview ESO uses to validate the store).
 */
export const esoReaderRbacScoped = resourcePolicy(
    {
        name: "eso-reader-rbac-scoped",
        family: "secret-scoping",
        description: "The eso-reader ServiceAccount is bound only in x1agent-secrets, by a Role that allows get/list/watch on secrets and nothing more.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Bind ${names.esoReader} with a RoleBinding in ${names.secretsNamespace} only; never with a ClusterRoleBinding.\n` +
            `2. Keep its Role to rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }].`,
    },
    (r, { report }) => {
        const isBinding = isKind(r, rbac, "RoleBinding") || isKind(r, rbac, "ClusterRoleBinding");
        if (isBinding) {
            const m = meta(r);
            const bindsReader = bindingSubjects(r).some((s) => s.kind === "ServiceAccount" && s.name === names.esoReader);
            if (!bindsReader) return;
            if (isKind(r, rbac, "ClusterRoleBinding")) {
                report(`ClusterRoleBinding ${m.name} binds ${names.esoReader} cluster-wide: bind it with a RoleBinding in ${names.secretsNamespace} only`);
                return;
            }
            if (m.namespace !== names.secretsNamespace) {
                report(
                    `RoleBinding ${m.namespace}/${m.name} gives ${names.esoReader} permissions in ${m.namespace}: it may only hold a RoleBinding in ${names.secretsNamespace}`,
                );
            }
            if (roleRefOf(r).kind === "ClusterRole") {
                report(
                    `RoleBinding ${m.namespace}/${m.name} binds ${names.esoReader} to ClusterRole ${roleRefOf(r).name}: use a Role in ${names.secretsNamespace} limited to get/list/watch on secrets`,
                );
            }
            return;
        }
        if (isKind(r, rbac, "Role")) {
            const m = meta(r);
            if (m.name !== names.esoReader) return;
            rulesOf(r).forEach((rule, i) => {
                const groups = rule.apiGroups ?? [];
                const resources = rule.resources ?? [];
                const verbs = rule.verbs ?? [];
                const selfReview =
                    groups.every((g) => g === "authorization.k8s.io") &&
                    resources.every((x) => x === "selfsubjectrulesreviews") &&
                    verbs.every((v) => v === "create");
                const secretsRead = groups.every((g) => g === "") && resources.every((x) => x === "secrets") && verbs.every((v) => readVerbs.has(v));
                if (!selfReview && !secretsRead) {
                    report(
                        `Role ${m.namespace}/${m.name} rule ${i} allows ${verbs.join(",")} on ${groups.map((g) => g || "core").join(",")}/${resources.join(",")}: ` +
                            `${names.esoReader} may only get/list/watch secrets (apiGroups [""], resources ["secrets"])`,
                    );
                }
            });
        }
    },
);
