import { describe, expect, it } from "vitest";
import { externalSecretsUseActiveStore } from "../../policies/rules/external-secrets-use-active-store";
import { secretsTierNoDowngrade } from "../../policies/rules/secrets-tier-no-downgrade";
import { secretsTierUiModeConsistent } from "../../policies/rules/secrets-tier-ui-mode-consistent";
import { tier1DataRetainedDuringMigration } from "../../policies/rules/tier1-data-retained-during-migration";
import { tier3StoreHasCloudIdentity } from "../../policies/rules/tier3-store-has-cloud-identity";
import { expectEachPolicyBothWays, runStack } from "./fakes";
import {
    azureIdentity,
    deployment,
    container,
    externalSecret,
    gcpIdentity,
    irsaRole,
    namespace,
    platform,
    rolePolicy,
    store,
    workspaceNamespace,
} from "./fixtures";

expectEachPolicyBothWays([
    "secrets-tier-ui-mode-consistent",
    "external-secrets-use-active-store",
    "tier3-store-has-cloud-identity",
    "tier1-data-retained-during-migration",
    "secrets-tier-no-downgrade",
]);

const api = (env: Record<string, string>) =>
    deployment("x1agent", "x1agent-api", { containers: [container({ name: "api", env: Object.entries(env).map(([name, value]) => ({ name, value })) })] });

describe("secrets-tier-ui-mode-consistent", () => {
    const policy = secretsTierUiModeConsistent();

    it("passes Tier 1 in capture mode and Tier 2 in bind mode, with matching api env", async () => {
        expect(
            await runStack(policy, [
                platform("kubernetes"),
                store("kubernetes"),
                api({ X1AGENT_SECRETS_STORE: "x1-local", X1AGENT_SECRETS_UI_MODE: "capture" }),
            ]),
        ).toEqual([]);
        expect(
            await runStack(policy, [platform("vault"), store("vault"), api({ X1AGENT_SECRETS_STORE: "x1-vault", X1AGENT_SECRETS_UI_MODE: "bind" })]),
        ).toEqual([]);
    });

    it("fails capture mode outside Tier 1, saying capture is Tier 1 only", async () => {
        const v = await runStack(policy, [platform("vault", { uiMode: "capture" }), store("vault")]);
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(/uiMode is capture but the secrets tier is vault: capture mode exists only in Tier 1/);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
    });

    it("fails an api still told the old store and mode after the tier changed", async () => {
        const v = await runStack(policy, [platform("aws"), store("aws"), api({ X1AGENT_SECRETS_STORE: "x1-local", X1AGENT_SECRETS_UI_MODE: "capture" })]);
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(/X1AGENT_SECRETS_STORE=x1-local but tier aws uses store x1-aws/),
            expect.stringMatching(/X1AGENT_SECRETS_UI_MODE=capture but tier aws runs in bind mode/),
        ]);
    });

    it("fails a declared tier whose store does not exist, and a store labelled for another tier", async () => {
        const missing = await runStack(policy, [platform("vault"), store("kubernetes")]);
        expect(missing[0]!.message).toMatch(/declares tier vault but the program has no ClusterSecretStore x1-vault/);
        const mislabelled = store("vault", {}, { "x1agent.dev/secrets-tier": "aws" });
        const v = await runStack(policy, [mislabelled]);
        expect(v.some((x) => /labelled x1agent.dev\/secrets-tier=aws, whose store is x1-aws/.test(x.message))).toBe(true);
    });

    it("a policy-config override makes it advisory", async () => {
        const v = await runStack(policy, [platform("vault", { uiMode: "capture" }), store("vault")], { config: "advisory" });
        expect(v[0]!.enforcementLevel).toBe("advisory");
    });
});

describe("external-secrets-use-active-store", () => {
    const policy = externalSecretsUseActiveStore();

    it("passes when every ExternalSecret uses the active Tier 2 store", async () => {
        expect(
            await runStack(policy, [platform("vault"), store("vault"), externalSecret("x1agent-ws-demo", "anthropic", "x1-vault", ["x1agent/demo/anthropic"])]),
        ).toEqual([]);
    });

    it("does not apply in Tier 1", async () => {
        expect(await runStack(policy, [platform("kubernetes"), store("kubernetes"), externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"])])).toEqual(
            [],
        );
    });

    it("fails a half-done upgrade: an ExternalSecret still on x1-local after Tier 2 is declared", async () => {
        const v = await runStack(policy, [
            platform("vault"),
            store("kubernetes"),
            store("vault"),
            externalSecret("x1agent-ws-demo", "anthropic", "x1-local", ["demo-anthropic"]),
            externalSecret("x1agent-ws-demo", "openai", "x1-vault", ["x1agent/demo/openai"]),
        ]);
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(
            /ExternalSecret x1agent-ws-demo\/anthropic still reads the Tier 1 store x1-local \(spec.secretStoreRef\) but the stack's active store is x1-vault \(tier vault/,
        );
        expect(v[0]!.urn).toContain("es-x1agent-ws-demo-anthropic");
    });

    it("checks per-item sourceRef stores too", async () => {
        const es = externalSecret("x1agent-ws-demo", "mixed", "x1-aws", [], {
            data: [{ secretKey: "a", remoteRef: { key: "demo-a" }, sourceRef: { storeRef: { name: "x1-local", kind: "ClusterSecretStore" } } }],
        });
        const v = await runStack(policy, [platform("aws"), store("aws"), es]);
        expect(v[0]!.message).toMatch(/spec.data\[0\].sourceRef.storeRef/);
    });
});

describe("tier3-store-has-cloud-identity", () => {
    const policy = tier3StoreHasCloudIdentity();

    it("passes each cloud store with its workload identity in the same stack", async () => {
        expect(await runStack(policy, [store("aws"), irsaRole(), rolePolicy()])).toEqual([]);
        expect(await runStack(policy, [store("gcp"), ...gcpIdentity()])).toEqual([]);
        expect(await runStack(policy, [store("azure"), ...azureIdentity()])).toEqual([]);
    });

    it("does not apply to Tier 1 and Tier 2 stores", async () => {
        expect(await runStack(policy, [store("kubernetes"), store("vault")])).toEqual([]);
    });

    it("fails an aws store without the IRSA role and its policy, naming both", async () => {
        const v = await runStack(policy, [store("aws")]);
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(
            /ClusterSecretStore x1-aws \(tier aws\) has no cloud identity in this stack: missing an aws.iam.Role trusting exactly system:serviceaccount:x1agent:x1agent-api.*; an IAM policy granting secretsmanager:GetSecretValue/,
        );
    });

    it("fails a role that trusts another ServiceAccount, and a store authenticating with static keys", async () => {
        const other = irsaRole({ StringEquals: { "oidc:sub": "system:serviceaccount:x1agent-ws-demo:session", "oidc:aud": "sts.amazonaws.com" } });
        const v1 = await runStack(policy, [store("aws"), other, rolePolicy()]);
        expect(v1[0]!.message).toMatch(/missing an aws.iam.Role trusting exactly/);
        const staticKeys = store("aws", {
            provider: { aws: { service: "SecretsManager", region: "us-east-1", auth: { secretRef: { accessKeyIDSecretRef: { name: "aws", key: "id" } } } } },
        });
        const v2 = await runStack(policy, [staticKeys, irsaRole(), rolePolicy()]);
        expect(v2[0]!.message).toMatch(/does not authenticate as x1agent\/x1agent-api through workload identity \(found no serviceAccountRef/);
    });

    it("fails gcp and azure stores missing part of their identity", async () => {
        const [gsa, , grant] = gcpIdentity();
        expect((await runStack(policy, [store("gcp"), gsa!, grant!]))[0]!.message).toMatch(/missing roles\/iam.workloadIdentityUser/);
        const [uai, , assignment] = azureIdentity();
        expect((await runStack(policy, [store("azure"), uai!, assignment!]))[0]!.message).toMatch(
            /missing a federated identity credential for subject system:serviceaccount:x1agent:x1agent-api/,
        );
    });
});

describe("tier1-data-retained-during-migration", () => {
    const policy = tier1DataRetainedDuringMigration();
    const secretsNs = (protect: boolean) => namespace("x1agent-secrets", { "pod-security.kubernetes.io/enforce": "restricted" }, protect);
    const open = { "x1agent:migration": "kubernetes-to-vault:in-progress" };

    it("passes an open migration that keeps x1agent-secrets protected", async () => {
        expect(await runStack(policy, [platform("vault"), store("vault"), secretsNs(true)], { tags: open })).toEqual([]);
    });

    it("passes once the migration is marked done, even without the namespace", async () => {
        expect(
            await runStack(policy, [platform("vault"), store("vault")], {
                tags: { "x1agent:migration": "kubernetes-to-vault:done", "x1agent:tier-floor": "kubernetes" },
            }),
        ).toEqual([]);
    });

    it("passes a steady Tier 1 stack with no migration", async () => {
        expect(
            await runStack(policy, [platform("kubernetes"), store("kubernetes"), secretsNs(false)], { tags: { "x1agent:tier-floor": "kubernetes" } }),
        ).toEqual([]);
    });

    it("fails a half-done upgrade that drops x1agent-secrets while the migration is open", async () => {
        const v = await runStack(policy, [platform("vault"), store("vault")], { tags: open });
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(
            /Namespace x1agent-secrets is not in the program, so this update deletes the Tier 1 secret values while a migration away from Tier 1 is open \(stack tag x1agent:migration=kubernetes-to-vault:in-progress\)/,
        );
        expect(v[0]!.enforcementLevel).toBe("mandatory");
    });

    it("fails an unprotected namespace (retainOnDelete is invisible to policies)", async () => {
        const v = await runStack(policy, [platform("vault"), store("vault"), secretsNs(false)], { tags: open });
        expect(v[0]!.message).toMatch(/it is not protected: create it with the resource option protect: true/);
    });

    it("treats leaving Tier 1 without a migration record as an open migration (the floor remembers Tier 1)", async () => {
        const v = await runStack(policy, [platform("aws"), store("aws")], { tags: { "x1agent:tier-floor": "kubernetes" } });
        expect(v[0]!.message).toMatch(/the stack last ran Tier 1 \(x1agent:tier-floor=kubernetes\) and now declares tier aws/);
    });

    it("reads the program's store label too, and fails closed on an unreadable tag", async () => {
        const labelled = store("vault", {}, { "x1agent.dev/migration-from": "kubernetes" });
        expect((await runStack(policy, [platform("vault"), labelled]))[0]!.message).toMatch(/label x1agent.dev\/migration-from=kubernetes/);
        const v = await runStack(policy, [platform("vault"), store("vault")], { tags: { "x1agent:migration": "half-way" } });
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(/stack tag x1agent:migration = 'half-way' is not <from>-to-<to>:in-progress\|done/),
            expect.stringMatching(/Namespace x1agent-secrets is not in the program/),
        ]);
    });
});

describe("secrets-tier-no-downgrade", () => {
    const policy = secretsTierNoDowngrade();

    it("passes the floor's tier, an upgrade, and a stack without a floor", async () => {
        expect(await runStack(policy, [platform("vault"), store("vault")], { tags: { "x1agent:tier-floor": "vault" } })).toEqual([]);
        expect(await runStack(policy, [platform("aws"), store("aws")], { tags: { "x1agent:tier-floor": "vault" } })).toEqual([]);
        expect(await runStack(policy, [platform("kubernetes"), store("kubernetes")])).toEqual([]);
    });

    it("fails a downgrade below the floor and says how to allow it", async () => {
        const v = await runStack(policy, [platform("kubernetes"), store("kubernetes")], { tags: { "x1agent:tier-floor": "vault" } });
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(
            /secrets tier kubernetes \(Tier 1, from Platform output `tier`\) is below this stack's floor vault \(Tier 2, stack tag x1agent:tier-floor\)/,
        );
        expect(v[0]!.message).toContain('{"secrets-tier-no-downgrade": {"allowDowngradeTo": "kubernetes"}}');
    });

    it("passes a downgrade explicitly allowed for exactly that tier, not another", async () => {
        const tags = { "x1agent:tier-floor": "aws" };
        expect(await runStack(policy, [platform("kubernetes"), store("kubernetes")], { tags, config: { allowDowngradeTo: "kubernetes" } })).toEqual([]);
        const v = await runStack(policy, [platform("kubernetes"), store("kubernetes")], { tags, config: { allowDowngradeTo: "vault" } });
        expect(v[0]!.message).toMatch(/this run allows a downgrade to vault only, not to kubernetes/);
    });

    it("fails closed on a floor tag that is not a tier", async () => {
        const v = await runStack(policy, [platform("kubernetes"), store("kubernetes")], { tags: { "x1agent:tier-floor": "valt" } });
        expect(v[0]!.message).toMatch(/stack tag x1agent:tier-floor = 'valt' is not a secrets tier/);
    });

    it("reads the tier from the stores when the program exports no tier", async () => {
        const v = await runStack(policy, [store("kubernetes"), workspaceNamespace("demo")], { tags: { "x1agent:tier-floor": "gcp" } });
        expect(v[0]!.message).toMatch(/from ClusterSecretStore x1-local \(label x1agent.dev\/secrets-tier\)/);
    });
});
