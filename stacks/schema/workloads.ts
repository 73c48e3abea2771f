import { z } from "zod";
import { hpa, image, k8sName, quantity, resources } from "./common";

const defaultResources = {
    requests: { cpu: "100m", memory: "256Mi" },
    limits: { cpu: "500m", memory: "1Gi" },
};

/** A stateless Deployment of ours: api, app or worker. */
const workload = (replicas: number) =>
    z.strictObject({
        replicas: z.number().int().min(0).default(replicas),
        resources: resources.default(defaultResources),
        hpa: hpa.default({ enabled: false, minReplicas: 2, maxReplicas: 5, targetCPUUtilization: 70 }),
    });

export const api = workload(1);
export const app = workload(1);

/** The optional background worker (the seeds' embedding worker). */
export const worker = workload(1).extend({ enabled: z.boolean().default(false) });

export const cronJob = z.strictObject({
    name: k8sName,
    /** Cron schedule, five fields. */
    schedule: z.string().regex(/^(\S+\s+){4}\S+$/, { error: "must be a five-field cron schedule such as '0 3 * * *'" }),
    /** Arguments to the api image's entrypoint, e.g. ["maintenance", "vacuum"]. */
    args: z.array(z.string()).min(1),
});

export const images = z.strictObject({
    /** Registry prefixed to every image: the one knob an air-gapped install turns. */
    registry: z.string().min(1).default("ghcr.io"),
    pullSecrets: z.array(k8sName).default([]),
    api: image.default({ repository: "x1agent/api", tag: "1.0.0" }),
    app: image.default({ repository: "x1agent/app", tag: "1.0.0" }),
    session: image.default({ repository: "x1agent/session", tag: "1.0.0" }),
    backup: image.default({ repository: "x1agent/backup", tag: "1.0.0" }),
});

export const observability = z.strictObject({
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    logFormat: z.enum(["json", "text"]).default("json"),
    /** OTEL_EXPORTER_OTLP_ENDPOINT for the api; tracing is off when unset. */
    otlpEndpoint: z.url().optional(),
});

export const proxy = z.strictObject({
    /** Proxy for agent-to-agent and agent-to-tool traffic (kagent's proxy.url). */
    url: z.url().optional(),
    noProxy: z.array(z.string()).default([]),
});

export const objectStorage = z.strictObject({
    driver: z.enum(["none", "s3", "gcs", "azure"]).default("none"),
    bucket: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    /** Secret with the store's credentials when no workload identity is used. */
    credentialsSecret: k8sName.optional(),
});

export const backup = z.strictObject({
    enabled: z.boolean().default(false),
    schedule: z.string().regex(/^(\S+\s+){4}\S+$/, { error: "must be a five-field cron schedule" }).default("0 3 * * *"),
    /** Days of backups to keep. */
    retentionDays: z.number().int().min(1).default(14),
    /** PVC size for backups when no object storage is configured. */
    storage: quantity.default("10Gi"),
});
