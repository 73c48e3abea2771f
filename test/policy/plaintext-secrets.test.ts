import { describe, expect, it } from "vitest";
import { isSensitiveName, secretLookingValue } from "../../policies/lib/patterns";
import { configmapNoSecrets } from "../../policies/rules/configmap-no-secrets";
import { helmValuesNoSecrets } from "../../policies/rules/helm-values-no-secrets";
import { secretEnvFromSecretRef } from "../../policies/rules/secret-env-from-secret-ref";
import { workspaceNoLiteralSecrets } from "../../policies/rules/workspace-no-literal-secrets";
import { expectEachPolicyBothWays, runResource, runStack, UNKNOWN, type FakeResource } from "./fakes";
import { configMap, container, deployment } from "./fixtures";

expectEachPolicyBothWays(["secret-env-from-secret-ref", "configmap-no-secrets", "helm-values-no-secrets", "workspace-no-literal-secrets"]);

// Test values shaped like real credentials; none is one.
const fakeAnthropicKey = `sk-ant-${"a1B2".repeat(8)}`;
const fakePem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";

describe("what counts as a credential name and a secret-looking value", () => {
    it.each([
        ["DB_PASSWORD", true],
        ["ANTHROPIC_API_KEY", true],
        ["clientSecret", true],
        ["GITHUB_TOKEN", true],
        ["DATABASE_URL", true],
        ["passwordSecretName", false],
        ["TOKEN_FILE", false],
        ["existingSecret", false],
        ["X1AGENT_SECRETS_STORE", false],
        ["X1AGENT_SECRETS_UI_MODE", false],
        ["secretKeyRef", false],
        ["DB_PASSWORD_SECRET", false],
        ["passwordSecretKey", false],
        ["AWS_SECRET_KEY", true],
    ])("%s sensitive: %s", (name, sensitive) => {
        expect(isSensitiveName(name)).toBe(sensitive);
    });

    it.each([
        [fakeAnthropicKey, "an API key (sk-...)"],
        [fakePem, "a PEM private key"],
        ["postgres://app:hunter22@db:5432/x1agent", "credentials in a URL"],
        ["AKIAABCDEFGHIJKLMNOP", "an AWS access key id"],
        ["server:\n  password: hunter2222\n", "a credential assignment in a config file"],
        ["tls://nats.x1agent-nats.svc:4222", undefined],
        ["postgres://app:$(DB_PASSWORD)@db/x1agent", undefined],
        ["password: ${DB_PASSWORD}", undefined],
    ])("%j looks like %s", (value, label) => {
        expect(secretLookingValue(value)).toBe(label);
    });
});

describe("secret-env-from-secret-ref", () => {
    const policy = secretEnvFromSecretRef();
    const withEnv = (...env: Record<string, unknown>[]) => deployment("x1agent", "x1agent-api", { containers: [container({ name: "api", env })] });

    it("passes credentials from secretKeyRef and ordinary literal settings", async () => {
        const r = withEnv(
            { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "x1agent-db", key: "password" } } },
            { name: "X1AGENT_SECRETS_STORE", value: "x1-local" },
            { name: "NATS_URL", value: "tls://nats.x1agent-nats.svc:4222" },
            { name: "DB_PASSWORD_FILE", value: "/var/secrets/db/password" },
        );
        expect(await runResource(policy, r)).toEqual([]);
    });

    it("fails a plaintext secret env without ever echoing the value", async () => {
        const v = await runResource(policy, withEnv({ name: "ANTHROPIC_API_KEY", value: fakeAnthropicKey }));
        expect(v).toEqual([
            {
                message: `Deployment x1agent/x1agent-api containers api sets ANTHROPIC_API_KEY as a literal value (<redacted, ${fakeAnthropicKey.length} characters>): a credential must come from a Secret; use valueFrom.secretKeyRef { name, key }`,
                urn: undefined,
                enforcementLevel: "mandatory",
            },
        ]);
        expect(JSON.stringify(v)).not.toContain(fakeAnthropicKey);
    });

    it("fails a credential read from a ConfigMap, and a secret-shaped value under an innocent name", async () => {
        const v1 = await runResource(policy, withEnv({ name: "GITHUB_TOKEN", valueFrom: { configMapKeyRef: { name: "cfg", key: "t" } } }));
        expect(v1[0]!.message).toMatch(/reads GITHUB_TOKEN from configMapKeyRef, not a Secret/);
        const v2 = await runResource(policy, withEnv({ name: "UPSTREAM", value: "https://bot:hunter22@git.example.com/x.git" }));
        expect(v2[0]!.message).toMatch(/env UPSTREAM has a literal value that looks like credentials in a URL/);
    });

    it("fails closed on a credential env whose value is unknown at preview, and ignores unknown ordinary values", async () => {
        const v = await runResource(policy, withEnv({ name: "DB_PASSWORD", value: UNKNOWN }));
        expect(v).toHaveLength(1);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(/cannot be verified during preview/);
        expect(await runResource(policy, withEnv({ name: "SERVICE_HOST", value: UNKNOWN }))).toEqual([]);
    });
});

describe("configmap-no-secrets", () => {
    const policy = configmapNoSecrets();
    it("passes configuration and references to Secrets", async () => {
        expect(
            await runResource(
                policy,
                configMap("x1agent", "x1agent-config", { LOG_LEVEL: "info", DB_PASSWORD_SECRET: "x1agent-db", "nats.conf": '{"port": 4222}' }),
            ),
        ).toEqual([]);
    });
    it("fails a credential-named key and a private key in a file", async () => {
        const v = await runResource(policy, configMap("x1agent", "cfg", { SMTP_PASSWORD: "hunter2222", "tls.key": fakePem }));
        expect(v.map((x) => x.message)).toEqual([
            "ConfigMap x1agent/cfg data.SMTP_PASSWORD holds a credential (<redacted, 10 characters>) by its name: ConfigMaps are not secret; move it to a Secret",
            `ConfigMap x1agent/cfg data.tls.key contains what looks like a PEM private key (<redacted, ${fakePem.length} characters>): move it to a Secret`,
        ]);
    });
});

describe("helm-values-no-secrets", () => {
    const policy = helmValuesNoSecrets();
    const release = (values: Record<string, unknown>): FakeResource => ({
        type: "kubernetes:helm.sh/v3:Release",
        name: "x1agent-postgres-release",
        props: { chart: "cloudnative-pg", values },
    });
    const addon = (chartValues: Record<string, unknown>): FakeResource => ({
        type: "x1agent:addons:Postgres",
        name: "x1agent-postgres",
        props: { chartValues },
    });
    it("passes values that reference Secrets, and a helm.v4 Chart whose values policies cannot see", async () => {
        expect(
            await runStack(policy, [
                release({ auth: { existingSecret: "pg-auth", passwordSecretKey: "password" }, config: { nats: { tls: { secretName: "nats-server-tls" } } } }),
            ]),
        ).toEqual([]);
        expect(await runStack(policy, [{ type: "kubernetes:helm.sh/v4:Chart", name: "c", props: {} }])).toEqual([]);
    });
    it("fails a literal password in release values and in an add-on's chartValues (from addons.<name>.values)", async () => {
        const v = await runStack(policy, [release({ auth: { postgresPassword: "hunter2222" } })]);
        expect(v[0]!.message).toBe(
            "kubernetes:helm.sh/v3:Release 'x1agent-postgres-release' values.auth.postgresPassword is a credential by its name (<redacted, 10 characters>): pass it by Secret reference (existingSecret/secretName), not as a value",
        );
        expect((await runStack(policy, [addon({ superuserPassword: "hunter2222" })]))[0]!.message).toMatch(
            /x1agent:addons:Postgres 'x1agent-postgres' chartValues.superuserPassword is a credential by its name/,
        );
    });
    it("fails a token-shaped value anywhere in the values, and a credential-named value unknown at preview", async () => {
        expect((await runStack(policy, [release({ extraEnv: [{ name: "X", value: fakeAnthropicKey }] })]))[0]!.message).toMatch(
            /values.extraEnv.0.value looks like an API key/,
        );
        const v = await runStack(policy, [release({ auth: { password: UNKNOWN }, other: UNKNOWN })]);
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(/cannot be verified during preview/);
    });
});

describe("workspace-no-literal-secrets", () => {
    const policy = workspaceNoLiteralSecrets();
    const secret = (ns: string, body: Record<string, unknown>): FakeResource => ({
        type: "kubernetes:core/v1:Secret",
        name: `secret-${ns}`,
        props: { metadata: { name: "s", namespace: ns }, ...body },
    });
    it("passes Secrets outside workspaces and data-less Secrets in them", async () => {
        expect(await runResource(policy, secret("x1agent", { stringData: { token: "x" } }))).toEqual([]);
        expect(await runResource(policy, secret("x1agent-ws-demo", { type: "kubernetes.io/service-account-token" }))).toEqual([]);
    });
    it("fails literal data in a workspace, naming the keys only", async () => {
        const v = await runResource(policy, secret("x1agent-ws-demo", { stringData: { "api-key": fakeAnthropicKey } }));
        expect(v[0]!.message).toBe(
            "Secret x1agent-ws-demo/s carries literal data (api-key) in workspace namespace x1agent-ws-demo: workspace secrets must come from an ExternalSecret (workspaces[].secrets), never from the program's manifests",
        );
        expect(v[0]!.message).not.toContain(fakeAnthropicKey);
    });
});
