/**
 * The hardened pod template every x1agent workload uses (api, app, worker,
 * maintenance and backup jobs), and the rollout annotations that make a
 * changed ConfigMap or Secret reference roll the pods. Pure functions: the
 * components in this folder call them and own the resources.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { runtimeNames } from "../../policies/lib/names";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";

/** The runtime's object names: defined with the other shared names (policies/lib/names.ts), which the policy pack reads too. */
export { runtimeNames };

export const ports = { http: 8080, metrics: 9090 } as const;

/** The HTTP contract every long-running x1agent container serves. */
export const httpPaths = {
    liveness: "/healthz",
    readiness: "/readyz",
    /** Blocks until in-flight requests and NATS subscriptions are drained; called by preStop. */
    drain: "/drain",
    metrics: "/metrics",
} as const;

export const rolloutAnnotations = {
    /** sha256 of the ConfigMap data the pods read. */
    config: "x1agent.dev/config-checksum",
    /** sha256 of the referenced Secrets' identities (name, key, producing object's spec), never their values. */
    secrets: "x1agent.dev/secrets-checksum",
    /** Stakater Reloader (or a compatible controller): roll when these Secrets' values change in place. */
    reloaderSecrets: "secret.reloader.stakater.com/reload",
    reloaderConfigMaps: "configmap.reloader.stakater.com/reload",
} as const;

/** Where the writable scratch space lives (the root filesystem is read-only). */
export const tmpMount = { name: "tmp", mountPath: "/tmp" } as const;

/** UID/GID every x1agent container runs as (non-root). */
export const runAsUser = 1000;

export type ImageName = keyof Omit<StackConfig["images"], "registry" | "pullSecrets">;

/** `registry/repository:tag`, or `...:tag@sha256:...` when a digest pins it (air-gapped mirrors set `registry`). */
export function imageRef(images: StackConfig["images"], name: ImageName): string {
    const i = images[name];
    return `${images.registry}/${i.repository}:${i.tag}${i.digest ? `@${i.digest}` : ""}`;
}

/** A Secret a pod reads. Its identity, never its value, enters the rollout checksum. */
export interface SecretUse {
    /** Secret name, in the pod's namespace. */
    secretName: pulumi.Input<string>;
    /** The key read (env), or unset when the whole Secret is mounted. */
    key?: string;
    /**
     * When this program creates the object that writes the Secret (an
     * ExternalSecret, a cert-manager Certificate): its spec. A changed spec
     * (new remote key, new DNS names) changes the checksum and rolls the pods.
     */
    producer?: pulumi.Input<unknown>;
}

/** Env, volumes and Secret references one concern adds to a pod. */
export interface PodWiring {
    env: k8s.types.input.core.v1.EnvVar[];
    volumes: k8s.types.input.core.v1.Volume[];
    volumeMounts: k8s.types.input.core.v1.VolumeMount[];
    secrets: SecretUse[];
}

/** No env, volumes or Secrets: what a concern adds when it is switched off. */
export const noWiring = (): PodWiring => ({ env: [], volumes: [], volumeMounts: [], secrets: [] });

export function mergeWiring(...parts: PodWiring[]): PodWiring {
    return {
        env: parts.flatMap((p) => p.env),
        volumes: parts.flatMap((p) => p.volumes),
        volumeMounts: parts.flatMap((p) => p.volumeMounts),
        secrets: parts.flatMap((p) => p.secrets),
    };
}

/** One container of a hardened pod. */
export interface ContainerArgs {
    name: string;
    image: string;
    args?: string[];
    resources: StackConfig["api"]["resources"];
    /** Container-specific env, after the shared ConfigMap (envFrom). */
    env?: k8s.types.input.core.v1.EnvVar[];
    volumeMounts?: k8s.types.input.core.v1.VolumeMount[];
}

/** A stateless workload's stack config (`api`, `app` or `worker`): replicas, resources, hpa, grace period. */
export type WorkloadConfig = StackConfig["api"];

export interface PodTemplateArgs {
    /** `images.pullSecrets`: Secrets the kubelet pulls the images with. */
    imagePullSecrets: string[];
    /** `app.kubernetes.io/name` of the pods (selector, spread and NetworkPolicy key). */
    appName: string;
    /** Labels on the pods, selector label included. */
    labels: Record<string, string>;
    serviceAccountName: pulumi.Input<string>;
    /** Mount the ServiceAccount token: only pods that call the Kubernetes API (the api, the secrets backup). */
    automountServiceAccountToken: boolean;
    containers: ContainerArgs[];
    volumes?: k8s.types.input.core.v1.Volume[];
    /** The ConfigMap data the pods read through envFrom; its checksum rolls them when it changes. */
    configData: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Every Secret the pods read (env valueFrom or mounted). */
    secrets: SecretUse[];
    /**
     * `server`: a long-running Deployment pod: HTTP probes, preStop drain,
     * zone spread. `job`: a run-to-completion pod (CronJob): no probes, no
     * drain, restartPolicy Never.
     */
    kind: "server" | "job";
    terminationGracePeriodSeconds?: number;
}

/**
 * The pod template every workload uses: non-root, read-only root filesystem
 * with an emptyDir at /tmp, all capabilities dropped, no privilege
 * escalation, seccomp RuntimeDefault, resources, the shared ConfigMap as env
 * (log level/format, OTLP, proxy), image pull Secrets; servers also get
 * /healthz and /readyz probes, a preStop drain and zone spread.
 */
export function hardenedPodTemplate(args: PodTemplateArgs): k8s.types.input.core.v1.PodTemplateSpec {
    const server = args.kind === "server";
    const containers: k8s.types.input.core.v1.Container[] = args.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imagePullPolicy: "IfNotPresent",
        ...(c.args ? { args: c.args } : {}),
        envFrom: [{ configMapRef: { name: runtimeNames.configMap } }],
        env: [
            { name: "OTEL_SERVICE_NAME", value: args.appName },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            ...(c.env ?? []),
        ],
        resources: c.resources,
        securityContext: {
            runAsNonRoot: true,
            runAsUser,
            runAsGroup: runAsUser,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            privileged: false,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
        },
        volumeMounts: [{ ...tmpMount }, ...(c.volumeMounts ?? [])],
        ...(server
            ? {
                  ports: [
                      { name: "http", containerPort: ports.http, protocol: "TCP" },
                      { name: "metrics", containerPort: ports.metrics, protocol: "TCP" },
                  ],
                  startupProbe: { httpGet: { path: httpPaths.liveness, port: "http" }, periodSeconds: 5, failureThreshold: 60 },
                  livenessProbe: { httpGet: { path: httpPaths.liveness, port: "http" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                  readinessProbe: { httpGet: { path: httpPaths.readiness, port: "http" }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
                  // kubelet waits for the drain to return (within the grace period) before SIGTERM.
                  lifecycle: { preStop: { httpGet: { path: httpPaths.drain, port: "http" } } },
              }
            : {}),
    }));
    const selector = { "app.kubernetes.io/name": args.appName };
    const spec: k8s.types.input.core.v1.PodSpec = {
        serviceAccountName: args.serviceAccountName,
        automountServiceAccountToken: args.automountServiceAccountToken,
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser,
            runAsGroup: runAsUser,
            fsGroup: runAsUser,
            seccompProfile: { type: "RuntimeDefault" },
        },
        ...(args.imagePullSecrets.length ? { imagePullSecrets: args.imagePullSecrets.map((name) => ({ name })) } : {}),
        containers,
        volumes: [{ name: tmpMount.name, emptyDir: { sizeLimit: "256Mi" } }, ...(args.volumes ?? [])],
        ...(server
            ? {
                  terminationGracePeriodSeconds: args.terminationGracePeriodSeconds ?? 30,
                  // Spread over zones first, then nodes; ScheduleAnyway keeps one-zone clusters schedulable.
                  topologySpreadConstraints: [
                      { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
                      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
                  ],
                  affinity: {
                      podAntiAffinity: {
                          preferredDuringSchedulingIgnoredDuringExecution: [
                              { weight: 100, podAffinityTerm: { topologyKey: "topology.kubernetes.io/zone", labelSelector: { matchLabels: selector } } },
                          ],
                      },
                  },
              }
            : { restartPolicy: "Never" }),
    };
    return { metadata: { labels: args.labels, annotations: rolloutChecksums(args.configData, args.secrets) }, spec };
}

/**
 * The pod-template annotations that roll pods when what they read changes:
 * the ConfigMap data, and the identity of every referenced Secret (name, key
 * and, when this program creates the producing ExternalSecret or Certificate,
 * its spec). Values are never read: a value rotated in place under the same
 * name is the job of the Reloader annotations (`reloaderAnnotations`).
 */
export function rolloutChecksums(configData: pulumi.Input<Record<string, pulumi.Input<string>>>, secrets: SecretUse[]): pulumi.Output<Record<string, string>> {
    const identities = pulumi.all(
        secrets.map((s) => pulumi.all([s.secretName, s.producer ?? null]).apply(([secretName, producer]) => ({ secretName, key: s.key ?? null, producer }))),
    );
    return pulumi.all([pulumi.output(configData), identities]).apply(
        ([data, ids]): Record<string, string> => ({
            [rolloutAnnotations.config]: sha256(data),
            [rolloutAnnotations.secrets]: sha256([...ids].sort((a, b) => stableJson(a).localeCompare(stableJson(b)))),
        }),
    );
}

/**
 * Workload (not pod-template) annotations for Stakater Reloader-style
 * controllers: when a listed Secret's or ConfigMap's value changes in place
 * (ESO refreshing a value, cert-manager renewing a certificate, an operator
 * rotating a password), the controller rolls the workload. Inert where no such
 * controller runs.
 */
export function reloaderAnnotations(secrets: SecretUse[], configMaps: string[]): pulumi.Output<Record<string, string>> {
    return pulumi.all(secrets.map((s) => s.secretName)).apply((names): Record<string, string> => {
        const unique = [...new Set(names)].sort();
        return {
            ...(unique.length ? { [rolloutAnnotations.reloaderSecrets]: unique.join(",") } : {}),
            ...(configMaps.length ? { [rolloutAnnotations.reloaderConfigMaps]: [...configMaps].sort().join(",") } : {}),
        };
    });
}

/** What differs between x1agent's scheduled jobs (maintenance, backups); the rest of their CronJob spec is shared. */
export interface ScheduledJobArgs {
    schedule: string;
    /** Labels of the Jobs (and, through `pod`, their pods). */
    labels: Record<string, string>;
    /** A run that could not start within this many seconds of its time is skipped. */
    startingDeadlineSeconds: number;
    /** A run still going after this many seconds is stopped. Default: no limit. */
    activeDeadlineSeconds?: number;
    /** The pod (`hardenedPodTemplate` with kind `job`). */
    pod: k8s.types.input.core.v1.PodTemplateSpec;
}

/**
 * The CronJob spec of every x1agent scheduled job: runs never overlap, three
 * finished Jobs of each outcome are kept, a failed run is retried twice, and a
 * finished Job is cleaned up after a day.
 */
export function scheduledJobSpec(args: ScheduledJobArgs): k8s.types.input.batch.v1.CronJobSpec {
    return {
        schedule: args.schedule,
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: args.startingDeadlineSeconds,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            metadata: { labels: args.labels },
            spec: {
                backoffLimit: 2,
                ...(args.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: args.activeDeadlineSeconds } : {}),
                ttlSecondsAfterFinished: 86_400,
                template: args.pod,
            },
        },
    };
}

/**
 * A workload's own ServiceAccount, mounting no token: the pods of every
 * x1agent workload but the api (and the Tier 1 secrets backup, which mounts
 * its token explicitly) never call the Kubernetes API. `name` is the Pulumi
 * resource name, `metadata.name` the object's.
 */
export function tokenlessServiceAccount(
    name: string,
    metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, string> },
    parent: pulumi.Resource,
): k8s.core.v1.ServiceAccount {
    return new k8s.core.v1.ServiceAccount(name, { metadata, automountServiceAccountToken: false }, { parent });
}

/** Labels of a runtime workload's objects and pods: the common ones and `app.kubernetes.io/name`, the Deployment's selector. */
export function runtimeLabels(role: "api" | "app" | "worker"): Record<string, string> {
    return { ...commonLabels(role), "app.kubernetes.io/name": runtimeNames[role] };
}

/** Whether a Deployment can have more than one pod (fixed replicas or an HPA's ceiling). */
export function mayRunSeveral(w: Pick<WorkloadConfig, "replicas" | "hpa">): boolean {
    return w.hpa.enabled ? w.hpa.maxReplicas > 1 : w.replicas > 1;
}

function sha256(value: unknown): string {
    return createHash("sha256").update(stableJson(value)).digest("hex");
}

/** JSON with object keys sorted, so equal content always hashes the same. */
function stableJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
    if (value && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
    }
    return JSON.stringify(value ?? null);
}
