/**
 * Reading resources by structure: Kubernetes kinds from their type tokens
 * (`kubernetes:<group>/<version>:<Kind>`, `core` for the core group),
 * metadata, pod specs of every workload kind, and walking values without
 * tripping over the ones a preview does not know.
 */
import type { IContainer, IEphemeralContainer, IPodSpec } from "kubernetes-models/v1";
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

/** Reads `obj.a.b.c`; undefined when a step is missing (an unknown step throws, see policy.ts). */
export function get(obj: unknown, ...path: (string | number)[]): any {
    let cur: any = obj;
    for (const p of path) {
        if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
        cur = cur[p];
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

/** An array property as an array ([] when absent). */
export function list(obj: unknown, ...path: (string | number)[]): any[] {
    const v = get(obj, ...path);
    return Array.isArray(v) ? v : [];
}

export interface Meta {
    name: string;
    /** The object's namespace; `default` when unset (where the API server puts it). */
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

export function meta(r: Pick<Res, "props" | "name">): Meta {
    const m = get(r.props, "metadata") ?? {};
    return {
        name: get(m, "name") ?? r.name,
        namespace: get(m, "namespace") ?? "default",
        labels: get(m, "labels") ?? {},
        annotations: get(m, "annotations") ?? {},
    };
}

/** Workload kinds and where their pod spec lives. */
const podSpecPaths: Record<string, string[]> = {
    "apps/Deployment": ["spec", "template", "spec"],
    "apps/StatefulSet": ["spec", "template", "spec"],
    "apps/DaemonSet": ["spec", "template", "spec"],
    "apps/ReplicaSet": ["spec", "template", "spec"],
    "batch/Job": ["spec", "template", "spec"],
    "batch/CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    "core/Pod": ["spec"],
};

/** The path of the pod spec inside a workload's props, or undefined for a non-workload. */
export function podSpecPath(r: Pick<Res, "type">): string[] | undefined {
    const t = k8sType(r.type);
    return t ? podSpecPaths[`${t.group}/${t.kind}`] : undefined;
}

export function isWorkload(r: Pick<Res, "type">): boolean {
    return podSpecPath(r) !== undefined;
}

/**
 * The props of a Kubernetes object, typed as the model the caller names
 * (kubernetes-models: `IConfigMap`, `IRole`, ...) once the kind is checked.
 * Typing only: the values are what the engine sent, so fields a preview does
 * not know still throw on read (see policy.ts).
 */
export function objectOf<T>(r: Pick<Res, "props">): T {
    return r.props as T;
}

/** The pod spec of a workload (undefined for anything else). */
export function podSpec(r: Pick<Res, "type" | "props">): IPodSpec | undefined {
    const p = podSpecPath(r);
    return p ? get(r.props, ...p) : undefined;
}

/** The pod template's labels of a controller workload. */
export function podLabels(r: Pick<Res, "type" | "props">): Record<string, string> {
    const p = podSpecPath(r);
    if (!p) return {};
    return get(r.props, ...p.slice(0, -1), "metadata", "labels") ?? {};
}

/** One container of a pod spec and where it sits. */
export interface PodContainer {
    c: IContainer | IEphemeralContainer;
    field: "containers" | "initContainers" | "ephemeralContainers";
}

/** Containers of a pod spec, with where they sit (`containers`, `initContainers` or `ephemeralContainers`). */
export function containers(spec: IPodSpec | undefined): PodContainer[] {
    return [
        ...list(spec, "containers").map((c: IContainer) => ({ c, field: "containers" as const })),
        ...list(spec, "initContainers").map((c: IContainer) => ({ c, field: "initContainers" as const })),
        ...list(spec, "ephemeralContainers").map((c: IEphemeralContainer) => ({ c, field: "ephemeralContainers" as const })),
    ];
}

/** The config every workload rule takes: workloads it skips. */
export interface WorkloadRuleConfig {
    /** Workloads to skip, as `Kind namespace/name` (e.g. an upstream chart's), the form `WorkloadView.id` has. */
    exclude: string[];
}

/** The policy config schema of `WorkloadRuleConfig`. */
export const workloadRuleConfigSchema = {
    properties: {
        exclude: { type: "array" as const, items: { type: "string" as const }, default: [], description: "Workloads to skip, as `Kind namespace/name`." },
    },
};

/** A workload as the workload rules walk it: how messages name it, its pod spec, and each container with how messages name it. */
export interface WorkloadView {
    /** `Kind namespace/name`, the form `exclude` lists use too. */
    id: string;
    spec: IPodSpec | undefined;
    containers: (PodContainer & { at: string })[];
}

/**
 * The one container walk of the workload rules: a workload (any kind with a
 * pod spec) not listed in `exclude`, else undefined.
 */
export function workloadOf(r: Pick<Res, "type" | "props" | "name">, exclude: readonly string[] = []): WorkloadView | undefined {
    if (!isWorkload(r)) return undefined;
    const id = describe(r);
    if (exclude.includes(id)) return undefined;
    const spec = podSpec(r);
    return { id, spec, containers: containers(spec).map((pc) => ({ ...pc, at: `${id} ${pc.field} ${String(pc.c.name)}` })) };
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
