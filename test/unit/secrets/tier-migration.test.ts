import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import { SecretsBackend } from "../../../components/secrets/secrets-backend";
import { ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";

// The options each resource was registered with, keyed by name: protect is
// what keeps Tier 1 data through an upgrade, so the test reads it directly.
// (An in-process transformation inherited by the children; the mocks see no options.)
const options = new Map<string, pulumi.ResourceOptions>();
const recordOptions: pulumi.ResourceTransformation = (args) => {
    options.set(args.name, args.opts);
    return undefined;
};

beforeAll(() => setupMocks());
beforeEach(() => {
    resetRegistered();
    options.clear();
});

const vault = { server: "https://vault.example.com" };

describe("a tier upgrade keeps the Tier 1 data until it is marked done", () => {
    it("keeps x1agent-secrets, protected, while the migration from kubernetes is open", async () => {
        const config = stackConfig({ secrets: { tier: "vault", vault, migration: { from: "kubernetes", done: false } } });
        new SecretsBackend("mig", { secrets: config.secrets, clusterName: config.cluster.name }, { transformations: [recordOptions] });
        const all = await settled();
        expect(ofKind(all, "Namespace").map((r) => r.inputs.metadata.name)).toEqual(["x1agent-secrets"]);
        expect(options.get("mig-namespace")).toMatchObject({ protect: true, retainOnDelete: true });
        const store = ofKind(all, "ClusterSecretStore")[0]!;
        expect(store.inputs.metadata.labels).toMatchObject({ "x1agent.dev/secrets-tier": "vault", "x1agent.dev/migration-from": "kubernetes" });
        // Nothing reads the old namespace any more: no reader, no Tier 1 store.
        expect(ofKind(all, "Role")).toEqual([]);
    });

    it("unprotects x1agent-secrets once the migration is marked done", async () => {
        const config = stackConfig({ secrets: { tier: "vault", vault, migration: { from: "kubernetes", done: true } } });
        new SecretsBackend("done", { secrets: config.secrets, clusterName: config.cluster.name }, { transformations: [recordOptions] });
        const all = await settled();
        expect(ofKind(all, "Namespace").map((r) => r.inputs.metadata.name)).toEqual(["x1agent-secrets"]);
        expect(options.get("done-namespace")).toMatchObject({ protect: false, retainOnDelete: false });
        expect(ofKind(all, "ClusterSecretStore")[0]!.inputs.metadata.labels).not.toHaveProperty("x1agent.dev/migration-from");
    });

    it("has no x1agent-secrets in a bind tier that never was Tier 1", async () => {
        const config = stackConfig({ secrets: { tier: "vault", vault } });
        new SecretsBackend("plain", { secrets: config.secrets, clusterName: config.cluster.name });
        expect(ofKind(await settled(), "Namespace")).toEqual([]);
    });
});
