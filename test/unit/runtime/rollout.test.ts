import { beforeAll, describe, expect, it } from "vitest";
import { AppRuntime } from "../../../components";
import type { StackConfigInput } from "../../../stacks/schema";
import { type RegisteredResource, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";
import { deploymentTemplate, envOf, named, render } from "./render";

beforeAll(() => setupMocks());

const configChecksum = "x1agent.dev/config-checksum";
const secretsChecksum = "x1agent.dev/secrets-checksum";

const external = (secretName: string, key = "url"): Partial<StackConfigInput> => ({
    postgres: { bundled: { enabled: false, storage: "1Gi", instances: 1 }, url: { secretName, key } },
});

async function apiTemplate(overrides: Partial<StackConfigInput>) {
    return deploymentTemplate(await render(overrides), "x1agent-api");
}

/** The api pod template when AppRuntime is given a DSN Secret produced by an object with this spec. */
async function apiTemplateWithProducer(producer: Record<string, unknown>) {
    resetRegistered();
    new AppRuntime("rt", { config: stackConfig(external("x1agent-db-url")), database: { ...defaults, producer } });
    return deploymentTemplate(await settled(), "x1agent-api");
}
const defaults = {
    bundledSecret: { secretName: "x1agent-postgres-app", key: "uri" },
    podSelector: { "cnpg.io/cluster": "x1agent-postgres" },
    port: 5432,
    operatorPort: 8000,
};

describe("a change to a referenced Secret or ConfigMap rolls the pods", () => {
    it("rotating the DB secret changes the pod template", async () => {
        const before = await apiTemplate(external("x1agent-db-url"));
        const after = await apiTemplate(external("x1agent-db-url-2026-07"));
        expect(envOf(after.spec.containers[0]).X1AGENT_DATABASE_URL.valueFrom).toEqual({ secretKeyRef: { name: "x1agent-db-url-2026-07", key: "url" } });
        expect(after.metadata.annotations[secretsChecksum]).not.toBe(before.metadata.annotations[secretsChecksum]);
        // Only the Secret moved: the ConfigMap checksum stays.
        expect(after.metadata.annotations[configChecksum]).toBe(before.metadata.annotations[configChecksum]);
    });

    it("a changed spec of the object producing the DB Secret rolls the pods though the env is unchanged", async () => {
        const before = await apiTemplateWithProducer({ remoteRef: { key: "x1agent/db/url-v1" } });
        const after = await apiTemplateWithProducer({ remoteRef: { key: "x1agent/db/url-v2" } });
        expect(after.spec.containers[0].env).toEqual(before.spec.containers[0].env);
        expect(after.metadata.annotations[secretsChecksum]).not.toBe(before.metadata.annotations[secretsChecksum]);
    });

    it("a changed ConfigMap (log level) changes the config checksum of every pod that reads it", async () => {
        const before = await render({ worker: { enabled: true } });
        const after = await render({ worker: { enabled: true }, observability: { logLevel: "debug" } });
        for (const name of ["x1agent-api", "x1agent-app", "x1agent-worker"]) {
            const a = deploymentTemplate(before, name).metadata.annotations[configChecksum];
            const b = deploymentTemplate(after, name).metadata.annotations[configChecksum];
            expect(a, name).toMatch(/^[0-9a-f]{64}$/);
            expect(b, name).not.toBe(a);
        }
    });

    it("an unrelated change (a new workspace) leaves the api's pod template as it was", async () => {
        const before = await apiTemplate({ workspaces: [{ id: "a" }] });
        const after = await apiTemplate({ workspaces: [{ id: "a" }, { id: "b" }] });
        expect(after).toEqual(before);
    });

    it("lists every referenced Secret for Reloader, so a value rotated in place rolls the pods too", async () => {
        const all: RegisteredResource[] = await render({
            ...external("x1agent-db-url"),
            auth: { google: { clientIdSecret: "x1-google-client-id", clientSecretSecret: "x1-google-client-secret" }, password: { enabled: true } },
        });
        const annotations = named(all, "Deployment", "x1agent-api").inputs.metadata.annotations;
        expect(annotations["secret.reloader.stakater.com/reload"].split(",")).toEqual(
            ["x1-google-client-id", "x1-google-client-secret", "x1agent-db-url", "x1agent-nats-client"].sort(),
        );
        expect(annotations["configmap.reloader.stakater.com/reload"]).toBe("x1agent-config");
        // The web app reads no Secret.
        expect(named(all, "Deployment", "x1agent-app").inputs.metadata.annotations).not.toHaveProperty("secret.reloader.stakater.com/reload");
    });
});
