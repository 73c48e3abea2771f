import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Platform } from "../../../components";
import { validateStack } from "../../../runtime/engine/project";
import { defaultKubernetesVersion } from "../../../stacks/schema";
import { type RegisteredResource, invoked, ofKind, resetRegistered, settled, stackConfig } from "../../helpers/mocks";
import { setupCloudMocks } from "../identity/cloud-mocks";
import { dependenciesOf, recordOptions, resourceNamed } from "./resource-options";

beforeAll(() => setupCloudMocks());
beforeEach(resetRegistered);

const charts = (all: RegisteredResource[]) => all.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart").map((r) => r.inputs.chart as string);
/** The charts rendered through the provider's template function (rendering to a folder), with the Kubernetes version each was rendered for. */
const templated = () =>
    invoked
        .filter((i) => i.token === "kubernetes:helm:template")
        .map((i) => JSON.parse(i.inputs.jsonOpts) as { chart: string; kube_version: string; release_name: string; namespace: string });
const apiServiceAccount = (all: RegisteredResource[]) => ofKind(all, "ServiceAccount").find((r) => r.inputs.metadata.name === "x1agent-api")!;

/** Every env entry of every container of every workload, with the object it belongs to. */
function envEntries(all: RegisteredResource[]): { owner: string; name: string; value?: string; valueFrom?: unknown }[] {
    const out: { owner: string; name: string; value?: string; valueFrom?: unknown }[] = [];
    for (const r of all.filter((x) => x.type.startsWith("kubernetes:"))) {
        const podSpec = r.inputs.spec?.template?.spec ?? r.inputs.spec?.jobTemplate?.spec?.template?.spec;
        for (const c of [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? [])]) {
            for (const e of c.env ?? []) out.push({ owner: `${r.type} ${r.inputs.metadata?.name}`, ...e });
        }
    }
    return out;
}

describe("the platform's add-ons", () => {
    it("the api ServiceAccount carries the IRSA role in prod (EKS, Tier 3 aws)", async () => {
        new Platform("x1agent", { config: validateStack("prod") });
        const sa = apiServiceAccount(await settled());
        expect(sa.inputs.metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:mock:::x1agent-identity-role" });
    });

    it("the api ServiceAccount carries the Google service account in staging (GKE, Tier 3 gcp)", async () => {
        new Platform("x1agent", { config: validateStack("staging") });
        const sa = apiServiceAccount(await settled());
        expect(sa.inputs.metadata.annotations).toEqual({ "iam.gke.io/gcp-service-account": "x1agent-staging-api@x1agent-staging.iam.gserviceaccount.com" });
    });

    it("Tier 1 and 2 create no cloud identity and no annotation", async () => {
        new Platform("x1agent", { config: validateStack("onprem") });
        const all = await settled();
        expect(all.filter((r) => /^(aws|gcp|azure-native):/.test(r.type) && !r.type.includes("kms") && !r.type.includes("keyvault"))).toEqual([]);
        expect(apiServiceAccount(all).inputs.metadata.annotations ?? {}).toEqual({});
    });

    it("external Postgres never puts the DSN in plain env", async () => {
        new Platform("x1agent", { config: validateStack("prod") });
        const all = await settled();
        expect(ofKind(all, "Cluster")).toEqual([]);
        const dsn = /postgres(ql)?:\/\//i;
        for (const e of envEntries(all)) expect(e.value ?? "", `${e.owner} ${e.name}`).not.toMatch(dsn);
        for (const cm of ofKind(all, "ConfigMap")) expect(JSON.stringify(cm.inputs.data ?? {})).not.toMatch(dsn);
        // prod reads its DSN from a mounted Secret file: the key is referenced, never copied.
        expect(JSON.stringify(all.filter((r) => r.type.startsWith("kubernetes:")).map((r) => r.inputs))).toContain("x1agent-db-url");
    });

    it("the render stack installs no chart (all add-ons already installed) but still creates its issuers, certificates and store", async () => {
        new Platform("x1agent", { config: validateStack("render") });
        const all = await settled();
        expect(charts(all)).toEqual([]);
        expect(
            ofKind(all, "ClusterIssuer")
                .map((r) => r.inputs.metadata.name)
                .sort(),
        ).toEqual(["x1agent-local-ca", "x1agent-nats-ca", "x1agent-selfsigned"]);
        expect(ofKind(all, "Certificate").map((r) => r.inputs.metadata.name)).toEqual(
            expect.arrayContaining(["x1agent-tls", "x1agent-nats-client", "x1agent-local-ca", "x1agent-nats-ca"]),
        );
        expect(ofKind(all, "ClusterSecretStore")).toHaveLength(1);
    });

    it("local (applied to its cluster) installs every add-on from its pinned upstream chart through helm.v4.Chart: Helm asks the cluster its version", async () => {
        new Platform("x1agent", { config: validateStack("local") });
        expect(charts(await settled()).sort()).toEqual(["cert-manager", "cloudnative-pg", "external-secrets", "nats"]);
        expect(templated()).toEqual([]);
    });

    it("dev (rendered to a folder) renders every add-on's pinned chart for cluster.kubernetesVersion, by default the local control plane's", async () => {
        new Platform("x1agent", { config: validateStack("dev") });
        const all = await settled();
        expect(charts(all)).toEqual([]);
        expect(
            all
                .filter((r) => r.type === "x1agent:addons:RenderedChart")
                .map((r) => r.name)
                .sort(),
        ).toEqual(["x1agent-cert-manager-chart", "x1agent-external-secrets-chart", "x1agent-nats-chart", "x1agent-postgres-operator"]);
        const rendered = templated();
        expect(rendered.map((t) => t.chart).sort()).toEqual(["cert-manager", "cloudnative-pg", "external-secrets", "nats"]);
        for (const t of rendered) expect(t.kube_version).toBe(defaultKubernetesVersion);
        expect(rendered.find((t) => t.chart === "cert-manager")).toMatchObject({ release_name: "cert-manager", namespace: "cert-manager" });
    });

    it("a stack's cluster.kubernetesVersion is the version its charts render for", async () => {
        const config = validateStack("dev");
        new Platform("x1agent", { config: { ...config, cluster: { ...config.cluster, kubernetesVersion: "1.31.4" } } });
        await settled();
        expect(new Set(templated().map((t) => t.kube_version))).toEqual(new Set(["1.31.4"]));
    });

    it("the store waits for ESO's chart, and in Tier 3 for the cloud identity", async () => {
        const { transformations, registrations } = recordOptions();
        new Platform("x1agent", { config: validateStack("prod") }, { transformations });
        await settled();
        const deps = dependenciesOf(registrations, "x1agent-secrets-store");
        expect(deps).toContain(resourceNamed(registrations, "x1agent-external-secrets-chart"));
        expect(deps).toContain(resourceNamed(registrations, "x1agent-identity"));
    });

    it("the secrets backend waits for the api's ServiceAccount it authenticates as, not for the runtime's Deployments", async () => {
        const { transformations, registrations } = recordOptions();
        new Platform("x1agent", { config: validateStack("staging") }, { transformations });
        await settled();
        // Vault's Kubernetes auth role binds that ServiceAccount; waiting for the whole runtime held every store, and
        // every workspace's ExternalSecrets behind it, until the api and app Deployments were available.
        expect(dependenciesOf(registrations, "x1agent-secrets")).toEqual([resourceNamed(registrations, "x1agent-runtime-api-sa")]);
    });

    it("the etcd encryption output says what the cluster owner wires", async () => {
        const platform = new Platform("x1agent", { config: stackConfig({ cluster: { provider: "self-managed", name: "x1agent-onprem" } }) });
        const out = await new Promise<Record<string, unknown>>((resolve) =>
            platform.etcdEncryption.apply((v) => resolve(v as unknown as Record<string, unknown>)),
        );
        expect(out).toMatchObject({ enabled: true, provider: "kms-v2-plugin" });
        expect(out.encryptionConfiguration).toContain("kind: EncryptionConfiguration");
    });
});
