/**
 * What an RBAC rule lets its holder do with Secrets, directly or not. Reading
 * a Secret needs no `get secrets`: a pod that mounts it, a shell in such a
 * pod, a token of a ServiceAccount that may read it, impersonating one,
 * granting oneself the right, or asking ESO to materialize it all reach the
 * same value. Each capability below is one such path (docs/threat-model.md
 * lists them with their mitigations); a rule is matched the way the API
 * server authorizes it, `*` included.
 */
import type { IClusterRole, IClusterRoleBinding, IPolicyRule, IRole, IRoleBinding, ISubject } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type { Res } from "./policy";
import { asKind, meta } from "./resources";

export const rbacGroup = "rbac.authorization.k8s.io";

export interface Rule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames: string[];
}

export function ruleOf(raw: IPolicyRule): Rule {
    return { apiGroups: raw.apiGroups ?? [], resources: raw.resources ?? [], verbs: raw.verbs ?? [], resourceNames: raw.resourceNames ?? [] };
}

/** A Role or ClusterRole, typed; undefined for anything else. */
export function roleOf(r: Res): IRole | IClusterRole | undefined {
    return asKind(r, "rbac.authorization.k8s.io/Role") ?? asKind(r, "rbac.authorization.k8s.io/ClusterRole");
}

/** The rules of a Role or ClusterRole ([] for anything else). */
export function rulesOf(role: Res): IPolicyRule[] {
    return roleOf(role)?.rules ?? [];
}

/** An aggregated ClusterRole: its rules are filled in by the API server from other roles, so the stack does not show them. */
export function isAggregated(role: Res): boolean {
    return asKind(role, "rbac.authorization.k8s.io/ClusterRole")?.aggregationRule !== undefined;
}

/** A RoleBinding or ClusterRoleBinding, typed; undefined for anything else. */
export function bindingOf(r: Res): IRoleBinding | IClusterRoleBinding | undefined {
    return asKind(r, "rbac.authorization.k8s.io/RoleBinding") ?? asKind(r, "rbac.authorization.k8s.io/ClusterRoleBinding");
}

/** What a binding grants: `kind` Role or ClusterRole and its name ("" when unset). */
export function roleRefOf(binding: Res): { kind: string; name: string } {
    const ref = bindingOf(binding)?.roleRef;
    return { kind: ref?.kind ?? "", name: ref?.name ?? "" };
}

/** The subjects of a binding as written ([] for anything else). */
export function bindingSubjects(binding: Res): ISubject[] {
    return bindingOf(binding)?.subjects ?? [];
}

interface Grant {
    groups: string[];
    /** `resource` or `resource/subresource`. */
    resources: string[];
    /** Verbs; empty means any verb. */
    verbs: string[];
}

export interface Capability {
    id: string;
    /** What the holder can do, for messages: "<subject> can <what>". */
    what: string;
    grants: Grant[];
}

const workloadWrite = ["create", "update", "patch"];

/** Every way an RBAC rule reaches a Secret value or a credential, directly or through something else. */
export const capabilities: Capability[] = [
    {
        id: "read-secrets",
        what: "read Secret values (get/list/watch secrets)",
        grants: [{ groups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }],
    },
    {
        id: "write-secrets",
        what: "create Secrets, including a kubernetes.io/service-account-token Secret that the token controller fills with a long-lived token of any ServiceAccount there",
        grants: [{ groups: [""], resources: ["secrets"], verbs: ["create", "update", "patch"] }],
    },
    {
        id: "run-pods",
        what: "start pods (directly or through a controller) that mount any Secret of the namespace and run as any of its ServiceAccounts",
        grants: [
            { groups: [""], resources: ["pods", "replicationcontrollers"], verbs: workloadWrite },
            { groups: ["apps"], resources: ["deployments", "statefulsets", "daemonsets", "replicasets"], verbs: workloadWrite },
            { groups: ["batch"], resources: ["jobs", "cronjobs"], verbs: workloadWrite },
        ],
    },
    {
        id: "enter-pods",
        what: "run commands in, attach to, add containers to or proxy into running pods, which see the Secrets those pods mount",
        grants: [
            { groups: [""], resources: ["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "services/proxy"], verbs: [] },
            { groups: [""], resources: ["pods/ephemeralcontainers"], verbs: ["update", "patch"] },
        ],
    },
    {
        id: "kubelet-api",
        what: "reach the kubelet API (nodes/proxy): exec into any pod on the node, past admission",
        grants: [{ groups: [""], resources: ["nodes/proxy"], verbs: [] }],
    },
    {
        id: "mint-tokens",
        what: "request tokens for ServiceAccounts (serviceaccounts/token), and so act as eso-reader or the api's cloud identity",
        grants: [{ groups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] }],
    },
    {
        id: "impersonate",
        what: "impersonate users, groups or ServiceAccounts",
        grants: [
            { groups: [""], resources: ["users", "groups", "serviceaccounts"], verbs: ["impersonate"] },
            { groups: ["authentication.k8s.io"], resources: ["userextras", "uids"], verbs: ["impersonate"] },
        ],
    },
    {
        id: "grant-rbac",
        what: "grant permissions (escalate/bind, or write Roles and bindings) to itself or to another subject",
        grants: [
            { groups: [rbacGroup], resources: ["roles", "clusterroles", "rolebindings", "clusterrolebindings"], verbs: ["escalate", "bind", ...workloadWrite] },
        ],
    },
    {
        id: "change-admission",
        what: "change admission control (the session ValidatingAdmissionPolicy, webhooks) that keeps workspace pods to the session image",
        grants: [
            {
                groups: ["admissionregistration.k8s.io"],
                resources: [
                    "validatingadmissionpolicies",
                    "validatingadmissionpolicybindings",
                    "mutatingadmissionpolicies",
                    "mutatingadmissionpolicybindings",
                    "validatingwebhookconfigurations",
                    "mutatingwebhookconfigurations",
                ],
                verbs: [...workloadWrite, "delete"],
            },
        ],
    },
    {
        id: "relabel-namespaces",
        what: "relabel namespaces, dropping Pod Security restricted or the workspace label the session policy selects on",
        grants: [{ groups: [""], resources: ["namespaces"], verbs: ["update", "patch"] }],
    },
    {
        id: "drive-eso",
        what: "create External Secrets objects, which ESO serves with its own cluster-wide access and the stores' identities",
        grants: [{ groups: ["external-secrets.io", "generators.external-secrets.io"], resources: ["*"], verbs: workloadWrite }],
    },
    {
        id: "host-volumes",
        what: "create PersistentVolumes (a hostPath volume onto a node's kubelet directory)",
        grants: [{ groups: [""], resources: ["persistentvolumes"], verbs: ["create"] }],
    },
    {
        id: "sign-certificates",
        what: "approve certificate signing requests (a client certificate for any user)",
        grants: [{ groups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval", "signers"], verbs: ["update", "patch", "approve"] }],
    },
];

const covers = (have: string[], want: string) => have.includes("*") || have.includes(want);

function ruleGrants(rule: Rule, grant: Grant): boolean {
    if (!grant.groups.some((g) => covers(rule.apiGroups, g))) return false;
    const resourceOk = grant.resources.some((want) => {
        if (covers(rule.resources, want)) return true;
        // `pods/*` covers every subresource of pods; `*/exec` every resource's exec.
        const [res, sub] = want.split("/");
        return sub !== undefined && (rule.resources.includes(`${res}/*`) || rule.resources.includes(`*/${sub}`));
    });
    if (!resourceOk) return false;
    return grant.verbs.length === 0 ? rule.verbs.length > 0 : grant.verbs.some((v) => covers(rule.verbs, v));
}

/** The capabilities one rule grants (resourceNames do not narrow them: a name can be any object's). */
export function ruleCapabilities(raw: IPolicyRule): Capability[] {
    const rule = ruleOf(raw);
    return capabilities.filter((c) => c.grants.some((g) => ruleGrants(rule, g)));
}

/** Built-in ClusterRoles whose rules are known: the user-facing ones of every cluster. */
export const builtinClusterRoles: Record<string, Capability[]> = {
    "cluster-admin": capabilities,
    admin: capabilities.filter((c) => !["kubelet-api", "host-volumes", "sign-certificates", "change-admission", "relabel-namespaces"].includes(c.id)),
    edit: capabilities.filter((c) => ["read-secrets", "write-secrets", "run-pods", "enter-pods", "mint-tokens", "impersonate", "drive-eso"].includes(c.id)),
    view: [],
};

export interface Subject {
    kind: string;
    name: string;
    /** For ServiceAccounts: their namespace (the binding's when unset). */
    namespace?: string;
}

/** How messages name a subject: `ServiceAccount ns/name`, `Group name`. */
export function subjectName(s: Subject): string {
    return s.kind === "ServiceAccount" ? `ServiceAccount ${s.namespace}/${s.name}` : `${s.kind} ${s.name}`;
}

export function subjectsOf(binding: Res): Subject[] {
    const bindingNs = meta(binding).namespace;
    return bindingSubjects(binding).map((s) => {
        const kind = s.kind ?? "";
        const name = s.name ?? "";
        return kind === "ServiceAccount" ? { kind, name, namespace: s.namespace ?? bindingNs } : { kind, name };
    });
}

/** Roles (by `namespace/name`) and ClusterRoles (by name) a stack defines. */
export function rolesOf(resources: Res[]): { roles: Map<string, Res>; clusterRoles: Map<string, Res> } {
    const roles = new Map<string, Res>();
    const clusterRoles = new Map<string, Res>();
    for (const r of resources) {
        if (asKind(r, "rbac.authorization.k8s.io/Role")) roles.set(`${meta(r).namespace}/${meta(r).name}`, r);
        if (asKind(r, "rbac.authorization.k8s.io/ClusterRole")) clusterRoles.set(meta(r).name, r);
    }
    return { roles, clusterRoles };
}
