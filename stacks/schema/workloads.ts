import { z } from "zod";
import { credentialFreeUrl, hpa, image, k8sName, quantity, resources, whenValid } from "./common";

const cidr = z.cidrv4({ error: "must be an IPv4 CIDR such as 10.0.0.0/8" });

const defaultResources = {
    requests: { cpu: "100m", memory: "256Mi" },
    limits: { cpu: "500m", memory: "1Gi" },
};

/** The replicas and HPA keys of a stateless Deployment of ours; `workload` adds the rule between them. */
const workloadShape = (replicas: number) => ({
    replicas: z.number().int().min(0).default(replicas),
    resources: resources.default(defaultResources),
    hpa: hpa.default({ enabled: false, minReplicas: 2, maxReplicas: 5, targetCPUUtilization: 70 }),
    /** Seconds a pod gets to drain (preStop `/drain`, then SIGTERM) before it is killed. */
    terminationGracePeriodSeconds: z.number().int().min(5).max(3600).default(30),
});

interface ReplicasAndHpa {
    replicas: number;
    hpa: { enabled: boolean; minReplicas: number; maxReplicas: number };
}

/** With an HPA, `replicas` is the starting size and must lie within its range (the HPA owns the count). */
const replicasWithinHpa = (w: ReplicasAndHpa) => !w.hpa.enabled || (w.replicas >= w.hpa.minReplicas && w.replicas <= w.hpa.maxReplicas);
const replicasWithinHpaIssue = (name: string) => ({
    path: ["replicas"],
    error: (issue: { input?: unknown }) => {
        const w = issue.input as ReplicasAndHpa;
        return `${w.replicas} is outside ${name}.hpa ${w.hpa.minReplicas}..${w.hpa.maxReplicas}; the HPA owns the count: set replicas within that range (it is the starting size)`;
    },
    ...whenValid("replicas", "hpa.enabled", "hpa.minReplicas", "hpa.maxReplicas"),
});

/** A stateless Deployment of ours: api, app or worker (`name`, for messages). */
const workload = (name: string, replicas: number) => z.strictObject(workloadShape(replicas)).refine(replicasWithinHpa, replicasWithinHpaIssue(name));

export const api = workload("api", 1);
export const app = workload("app", 1);

/** The optional background worker (the seeds' embedding worker). */
export const worker = z.strictObject({ ...workloadShape(1), enabled: z.boolean().default(false) }).refine(replicasWithinHpa, replicasWithinHpaIssue("worker"));

export const cronJob = z.strictObject({
    /** The CronJob is `x1agent-<name>`; CronJob names are limited to 52 characters. */
    name: k8sName.max(44, { error: "must be at most 44 characters (the CronJob x1agent-<name> is limited to 52)" }),
    /** Cron schedule, five fields. */
    schedule: z.string().regex(/^(\S+\s+){4}\S+$/, { error: "must be a five-field cron schedule such as '0 3 * * *'" }),
    /** Arguments to the api image's entrypoint, e.g. ["maintenance", "vacuum"]. */
    args: z.array(z.string()).min(1),
    resources: resources.default({ requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } }),
    /** A run still going after this many seconds is stopped. */
    activeDeadlineSeconds: z.number().int().min(60).default(3600),
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
    otlpEndpoint: credentialFreeUrl().optional(),
});

export const proxy = z.strictObject({
    /** Proxy for agent-to-agent and agent-to-tool traffic (kagent's proxy.url). */
    url: credentialFreeUrl().optional(),
    noProxy: z.array(z.string()).default([]),
});

export const objectStorage = z
    .strictObject({
        driver: z.enum(["none", "s3", "gcs", "azure"]).default("none"),
        bucket: z.string().min(1).optional(),
        region: z.string().min(1).optional(),
        /** Secret with the store's credentials when no workload identity is used. */
        credentialsSecret: k8sName.optional(),
    })
    .refine((o) => o.driver === "none" || o.bucket !== undefined, {
        path: ["bucket"],
        error: (issue) => `is required for driver ${(issue.input as { driver: string }).driver}: name the bucket`,
        ...whenValid("driver", "bucket"),
    });

export const backup = z.strictObject({
    enabled: z.boolean().default(false),
    schedule: z
        .string()
        .regex(/^(\S+\s+){4}\S+$/, { error: "must be a five-field cron schedule" })
        .default("0 3 * * *"),
    /** Days of backups to keep. */
    retentionDays: z.number().int().min(1).default(14),
    /** PVC size for backups when no object storage is configured. */
    storage: quantity.default("10Gi"),
    /**
     * age public key (`age1...`) the Tier 1 `x1agent-secrets` export is
     * encrypted to; the private key stays offline. Required with Tier 1.
     */
    secretsRecipient: z
        .string()
        .regex(/^age1[02-9ac-hj-np-z]{58}$/, { error: "must be an age public key: age1 followed by 58 bech32 characters (age-keygen prints it)" })
        .optional(),
    resources: resources.default({ requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } }),
});

/** Who may reach the runtime's pods, for the NetworkPolicies in `x1agent`. */
export const network = z.strictObject({
    /**
     * Namespaces of the ingress controller(s) allowed to reach the api and
     * app HTTP ports (e.g. ingress-nginx). Empty: any namespace may (the two
     * ports are public through the Ingress anyway).
     */
    ingressControllerNamespaces: z.array(k8sName).default([]),
    /** Namespaces allowed to scrape the metrics port (e.g. monitoring). Empty: any namespace. */
    monitoringNamespaces: z.array(k8sName).default([]),
    /** The namespace of the bundled Postgres operator (its manager reaches the instances). */
    postgresOperatorNamespace: k8sName.default("cnpg-system"),
    /**
     * CIDRs the api and worker may reach on TCP 443/6443 (Kubernetes API,
     * OAuth, secrets backends, object storage). Empty: any address on those ports.
     */
    apiEgressCidrs: z.array(cidr).default([]),
});

/** Session pods: what the api may start in workspace namespaces. */
export const sessions = z.strictObject({
    /**
     * A ValidatingAdmissionPolicy (Kubernetes 1.30+) that admits only pods
     * running the session image under the session ServiceAccount in
     * workspace namespaces. Turn off only on clusters older than 1.30.
     */
    admissionPolicy: z.boolean().default(true),
    /** Mount a token for the session ServiceAccount (it has no RBAC); off unless agents need one. */
    automountServiceAccountToken: z.boolean().default(false),
});
