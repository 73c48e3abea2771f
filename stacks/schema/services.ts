import { z } from "zod";
import { dnsLabelPattern } from "../../policies/lib/names";
import { addon, credentialFreeUrl, k8sName, quantity, secretKeyRef, whenValid } from "./common";

const hostname = z.string().regex(new RegExp(`^(\\*\\.)?${dnsLabelPattern}(\\.${dnsLabelPattern})*$`), {
    error: "must be a DNS host name such as x1agent.example.com (no scheme, no path)",
});

export const ingress = z
    .strictObject({
        enabled: z.boolean().default(true),
        host: hostname,
        /** IngressClass; the cluster default when unset. */
        className: z.string().min(1).optional(),
        /** The TLS Secret cert-manager writes, referenced by the Ingress. */
        tlsSecretName: k8sName.default("x1agent-tls"),
        issuer: z
            .strictObject({
                /**
                 * `acme` (Let's Encrypt or another ACME server) for real hosts;
                 * `selfSigned` (a self-signed CA) for local; `existing` names an issuer
                 * you already run.
                 */
                type: z.enum(["acme", "selfSigned", "existing"]).default("acme"),
                email: z.email({ error: "must be the e-mail address ACME registers the account with" }).optional(),
                server: credentialFreeUrl().default("https://acme-v02.api.letsencrypt.org/directory"),
                /** ClusterIssuer name for `existing`. */
                name: k8sName.optional(),
            })
            .default({ type: "acme", server: "https://acme-v02.api.letsencrypt.org/directory" }),
        annotations: z.record(z.string(), z.string()).default({}),
    })
    .refine((i) => !(i.enabled && i.issuer.type === "acme" && !i.issuer.email), {
        path: ["issuer", "email"],
        error: "is required for an ACME issuer: write the address ACME should send expiry notices to, or use type: selfSigned for local",
        ...whenValid("enabled", "issuer.type", "issuer.email"),
    })
    .refine((i) => !(i.issuer.type === "existing" && !i.issuer.name), {
        path: ["issuer", "name"],
        error: "is required with type: existing: name the ClusterIssuer you run",
        ...whenValid("issuer.type", "issuer.name"),
    });

/** A Secret mounted as a file whose path the api reads (kagent's `urlFile`). */
const secretFile = secretKeyRef.extend({
    /** Directory the Secret is mounted at; the file is `<mountPath>/<key>`. */
    mountPath: z
        .string()
        .regex(/^\/[^\0]*$/, { error: "must be an absolute path such as /var/secrets/db" })
        .default("/var/secrets/db"),
});

export const postgres = z
    .strictObject({
        /** The in-cluster Postgres (demos, dev, small installs). Independent of where the api connects. */
        bundled: z
            .strictObject({
                enabled: z.boolean().default(true),
                storage: quantity.default("1Gi"),
                instances: z.number().int().min(1).max(5).default(1),
                /** Override the image, e.g. a pgvector image when vectorEnabled. */
                image: z.string().min(1).optional(),
            })
            .default({ enabled: true, storage: "1Gi", instances: 1 }),
        /** DSN from a Secret key, passed as env `valueFrom`. Wins over bundled. */
        url: secretKeyRef.optional(),
        /** DSN in a mounted Secret file. Wins over `url` and bundled. */
        urlFile: secretFile.optional(),
        /** The database has (or the bundled image ships) pgvector. */
        vectorEnabled: z.boolean().default(false),
        maxConnections: z.number().int().min(1).default(20),
    })
    .refine((p) => p.bundled.enabled || p.url !== undefined || p.urlFile !== undefined, {
        error: "has the bundled database disabled and no connection: set postgres.urlFile or postgres.url to a Secret with the DSN, or postgres.bundled.enabled: true",
        ...whenValid("bundled.enabled", "url", "urlFile"),
    });

export const nats = z.strictObject({
    /** 1 node by default; 3 or 5 makes a JetStream cluster. */
    replicas: z.union([z.literal(1), z.literal(3), z.literal(5)], { error: "must be 1, 3 or 5 (an odd JetStream cluster size)" }).default(1),
    /** TLS with client-certificate verification. Turning it off is a production-checklist violation. */
    mtls: z.boolean().default(true),
    jetstream: z.strictObject({ enabled: z.boolean().default(true), storage: quantity.default("1Gi") }).default({ enabled: true, storage: "1Gi" }),
});

export const auth = z
    .strictObject({
        google: z
            .strictObject({
                /** Secret holding the OAuth client id. */
                clientIdSecret: k8sName,
                clientSecretSecret: k8sName,
            })
            .optional(),
        oidc: z
            .strictObject({
                issuer: credentialFreeUrl(),
                clientIdSecret: k8sName,
                clientSecretSecret: k8sName,
            })
            .optional(),
        password: z.strictObject({ enabled: z.boolean().default(true) }).default({ enabled: true }),
        allowedDomains: z.array(hostname).default([]),
    })
    .refine((a) => a.google !== undefined || a.oidc !== undefined || a.password.enabled, {
        error: "enables no sign-in method: set auth.password.enabled: true, or configure auth.google or auth.oidc",
        ...whenValid("google", "oidc", "password.enabled"),
    });

export const addons = z.strictObject({
    externalSecrets: addon.default({ install: true, values: {} }),
    certManager: addon.default({ install: true, values: {} }),
    nats: addon.default({ install: true, values: {} }),
    /** The operator that runs the bundled Postgres. */
    postgresOperator: addon.default({ install: true, values: {} }),
    /** The Prometheus Operator is present in the cluster: ship a ServiceMonitor. */
    prometheusOperator: z.strictObject({ present: z.boolean().default(false) }).default({ present: false }),
});
