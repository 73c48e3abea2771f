/**
 * Reading resources by structure: Kubernetes kinds from their type tokens
 * (`kubernetes:<group>/<version>:<Kind>`, `core` for the core group),
 * metadata, pod specs of every workload kind, and walking values without
 * tripping over the ones a preview does not know.
 */
import type { IClusterExternalSecret, IClusterSecretStore, IExternalSecret, ISecretStore } from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import type { IValidatingAdmissionPolicy, IValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1";
import type { IDaemonSet, IDeployment, IReplicaSet, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import type { ICronJob, IJob } from "kubernetes-models/batch/v1";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import type { IClusterRole, IClusterRoleBinding, IRole, IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type { IConfigMap, IContainer, IEphemeralContainer, INamespace, IPod, IPodSpec, IPodTemplateSpec, ISecret, IServiceAccount } from "kubernetes-models/v1";
import { isUnknownValueError, type Res } from "./policy";

/** Stands for a value the preview does not know yet, in `entriesOf` walks. */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export type Walked = unknown | typeof UNKNOWN;

export interface K8sType {
    /** API group; `core` for the core group. */
    group: string;
    version: string;
    kind: string;
}

/** Groups whose tokens are Pulumi constructs, not Kubernetes objects. */
const notObjects = new Set(["helm.sh", "yaml", "kustomize"]);

/** The Kubernetes group/version/kind of a resource, or undefined when it is not a Kubernetes object. */
export function k8sType(type: string): K8sType | undefined {
    const m = /^kubernetes:([^/:]+)\/([^:]+):(.+)$/.exec(type);
    if (!m || notObjects.has(m[1]!)) return undefined;
    return { group: m[1]!, version: m[2]!, kind: m[3]! };
}

/** Is `r` a Kubernetes object of this group (`core` for the core group) and kind, any version? */
export function isKind(r: Pick<Res, "type">, group: string, kind: string): boolean {
    const t = k8sType(r.type);
    return t !== undefined && t.group === group && t.kind === kind;
}

/**
 * Reads `obj.a.b.c` of a value no model describes (a cloud resource's
 * props, Helm values, stack outputs); undefined when a step is missing (an
 * unknown step throws, see policy.ts). Kubernetes objects are read typed,
 * through `asKind`.
 */
export function get(obj: unknown, ...path: (string | number)[]): unknown {
    let cur: unknown = obj;
    for (const p of path) {
        if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
        cur = (cur as Record<string | number, unknown>)[p];
    }
    return cur;
}

/**
 * For a value a walk found `UNKNOWN` that the check cannot do without:
 * reads it again through the SDK's proxy, which raises its unknown-value
 * error naming the field; the policy machinery turns that into a violation
 * at the policy's own level (see policy.ts).
 */
export function failUnknown(obj: unknown, ...path: (string | number)[]): void {
    get(obj, ...path);
}

/** An array property of a value no model describes, as an array ([] when absent). */
export function list(obj: unknown, ...path: (string | number)[]): unknown[] {
    const v = get(obj, ...path);
    return Array.isArray(v) ? v : [];
}

/** A string property of a value no model describes, or undefined when it is not a string. */
export function text(obj: unknown, ...path: (string | number)[]): string | undefined {
    const v = get(obj, ...path);
    return typeof v === "string" ? v : undefined;
}

/**
 * The Kubernetes kinds the rules read, by `group/Kind` (`core` for the core
 * group), with their models: kubernetes-models, and
 * @kubernetes-models/external-secrets for ESO's (v1; the v1beta1 fields the
 * rules read are the same).
 */
export interface Kinds {
    "core/ConfigMap": IConfigMap;
    "core/Namespace": INamespace;
    "core/Pod": IPod;
    "core/Secret": ISecret;
    "core/ServiceAccount": IServiceAccount;
    "apps/Deployment": IDeployment;
    "apps/StatefulSet": IStatefulSet;
    "apps/DaemonSet": IDaemonSet;
    "apps/ReplicaSet": IReplicaSet;
    "batch/Job": IJob;
    "batch/CronJob": ICronJob;
    "autoscaling/HorizontalPodAutoscaler": IHorizontalPodAutoscaler;
    "policy/PodDisruptionBudget": IPodDisruptionBudget;
    "networking.k8s.io/NetworkPolicy": INetworkPolicy;
    "rbac.authorization.k8s.io/Role": IRole;
    "rbac.authorization.k8s.io/ClusterRole": IClusterRole;
    "rbac.authorization.k8s.io/RoleBinding": IRoleBinding;
    "rbac.authorization.k8s.io/ClusterRoleBinding": IClusterRoleBinding;
    "admissionregistration.k8s.io/ValidatingAdmissionPolicy": IValidatingAdmissionPolicy;
    "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": IValidatingAdmissionPolicyBinding;
    "external-secrets.io/ExternalSecret": IExternalSecret;
    "external-secrets.io/ClusterExternalSecret": IClusterExternalSecret;
    "external-secrets.io/SecretStore": ISecretStore;
    "external-secrets.io/ClusterSecretStore": IClusterSecretStore;
}
export type KindName = keyof Kinds;

/**
 * The props of `r` as the model of `kind` (`group/Kind`, any version) when
 * `r` is one, else undefined. Typing only: the values are what the engine
 * sent, so a field a preview does not know still throws on read (see
 * policy.ts), and every field the model marks required may still be missing.
 */
export function asKind<K extends KindName>(r: Pick<Res, "type" | "props">, kind: K): Kinds[K] | undefined {
    const slash = kind.indexOf("/");
    return isKind(r, kind.slice(0, slash), kind.slice(slash + 1)) ? (r.props as unknown as Kinds[K]) : undefined;
}

export interface Meta {
    name: string;
    /** The object's namespace; `default` when unset (where the API server puts it). */
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

export function meta(r: Pick<Res, "props" | "name">): Meta {
    const m = (r.props as { metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } }).metadata;
    return {
        name: m?.name ?? r.name,
        namespace: m?.namespace ?? "default",
        labels: m?.labels ?? {},
        annotations: m?.annotations ?? {},
    };
}

/** The workload kinds, each with its pod template. */
const templates: { [K in KindName]?: (o: Kinds[K]) => IPodTemplateSpec | undefined } = {
    "apps/Deployment": (o) => o.spec?.template,
    "apps/StatefulSet": (o) => o.spec?.template,
    "apps/DaemonSet": (o) => o.spec?.template,
    "apps/ReplicaSet": (o) => o.spec?.template,
    "batch/Job": (o) => o.spec?.template,
    "batch/CronJob": (o) => o.spec?.jobTemplate?.spec?.template,
};

/** A workload's pod template, or `{ spec }` of a Pod; undefined for anything else. */
function podTemplate(r: Pick<Res, "type" | "props">): { metadata?: IPodTemplateSpec["metadata"]; spec?: IPodSpec } | undefined {
    const t = k8sType(r.type);
    if (!t) return undefined;
    const kind = `${t.group}/${t.kind}`;
    if (kind === "core/Pod") return { spec: (r.props as unknown as IPod).spec };
    const template = templates[kind as KindName] as ((o: unknown) => IPodTemplateSpec | undefined) | undefined;
    return template ? (template(r.props) ?? {}) : undefined;
}

export function isWorkload(r: Pick<Res, "type">): boolean {
    const t = k8sType(r.type);
    return t !== undefined && (`${t.group}/${t.kind}` === "core/Pod" || `${t.group}/${t.kind}` in templates);
}

/** The pod spec of a workload (undefined for anything else), the object in the props: a remediation edits it in place. */
export function podSpec(r: Pick<Res, "type" | "props">): IPodSpec | undefined {
    return podTemplate(r)?.spec;
}

/** The pod template's labels of a controller workload. */
export function podLabels(r: Pick<Res, "type" | "props">): Record<string, string> {
    return podTemplate(r)?.metadata?.labels ?? {};
}

/** One container of a pod spec and where it sits. */
export interface PodContainer {
    c: IContainer | IEphemeralContainer;
    field: "containers" | "initContainers" | "ephemeralContainers";
}

/** Containers of a pod spec, with where they sit (`containers`, `initContainers` or `ephemeralContainers`). */
export function containers(spec: IPodSpec | undefined): PodContainer[] {
    return [
        ...(spec?.containers ?? []).map((c) => ({ c, field: "containers" as const })),
        ...(spec?.initContainers ?? []).map((c) => ({ c, field: "initContainers" as const })),
        ...(spec?.ephemeralContainers ?? []).map((c) => ({ c, field: "ephemeralContainers" as const })),
    ];
}

/** The config every workload rule takes: workloads, or single containers of them, it skips. */
export interface WorkloadRuleConfig {
    /**
     * Workloads to skip, as `Kind namespace/name` (the form `WorkloadView.id`
     * has), or one container of one, as `Kind namespace/name <field> <container>`
     * (the form of `WorkloadView.containers[].at`, e.g.
     * `StatefulSet x1agent/x1agent-nats containers reloader`): the narrower
     * entry leaves the workload's other containers checked.
     */
    exclude: string[];
}

/** The policy config schema of `WorkloadRuleConfig`, with the `exclude` list a rule skips when the config names none. */
export function workloadRuleConfigSchema(defaultExclude: readonly string[] = []) {
    return {
        properties: {
            exclude: {
                type: "array" as const,
                items: { type: "string" as const },
                default: [...defaultExclude],
                description: "Workloads to skip, as `Kind namespace/name`, or one container of one, as `Kind namespace/name containers <name>`.",
            },
        },
    };
}

/** A workload as the workload rules walk it: how messages name it, its pod spec, and each container with how messages name it. */
export interface WorkloadView {
    /** `Kind namespace/name`, the form `exclude` lists use too. */
    id: string;
    spec: IPodSpec | undefined;
    containers: (PodContainer & { at: string })[];
}

/**
 * The one container walk of the workload rules: a workload (any kind with a
 * pod spec) not listed in `exclude`, else undefined; its containers without
 * those `exclude` lists one by one.
 */
export function workloadOf(r: Pick<Res, "type" | "props" | "name">, exclude: readonly string[] = []): WorkloadView | undefined {
    if (!isWorkload(r)) return undefined;
    const id = describe(r);
    if (exclude.includes(id)) return undefined;
    const spec = podSpec(r);
    const walked = containers(spec).map((pc) => ({ ...pc, at: `${id} ${pc.field} ${String(pc.c.name)}` }));
    return { id, spec, containers: walked.filter((pc) => !exclude.includes(pc.at)) };
}

/** `kind namespace/name`, how messages name a Kubernetes object. */
export function describe(r: Pick<Res, "type" | "props" | "name">): string {
    const t = k8sType(r.type);
    const m = meta(r);
    if (!t) return `${r.type} '${r.name}'`;
    return clusterScoped.has(t.kind) ? `${t.kind} ${m.name}` : `${t.kind} ${m.namespace}/${m.name}`;
}

const clusterScoped = new Set([
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterSecretStore",
    "ClusterExternalSecret",
    "ClusterPushSecret",
    "ClusterGenerator",
    "ClusterIssuer",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
]);

/**
 * The own entries of an object, where a value the preview does not know is
 * `UNKNOWN` instead of an exception: for checks that scan many values and
 * must decide per value what an unknown means.
 */
export function entriesOf(obj: unknown): [string, Walked][] {
    if (obj === null || typeof obj !== "object") return [];
    const out: [string, Walked][] = [];
    for (const key of Object.keys(obj)) {
        try {
            out.push([key, (obj as Record<string, unknown>)[key]]);
        } catch (err) {
            if (!isUnknownValueError(err)) throw err;
            out.push([key, UNKNOWN]);
        }
    }
    return out;
}

/** Every leaf under `obj` with its path, unknown leaves as `UNKNOWN`. */
export function leaves(obj: unknown, path: string[] = []): { path: string[]; value: Walked }[] {
    if (obj === UNKNOWN || obj === null || typeof obj !== "object") return [{ path, value: obj }];
    const out: { path: string[]; value: Walked }[] = [];
    for (const [k, v] of entriesOf(obj)) out.push(...leaves(v, [...path, k]));
    return out;
}
