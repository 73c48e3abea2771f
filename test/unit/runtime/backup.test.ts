import { beforeAll, describe, expect, it } from "vitest";
import { Backups } from "../../../components";
import { ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";
import { ageRecipient, envOf, named, render } from "./render";

beforeAll(() => setupMocks());

const backup = { enabled: true, secretsRecipient: ageRecipient };
const cnpg = {
    bundledSecret: { secretName: "x1agent-postgres-app", key: "uri" },
    podSelector: { "cnpg.io/cluster": "x1agent-postgres" },
    port: 5432,
    operatorPort: 8000,
};

describe("scheduled backups of the state the seeds name", () => {
    it("are off unless backup.enabled", async () => {
        const all = await render({});
        expect(ofKind(all, "CronJob")).toEqual([]);
        expect(ofKind(all, "PersistentVolumeClaim")).toEqual([]);
    });

    it("dump Postgres with pg_dump against the configured connection, to a PVC that outlives the stack", async () => {
        const all = await render({ backup, postgres: { bundled: { enabled: false, storage: "1Gi", instances: 1 }, url: { secretName: "db", key: "url" } } });
        const job = named(all, "CronJob", "x1agent-backup-postgres", "x1agent").inputs.spec;
        expect(job.schedule).toBe("0 3 * * *");
        const pod = job.jobTemplate.spec.template.spec;
        const env = envOf(pod.containers[0]);
        expect(pod.containers[0].image).toBe("ghcr.io/x1agent/backup:1.0.0");
        expect(env.X1AGENT_DATABASE_URL.valueFrom).toEqual({ secretKeyRef: { name: "db", key: "url" } });
        expect(env.X1AGENT_BACKUP_DESTINATION.value).toBe("file:///backups/postgres");
        expect(env.X1AGENT_BACKUP_RETENTION_DAYS.value).toBe("14");
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.volumes).toContainEqual({ name: "backups", persistentVolumeClaim: { claimName: "x1agent-backup-postgres" } });
        named(all, "PersistentVolumeClaim", "x1agent-backup-postgres");
    });

    it("export Tier 1's x1agent-secrets with a ServiceAccount that may read Secrets there only, encrypted to the age recipient", async () => {
        const all = await render({ backup });
        const role = named(all, "Role", "x1agent-secrets-backup", "x1agent-secrets");
        expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }]);
        const binding = named(all, "RoleBinding", "x1agent-secrets-backup", "x1agent-secrets");
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "x1agent-secrets-backup", namespace: "x1agent" }]);
        const pod = named(all, "CronJob", "x1agent-backup-secrets", "x1agent").inputs.spec.jobTemplate.spec.template.spec;
        expect(pod.serviceAccountName).toBe("x1agent-secrets-backup");
        expect(pod.automountServiceAccountToken).toBe(true);
        expect(envOf(pod.containers[0]).X1AGENT_BACKUP_AGE_RECIPIENT.value).toBe(ageRecipient);
        // No other Role anywhere lets that ServiceAccount in.
        const bound = [...ofKind(all, "RoleBinding"), ...ofKind(all, "ClusterRoleBinding")].filter((b) =>
            (b.inputs.subjects ?? []).some((s: { name: string }) => s.name === "x1agent-secrets-backup"),
        );
        expect(bound).toHaveLength(1);
    });

    it("skip the secrets export in Tier 2/3, where the backend is the system of record", async () => {
        const all = await render({ backup, secrets: { tier: "vault", vault: { server: "https://vault.example.com" } } as never });
        expect(ofKind(all, "CronJob").map((c) => c.inputs.metadata.name)).toEqual(["x1agent-backup-postgres"]);
    });

    it("keep exporting x1agent-secrets while a migration away from Tier 1 is not done", async () => {
        const all = await render({
            backup,
            secrets: { tier: "vault", vault: { server: "https://vault.example.com" }, migration: { from: "kubernetes", done: false } } as never,
        });
        named(all, "CronJob", "x1agent-backup-secrets");
    });

    it("write to object storage when a driver is set", async () => {
        const all = await render({ backup, objectStorage: { driver: "s3", bucket: "x1-backups", region: "us-east-1", credentialsSecret: "s3-creds" } });
        const pod = named(all, "CronJob", "x1agent-backup-postgres").inputs.spec.jobTemplate.spec.template.spec;
        expect(envOf(pod.containers[0]).X1AGENT_BACKUP_DESTINATION.value).toBe("s3://x1-backups/x1agent-backups/postgres");
        expect(pod.volumes).toContainEqual({ name: "object-storage-credentials", secret: { secretName: "s3-creds", defaultMode: 0o440 } });
        expect(ofKind(all, "PersistentVolumeClaim")).toEqual([]);
    });

    it("dump the bundled CloudNativePG database with pg_dump from the operator's own DSN Secret, and create no ScheduledBackup", async () => {
        resetRegistered();
        const config = stackConfig({ backup, secrets: { tier: "vault", vault: { server: "https://vault.example.com" } } as never });
        new Backups("b", {
            backup: config.backup,
            objectStorage: config.objectStorage,
            postgres: config.postgres,
            images: config.images,
            namespace: "x1agent",
            database: cnpg,
            configData: {},
        });
        const all = await settled();
        const pod = named(all, "CronJob", "x1agent-backup-postgres", "x1agent").inputs.spec.jobTemplate.spec.template.spec;
        expect(envOf(pod.containers[0]).X1AGENT_DATABASE_URL.valueFrom).toEqual({ secretKeyRef: { name: "x1agent-postgres-app", key: "uri" } });
        expect(ofKind(all, "ScheduledBackup")).toEqual([]);
    });
});

describe("Tier 1 capture mode", () => {
    it("lets the api write Secrets into x1agent-secrets but never read one back", async () => {
        const all = await render({});
        const role = named(all, "Role", "x1agent-api-capture", "x1agent-secrets");
        expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["create", "update", "delete"] }]);
        expect(named(all, "RoleBinding", "x1agent-api-capture", "x1agent-secrets").inputs.subjects).toEqual([
            { kind: "ServiceAccount", name: "x1agent-api", namespace: "x1agent" },
        ]);
        // The api can read no Secret anywhere.
        const apiRoles = [...ofKind(all, "RoleBinding"), ...ofKind(all, "ClusterRoleBinding")]
            .filter((b) => (b.inputs.subjects ?? []).some((s: { name: string }) => s.name === "x1agent-api"))
            .map((b) => named(all, b.inputs.roleRef.kind, b.inputs.roleRef.name, b.inputs.metadata.namespace));
        for (const r of apiRoles) {
            for (const rule of r.inputs.rules) {
                if (rule.resources.includes("secrets")) expect(rule.verbs.filter((v: string) => ["get", "list", "watch", "patch"].includes(v))).toEqual([]);
            }
        }
    });

    it("is absent in bind mode", async () => {
        const all = await render({ secrets: { tier: "vault", vault: { server: "https://vault.example.com" } } as never });
        expect(ofKind(all, "Role").map((r) => r.inputs.metadata.name)).not.toContain("x1agent-api-capture");
    });
});
