import { guarded, stackPolicy, type Res } from "../lib/policy";
import { names } from "../lib/names";
import { bindingSubjects, rbacGroup as rbac, roleRefOf, rulesOf } from "../lib/rbac";
import { isKind, meta } from "../lib/resources";
const readVerbs = new Set(["get", "list", "watch"]);
const writeVerbs = new Set(["create", "update", "patch", "delete"]);

type Access = "read" | "write-only";

interface Config {
    /** Extra `namespace/serviceaccount` subjects allowed in x1agent-secrets, with their access. */
    allowSubjects: Record<string, Access>;
}

/**
 * Who may touch the Tier 1 secret values in x1agent-secrets, by
 * ServiceAccount: eso-reader (read, for ESO), the backup job (read) and the
 * api in capture mode (write-only: it stores what users type, never reads
 * it back). Every RoleBinding there names only these, each bound to a Role
 * in the namespace whose rules match its access; anything else, including a
 * ClusterRole or a Role this stack does not define, fails.
 */
export const secretsNamespaceRbacScoped = stackPolicy<Config>(
    {
        name: "secrets-namespace-rbac-scoped",
        family: "secret-scoping",
        description:
            "RoleBindings in x1agent-secrets bind only eso-reader and the backup job (read secrets) and the api (write-only), each to a Role there whose rules match that access.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Bind nothing else in ${names.secretsNamespace}: the values there are every workspace's secrets.\n` +
            "2. Readers (eso-reader, x1agent/x1agent-secrets-backup) get a Role with get/list/watch on secrets only; the api (capture mode) gets create/update/patch/delete only, never a read verb.\n" +
            "3. Another reader must be reviewed and added to this policy's allowSubjects config.",
        configSchema: {
            properties: {
                allowSubjects: {
                    type: "object",
                    additionalProperties: { type: "string", enum: ["read", "write-only"] },
                    default: {},
                    description: "Extra `namespace/serviceaccount` subjects allowed in x1agent-secrets, with their access (read or write-only).",
                },
            },
        },
    },
    (resources, { report, config }) => {
        const allowed: Record<string, Access> = {
            [`${names.secretsNamespace}/${names.esoReader}`]: "read",
            [`${names.appNamespace}/x1agent-secrets-backup`]: "read",
            [`${names.appNamespace}/${names.apiServiceAccount}`]: "write-only",
            ...config.allowSubjects,
        };
        const roles = new Map<string, Res>();
        for (const r of resources) if (isKind(r, rbac, "Role") && meta(r).namespace === names.secretsNamespace) roles.set(meta(r).name, r);
        for (const b of resources) {
            if (!isKind(b, rbac, "RoleBinding")) continue;
            guarded(b, report, () => {
                const m = meta(b);
                if (m.namespace !== names.secretsNamespace) return;
                const where = `RoleBinding ${m.namespace}/${m.name}`;
                const refKind = roleRefOf(b).kind;
                const refName = roleRefOf(b).name;
                const role = refKind === "Role" ? roles.get(refName) : undefined;
                for (const s of bindingSubjects(b)) {
                    const kind = String(s.kind);
                    const subject = kind === "ServiceAccount" ? `${s.namespace ?? m.namespace}/${String(s.name)}` : `${kind} ${String(s.name)}`;
                    const access = kind === "ServiceAccount" ? allowed[subject] : undefined;
                    if (!access) {
                        report(
                            `${where} grants ${subject} access in ${names.secretsNamespace}, where every Tier 1 secret value lives: only ${Object.keys(allowed).join(", ")} may be bound there`,
                            b.urn,
                        );
                        continue;
                    }
                    if (!role) {
                        report(
                            `${where} binds ${subject} to ${String(refKind)} ${refName}, not a Role defined in ${names.secretsNamespace} by this stack, so its rules cannot be verified: bind a Role in ${names.secretsNamespace}`,
                            b.urn,
                        );
                        continue;
                    }
                    rulesOf(role).forEach((rule, i) => {
                        const groups = rule.apiGroups ?? [];
                        const res = rule.resources ?? [];
                        const verbs = rule.verbs ?? [];
                        const selfReview = groups.every((g) => g === "authorization.k8s.io") && res.every((x) => x === "selfsubjectrulesreviews");
                        const onSecrets = groups.every((g) => g === "") && res.every((x) => x === "secrets");
                        const ok =
                            selfReview || (onSecrets && (access === "read" ? verbs.every((v) => readVerbs.has(v)) : verbs.every((v) => writeVerbs.has(v))));
                        if (!ok) {
                            report(
                                `${where} gives ${subject} (${access}) Role ${refName} rule ${i}: ${verbs.join(",")} on ${groups.map((g) => g || "core").join(",")}/${res.join(",")}; ` +
                                    (access === "read"
                                        ? "a reader may only get/list/watch secrets"
                                        : "the api may only create/update/patch/delete secrets there, never read them"),
                                b.urn,
                            );
                        }
                    });
                }
            });
        }
    },
);
