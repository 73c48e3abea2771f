/**
 * A Tier 1 -> Tier 2 (Vault) secrets upgrade applied on the local cluster,
 * with the NATS cluster grown to three servers in the same `up`, as an
 * operator moving a `local`-like install towards production would do it: a
 * throwaway copy of `local` (platform-stack.ts) is applied at Tier 1, then
 * `secrets.tier: vault` with `secrets.migration: { from: kubernetes }` and
 * `nats.replicas: 3`, then the migration is marked done, then destroyed.
 * What only the API server shows: the new store and every ExternalSecret
 * admitted against ESO's CRDs, workloads Available after the roll, three
 * NATS pods; and what the state shows: the Tier 1 namespace protected until
 * the migration is done. No Vault runs here (nor does ESO's controller, on
 * simulated nodes): the store is admitted, never connected.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOperation } from "../../runtime/engine/stack-runner";
import { kubectl } from "./cluster";
import { leftAfterDestroy, list, notReady, type PlatformStack, platformStack, ws } from "./platform-stack";

const stack = "cluster-tier-upgrade";
let platform: PlatformStack;

/** Tier 2 (Vault) with three NATS servers, `secrets.migration` open or done; the workspace's key moves under its Vault prefix. */
function toVault(c: Record<string, any>, done: boolean): void {
    c["x1agent:secrets"] = { tier: "vault", vault: { server: "https://vault.example.com" }, migration: { from: "kubernetes", done } };
    c["x1agent:nats"] = { replicas: 3 };
    c["x1agent:workspaces"] = [{ id: "demo", secrets: [{ name: "anthropic", remoteKey: "x1agent/demo/anthropic" }] }];
}

/** x1agent-secrets as the state records it: kept (protected, retained on delete) while the migration is open. */
async function secretsNamespaceState(): Promise<{ protect: boolean; retainOnDelete: boolean }> {
    const ns = (await platform.state()).find((r) => r.type === "kubernetes:core/v1:Namespace" && r.outputs?.metadata?.name === "x1agent-secrets");
    return { protect: ns?.protect ?? false, retainOnDelete: ns?.retainOnDelete ?? false };
}

const migrationLabel = (s: any) => s.metadata.labels?.["x1agent.dev/migration-from"] ?? "none";

async function up(label: string) {
    const result = await runOperation(stack, "up");
    console.log(`[cluster tier] ${label} up ${stack}: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
    return result;
}

beforeAll(async () => {
    platform = await platformStack(stack);
});

afterAll(async () => {
    // An upgrade left open protects x1agent-secrets: mark the migration done first, as an operator would.
    await platform?.cleanup(async (left) => {
        if (!left.some((r) => r.protect)) return;
        platform.write((c) => toVault(c, true));
        await runOperation(stack, "up").catch((err: Error) => console.error(`[cluster tier] cleanup up of ${stack} failed: ${err.message.slice(-500)}`));
    });
});

describe("a Tier 1 -> Tier 2 (Vault) upgrade on the cluster, with a three-server NATS cluster", () => {
    it("Tier 1 first: the x1-local store, every ExternalSecret on it, one NATS server", async () => {
        const result = await up("tier 1");
        expect(result.counts.create).toBeGreaterThan(100);
        expect(await notReady()).toEqual([]);
        expect((await list("clustersecretstores.external-secrets.io")).map((s) => s.metadata.name)).toEqual(["x1-local"]);
        expect((await list("externalsecrets.external-secrets.io", ws)).map((e) => e.spec.secretStoreRef.name)).toEqual(["x1-local"]);
        expect((await list("sts", "x1agent")).find((s) => s.metadata.name === "x1agent-nats")?.spec.replicas).toBe(1);
    });

    it("up repoints every ExternalSecret to x1-vault, keeps x1agent-secrets while the migration is open, and runs three NATS servers", async () => {
        platform.write((c) => toVault(c, false));
        await up("tier 2 (migration open)");
        expect(await notReady()).toEqual([]);
        // The new store, admitted by ESO's CRD schema, says the upgrade is still open (the policy pack reads it).
        expect((await list("clustersecretstores.external-secrets.io")).map((s) => [s.apiVersion, s.metadata.name, migrationLabel(s)])).toEqual([
            ["external-secrets.io/v1", "x1-vault", "kubernetes"],
        ]);
        const externalSecrets = (await list("externalsecrets.external-secrets.io")).map(
            (e) => `${e.metadata.namespace}/${e.metadata.name} ${e.spec.secretStoreRef.kind}/${e.spec.secretStoreRef.name}`,
        );
        expect(externalSecrets.length).toBeGreaterThan(0);
        expect(externalSecrets.filter((e) => !e.endsWith(" ClusterSecretStore/x1-vault"))).toEqual([]);
        const remoteKeys = (await list("externalsecrets.external-secrets.io", ws)).flatMap((e) => [
            ...(e.spec.data ?? []).map((d: any) => d.remoteRef.key),
            ...(e.spec.dataFrom ?? []).map((d: any) => d.extract.key),
        ]);
        expect(remoteKeys).toEqual(["x1agent/demo/anthropic"]);
        // The Tier 1 data stays: the namespace is there and the state protects it until the migration is done.
        expect(JSON.parse(await kubectl(["get", "namespace", "x1agent-secrets", "-o", "json"])).status.phase).toBe("Active");
        expect(await secretsNamespaceState()).toEqual({ protect: true, retainOnDelete: true });
        // The Tier 1 store's reader went with that store.
        expect((await list("serviceaccounts", "x1agent-secrets")).map((a) => a.metadata.name)).not.toContain("eso-reader");

        const nats = (await list("sts", "x1agent")).find((s) => s.metadata.name === "x1agent-nats");
        expect([nats?.spec.replicas, nats?.status.readyReplicas]).toEqual([3, 3]);
        const natsPods = (await list("pods", "x1agent")).filter((p) => /^x1agent-nats-\d$/.test(p.metadata.name));
        expect(natsPods.map((p) => `${p.metadata.name} ${p.status.phase}`).sort()).toEqual([
            "x1agent-nats-0 Running",
            "x1agent-nats-1 Running",
            "x1agent-nats-2 Running",
        ]);
    });

    it("marking the migration done unprotects x1agent-secrets: still there, no longer kept", async () => {
        platform.write((c) => toVault(c, true));
        await up("migration done");
        expect(JSON.parse(await kubectl(["get", "namespace", "x1agent-secrets", "-o", "json"])).status.phase).toBe("Active");
        expect(await secretsNamespaceState()).toEqual({ protect: false, retainOnDelete: false });
        expect((await list("clustersecretstores.external-secrets.io")).map((s) => [s.metadata.name, migrationLabel(s)])).toEqual([["x1-vault", "none"]]);
    });

    it("destroy removes it all, x1agent-secrets included, and leaves nothing stuck", async () => {
        const result = await runOperation(stack, "destroy");
        console.log(`[cluster tier] destroy ${stack}: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
        expect(result.counts.delete).toBeGreaterThan(100);
        expect(await leftAfterDestroy()).toEqual({ namespaces: [], deleting: [], crds: [] });
        expect(await platform.state()).toEqual([]);
    });
});
