import { beforeAll, describe, expect, it } from "vitest";
import type { StackConfigInput } from "../../../stacks/schema";
import { ofKind, setupMocks } from "../../helpers/mocks";
import { deploymentTemplate, envOf, named, render } from "./render";

beforeAll(() => setupMocks());

const noBundled = { enabled: false, storage: "1Gi", instances: 1 };

describe("the database connection follows urlFile > url > bundled, always from a Secret", () => {
    it.each<[string, Partial<StackConfigInput>, (c: ReturnType<typeof api>) => void]>([
        [
            "urlFile mounts the Secret read-only and names the file",
            {
                postgres: {
                    bundled: noBundled,
                    urlFile: { secretName: "db", key: "dsn", mountPath: "/var/secrets/db" },
                    url: { secretName: "ignored", key: "url" },
                },
            },
            ({ env, mounts, volumes }) => {
                expect(env.X1AGENT_DATABASE_URL_FILE.value).toBe("/var/secrets/db/dsn");
                expect(env).not.toHaveProperty("X1AGENT_DATABASE_URL");
                expect(mounts).toContainEqual({ name: "database-url", mountPath: "/var/secrets/db", readOnly: true });
                expect(volumes).toContainEqual({
                    name: "database-url",
                    secret: { secretName: "db", defaultMode: 0o440, items: [{ key: "dsn", path: "dsn" }] },
                });
            },
        ],
        [
            "url is env valueFrom the Secret key",
            { postgres: { bundled: noBundled, url: { secretName: "db", key: "url" } } },
            ({ env }) => expect(env.X1AGENT_DATABASE_URL).toEqual({ name: "X1AGENT_DATABASE_URL", valueFrom: { secretKeyRef: { name: "db", key: "url" } } }),
        ],
        [
            "bundled reads the operator's generated Secret",
            {},
            ({ env }) => expect(env.X1AGENT_DATABASE_URL.valueFrom).toEqual({ secretKeyRef: { name: "x1agent-postgres-app", key: "uri" } }),
        ],
        [
            "url wins over a bundled database kept running for a migration",
            { postgres: { bundled: { enabled: true, storage: "1Gi", instances: 1 }, url: { secretName: "external-db", key: "url" } } },
            ({ env }) => expect(env.X1AGENT_DATABASE_URL.valueFrom.secretKeyRef.name).toBe("external-db"),
        ],
    ])("%s", async (_, overrides, check) => {
        check(api(deploymentTemplate(await render(overrides), "x1agent-api")));
    });

    it("no env var carries a literal value that looks like a credential", async () => {
        const all = await render({
            postgres: { bundled: noBundled, url: { secretName: "db", key: "url" } },
            auth: { oidc: { issuer: "https://idp.example.com", clientIdSecret: "oidc-id", clientSecretSecret: "oidc-secret" }, password: { enabled: true } },
            objectStorage: { driver: "s3", bucket: "b", credentialsSecret: "s3-creds" },
        });
        for (const d of ofKind(all, "Deployment")) {
            for (const c of d.inputs.spec.template.spec.containers) {
                for (const e of c.env ?? []) {
                    if (/SECRET|PASSWORD|TOKEN|CLIENT_ID|DATABASE_URL$|_KEY$/.test(e.name))
                        expect(e.valueFrom, `${d.inputs.metadata.name} ${e.name}`).toBeDefined();
                }
            }
        }
        const api = envOf(deploymentTemplate(all, "x1agent-api").spec.containers[0]);
        expect(api.X1AGENT_OIDC_CLIENT_SECRET.valueFrom).toEqual({ secretKeyRef: { name: "oidc-secret", key: "value" } });
        const data = named(all, "ConfigMap", "x1agent-config").inputs.data as Record<string, string>;
        expect(Object.values(data).join("\n")).not.toMatch(/postgres:\/\/|BEGIN .*PRIVATE KEY/);
        expect(data.X1AGENT_AUTH_OIDC_ISSUER).toBe("https://idp.example.com");
    });

    it("mounts the NATS client certificate in the api and worker when NATS uses mTLS, and not otherwise", async () => {
        const on = await render({ worker: { enabled: true } });
        for (const name of ["x1agent-api", "x1agent-worker"]) {
            const c = api(deploymentTemplate(on, name));
            expect(c.mounts, name).toContainEqual({ name: "nats-client-tls", mountPath: "/var/run/x1agent/nats", readOnly: true });
            expect(c.volumes, name).toContainEqual({ name: "nats-client-tls", secret: { secretName: "x1agent-nats-client", defaultMode: 0o440 } });
        }
        expect(api(deploymentTemplate(on, "x1agent-app")).mounts.map((m: { name: string }) => m.name)).toEqual(["tmp"]);
        const off = await render({ nats: { replicas: 1, mtls: false, jetstream: { enabled: true, storage: "1Gi" } } });
        expect(api(deploymentTemplate(off, "x1agent-api")).volumes.map((v: { name: string }) => v.name)).not.toContain("nats-client-tls");
    });
});

function api(template: any) {
    const c = template.spec.containers[0];
    return { env: envOf(c), mounts: c.volumeMounts, volumes: template.spec.volumes };
}
