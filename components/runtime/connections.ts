/**
 * How x1agent pods reach what they depend on (NATS, Postgres, sign-in
 * providers, object storage) and the shared ConfigMap. Pure functions over
 * the validated config and what the add-ons report; secrets are wired only
 * by reference (env valueFrom or mounted Secret files).
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { SettledPostgres, StackConfig } from "../../stacks/schema";
import { names } from "../names";
import { type PodWiring, type SecretUse, imageRef, noWiring, runtimeNames } from "./workload";

/** Where NATS runs, as the NATS add-on installs it (upstream chart, release `x1agent-nats` in `x1agent`). */
export interface NatsEndpoint {
    /** Client URL the api and worker connect to. */
    url: string;
    /** Pod labels of the NATS servers (NetworkPolicies). */
    podSelector: Record<string, string>;
    clientPort: number;
    clusterPort: number;
    monitorPort: number;
}

export const defaultNats: NatsEndpoint = {
    url: `tls://x1agent-nats.${names.appNamespace}.svc.cluster.local:4222`,
    podSelector: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "x1agent-nats" },
    clientPort: 4222,
    clusterPort: 6222,
    monitorPort: 8222,
};

/** The bundled Postgres, as its operator runs it (CloudNativePG Cluster `x1agent-postgres` in `x1agent`). */
export interface DatabaseEndpoint {
    /** The operator-generated Secret with the DSN, used when postgres.connection is `bundled`. */
    bundledSecret: { secretName: pulumi.Input<string>; key: string };
    /** Pod labels of the Postgres instances (NetworkPolicies). */
    podSelector: Record<string, string>;
    port: number;
    /** Port the operator's manager reaches each instance on (CloudNativePG: 8000). */
    operatorPort: number;
    /**
     * Spec of the object this program creates that writes the DSN Secret
     * (e.g. an ExternalSecret for url/urlFile): enters the rollout checksum.
     */
    producer?: pulumi.Input<unknown>;
}

export const defaultDatabase: DatabaseEndpoint = {
    bundledSecret: { secretName: "x1agent-postgres-app", key: "uri" },
    podSelector: { "cnpg.io/cluster": "x1agent-postgres" },
    port: 5432,
    operatorPort: 8000,
};

/** The NATS client certificate Secret (tls.crt, tls.key, ca.crt) and what produces it. */
export interface NatsClientCert {
    secretName: pulumi.Input<string>;
    /** The cert-manager Certificate's spec when this program creates it: rolls the pods when it changes. */
    producer?: pulumi.Input<unknown>;
}

/** Where the NATS client certificate is mounted in api and worker containers. */
export const natsCertDir = "/var/run/x1agent/nats";

/**
 * The database connection, by the one precedence urlFile > url > bundled:
 * a mounted Secret file (`X1AGENT_DATABASE_URL_FILE`), or the DSN from a
 * Secret key (`X1AGENT_DATABASE_URL` valueFrom), or the bundled operator's
 * generated Secret.
 */
export function databaseWiring(pg: SettledPostgres, db: DatabaseEndpoint): PodWiring {
    const producer = db.producer;
    switch (pg.connection) {
        case "urlFile": {
            const f = pg.urlFile;
            return {
                env: [{ name: "X1AGENT_DATABASE_URL_FILE", value: `${f.mountPath.replace(/\/$/, "")}/${f.key}` }],
                volumes: [{ name: "database-url", secret: { secretName: f.secretName, defaultMode: 0o440, items: [{ key: f.key, path: f.key }] } }],
                volumeMounts: [{ name: "database-url", mountPath: f.mountPath, readOnly: true }],
                secrets: [{ secretName: f.secretName, key: f.key, producer }],
            };
        }
        case "url": {
            const u = pg.url;
            return {
                env: [{ name: "X1AGENT_DATABASE_URL", valueFrom: { secretKeyRef: { name: u.secretName, key: u.key } } }],
                volumes: [],
                volumeMounts: [],
                secrets: [{ secretName: u.secretName, key: u.key, producer }],
            };
        }
        case "bundled": {
            const b = db.bundledSecret;
            return {
                env: [{ name: "X1AGENT_DATABASE_URL", valueFrom: { secretKeyRef: { name: b.secretName, key: b.key } } }],
                volumes: [],
                volumeMounts: [],
                secrets: [{ secretName: b.secretName, key: b.key, producer }],
            };
        }
    }
}

/** The NATS client certificate, mounted read-only, when NATS runs with mTLS. */
export function natsWiring(nats: StackConfig["nats"], cert: NatsClientCert | undefined): PodWiring {
    if (!nats.mtls) return noWiring();
    const secretName = cert?.secretName ?? runtimeNames.natsClientSecret;
    return {
        env: [{ name: "X1AGENT_NATS_TLS_DIR", value: natsCertDir }],
        volumes: [{ name: "nats-client-tls", secret: { secretName, defaultMode: 0o440 } }],
        volumeMounts: [{ name: "nats-client-tls", mountPath: natsCertDir, readOnly: true }],
        secrets: [{ secretName, producer: cert?.producer }],
    };
}

/** Sign-in providers' client credentials: env from the named Secrets (key `value`). */
export function authWiring(auth: StackConfig["auth"]): PodWiring {
    const env: k8s.types.input.core.v1.EnvVar[] = [];
    const secrets: SecretUse[] = [];
    const fromSecret = (name: string, secretName: string) => {
        env.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: "value" } } });
        secrets.push({ secretName, key: "value" });
    };
    if (auth.google) {
        fromSecret("X1AGENT_GOOGLE_CLIENT_ID", auth.google.clientIdSecret);
        fromSecret("X1AGENT_GOOGLE_CLIENT_SECRET", auth.google.clientSecretSecret);
    }
    if (auth.oidc) {
        fromSecret("X1AGENT_OIDC_CLIENT_ID", auth.oidc.clientIdSecret);
        fromSecret("X1AGENT_OIDC_CLIENT_SECRET", auth.oidc.clientSecretSecret);
    }
    return { env, volumes: [], volumeMounts: [], secrets };
}

/** Object-storage credentials from a Secret, when no workload identity is used. */
export function objectStorageWiring(os: StackConfig["objectStorage"]): PodWiring {
    if (os.driver === "none" || !os.credentialsSecret) return noWiring();
    const dir = "/var/run/x1agent/object-storage";
    return {
        env: [{ name: "X1AGENT_OBJECT_STORAGE_CREDENTIALS_DIR", value: dir }],
        volumes: [{ name: "object-storage-credentials", secret: { secretName: os.credentialsSecret, defaultMode: 0o440 } }],
        volumeMounts: [{ name: "object-storage-credentials", mountPath: dir, readOnly: true }],
        secrets: [{ secretName: os.credentialsSecret }],
    };
}

/** In-cluster destinations that must never go through the egress proxy. */
const clusterNoProxy = [".svc", ".svc.cluster.local", ".cluster.local", "localhost", "127.0.0.1", "kubernetes.default.svc"];

/**
 * The data of the shared ConfigMap (`x1agent-config`) every x1agent
 * container reads through envFrom: log settings, OTLP endpoint, proxy, the
 * secrets tier and store, the database and NATS settings, sign-in options,
 * object storage, and what the api needs to start session pods. No secret
 * values: those arrive by reference only.
 */
/** The sections the shared ConfigMap is made from. */
export type RuntimeConfigSources = Pick<
    StackConfig,
    "observability" | "ingress" | "secrets" | "nats" | "postgres" | "auth" | "objectStorage" | "images" | "proxy"
>;

export function runtimeConfigData(config: RuntimeConfigSources, nats: NatsEndpoint, natsClientSecretInWorkspaces: string | undefined): Record<string, string> {
    const data: Record<string, string> = {
        X1AGENT_LOG_LEVEL: config.observability.logLevel,
        X1AGENT_LOG_FORMAT: config.observability.logFormat,
        X1AGENT_PUBLIC_URL: publicUrl(config.ingress),
        X1AGENT_SECRETS_TIER: config.secrets.tier,
        X1AGENT_SECRETS_STORE: config.secrets.storeName,
        X1AGENT_SECRETS_UI_MODE: config.secrets.uiMode,
        X1AGENT_NATS_URL: nats.url,
        X1AGENT_NATS_MTLS: String(config.nats.mtls),
        X1AGENT_DATABASE_CONNECTION: config.postgres.connection,
        X1AGENT_DATABASE_MAX_CONNS: String(config.postgres.maxConnections),
        X1AGENT_DATABASE_VECTOR_ENABLED: String(config.postgres.vectorEnabled),
        X1AGENT_AUTH_PASSWORD_ENABLED: String(config.auth.password.enabled),
        X1AGENT_AUTH_GOOGLE_ENABLED: String(config.auth.google !== undefined),
        X1AGENT_AUTH_ALLOWED_DOMAINS: config.auth.allowedDomains.join(","),
        X1AGENT_OBJECT_STORAGE_DRIVER: config.objectStorage.driver,
        X1AGENT_WORKSPACE_NAMESPACE_PREFIX: names.workspaceNamespacePrefix,
        X1AGENT_SESSION_SERVICE_ACCOUNT: runtimeNames.sessionServiceAccount,
        X1AGENT_SESSION_IMAGE: imageRef(config.images, "session"),
        X1AGENT_SESSION_IMAGE_PULL_SECRETS: config.images.pullSecrets.join(","),
    };
    if (config.auth.oidc) data.X1AGENT_AUTH_OIDC_ISSUER = config.auth.oidc.issuer;
    if (config.objectStorage.bucket) data.X1AGENT_OBJECT_STORAGE_BUCKET = config.objectStorage.bucket;
    if (config.objectStorage.region) data.X1AGENT_OBJECT_STORAGE_REGION = config.objectStorage.region;
    if (natsClientSecretInWorkspaces) data.X1AGENT_SESSION_NATS_CLIENT_SECRET_NAME = natsClientSecretInWorkspaces;
    if (config.observability.otlpEndpoint) {
        // The standard OTLP variables: the SDKs read them without x1agent-specific code.
        data.OTEL_EXPORTER_OTLP_ENDPOINT = config.observability.otlpEndpoint;
        data.OTEL_TRACES_EXPORTER = "otlp";
    } else {
        data.OTEL_TRACES_EXPORTER = "none";
    }
    if (config.proxy.url) {
        const noProxy = [...new Set([...clusterNoProxy, ...config.proxy.noProxy])].join(",");
        // Both spellings: Go and curl read lower case, many others upper case.
        Object.assign(data, {
            X1AGENT_PROXY_URL: config.proxy.url,
            HTTP_PROXY: config.proxy.url,
            HTTPS_PROXY: config.proxy.url,
            NO_PROXY: noProxy,
            http_proxy: config.proxy.url,
            https_proxy: config.proxy.url,
            no_proxy: noProxy,
        });
    }
    return data;
}

/** The public URL of the installation. */
export function publicUrl(ingress: StackConfig["ingress"]): string {
    return `https://${ingress.host}`;
}

/** The port of an http(s) URL, for egress NetworkPolicy ports. */
export function urlPort(url: string): number {
    const u = new URL(url);
    if (u.port) return Number(u.port);
    return u.protocol === "https:" ? 443 : 80;
}
