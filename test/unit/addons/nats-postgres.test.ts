import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { issuerNames } from "../../../components/addons/cert-manager";
import { upstreamCharts } from "../../../components/addons/chart-source";
import { Nats, natsNames } from "../../../components/addons/nats";
import { Postgres, postgresNames } from "../../../components/addons/postgres";
import { type RegisteredResource, ofKind, resetRegistered, settled, setupMocks, stackConfig, valueOf } from "../../helpers/mocks";

beforeAll(() => setupMocks());
beforeEach(resetRegistered);

const chartOf = (all: RegisteredResource[]) => all.find((r) => r.type === "kubernetes:helm.sh/v4:Chart");
const certificate = (all: RegisteredResource[], name: string) => ofKind(all, "Certificate").find((r) => r.inputs.metadata.name === name);

function nats(overrides: Parameters<typeof stackConfig>[0] = {}) {
    const config = stackConfig(overrides);
    new Nats("nats", { addon: config.addons.nats, nats: config.nats, selfSignedIssuer: issuerNames.selfSigned, certManagerReady: [], appNamespace: "x1agent" });
    return settled();
}

describe("NATS", () => {
    it("requires client certificates: TLS on the client port with verify, trusting only the x1agent NATS CA", async () => {
        const all = await nats();
        const values = chartOf(all)!.inputs.values;
        expect(values.config.nats.tls).toEqual({ enabled: true, secretName: natsNames.serverSecret, merge: { verify: true } });
        // ca.crt in the server certificate's Secret is the NATS CA: client certificates must chain to it.
        expect(values.tlsCA).toEqual({ enabled: true, secretName: natsNames.serverSecret, key: "ca.crt" });
        expect(certificate(all, natsNames.serverSecret)!.inputs.spec.issuerRef.name).toBe(natsNames.ca);
    });

    it.each([
        ["the defaults", {}, true],
        ["nats.mtls: false", { nats: { mtls: false } }, false],
        ["a values override that drops verify", { addons: { nats: { values: { config: { nats: { tls: { merge: { verify: false } } } } } } } }, false],
    ] as const)("reports whether client certificates are verified as the chart gets it (%s)", async (_, overrides, expected) => {
        const config = stackConfig(overrides as Parameters<typeof stackConfig>[0]);
        const component = new Nats("nats", {
            addon: config.addons.nats,
            nats: config.nats,
            selfSignedIssuer: issuerNames.selfSigned,
            certManagerReady: [],
            appNamespace: "x1agent",
        });
        expect(await valueOf(component.clientCertificateVerification)).toBe(expected);
        expect(await valueOf(component.chartValues)).toEqual(chartOf(await settled())!.inputs.values);
    });

    it("issues the api a client-auth certificate from its own CA issuer, in the app namespace", async () => {
        const all = await nats();
        const ca = certificate(all, natsNames.ca)!;
        expect(ca.inputs.spec).toMatchObject({ isCA: true, secretName: natsNames.ca, issuerRef: { name: issuerNames.selfSigned, kind: "ClusterIssuer" } });
        const issuer = ofKind(all, "ClusterIssuer").find((r) => r.inputs.metadata.name === natsNames.ca)!;
        expect(issuer.inputs.spec).toEqual({ ca: { secretName: natsNames.ca } });
        const client = certificate(all, natsNames.apiClient)!;
        expect(client.inputs.metadata.namespace).toBe("x1agent");
        expect(client.inputs.spec).toMatchObject({
            secretName: natsNames.apiClient,
            usages: ["digital signature", "client auth"],
            issuerRef: { name: natsNames.ca, kind: "ClusterIssuer" },
        });
    });

    it("runs one node by default", async () => {
        const values = chartOf(await nats())!.inputs.values;
        expect(values.config.cluster).toEqual({ enabled: false });
        expect(values.config.jetstream).toMatchObject({ enabled: true, fileStore: { pvc: { size: "1Gi" } } });
    });

    it("replicas: 3 is a three-node JetStream cluster with TLS between the nodes", async () => {
        const values = chartOf(await nats({ nats: { replicas: 3 } }))!.inputs.values;
        expect(values.config.cluster).toEqual({
            enabled: true,
            replicas: 3,
            tls: { enabled: true, secretName: natsNames.serverSecret },
            // Routes dial fully qualified pod names, which the server certificate covers (test/engine/addons.test.ts reads them from the real chart).
            routeURLs: { useFQDN: true, k8sClusterDomain: "cluster.local" },
        });
        expect(values.config.jetstream.enabled).toBe(true);
    });

    it("runs as non-root with every capability dropped, as the restricted app namespace requires", async () => {
        const values = chartOf(await nats())!.inputs.values;
        expect(values.podTemplate.merge.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        for (const c of [values.container, values.reloader])
            expect(c.merge.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    });

    it("installs the pinned upstream chart as release x1agent-nats in the app namespace", async () => {
        expect(chartOf(await nats())!.inputs).toMatchObject({
            chart: "nats",
            version: upstreamCharts.nats.version,
            name: "x1agent-nats",
            namespace: "x1agent",
        });
    });

    it("already installed: no chart and no server certificate, but the api still gets its client certificate", async () => {
        const all = await nats({ addons: { nats: { install: false } } });
        expect(chartOf(all)).toBeUndefined();
        expect(certificate(all, natsNames.serverSecret)).toBeUndefined();
        expect(certificate(all, natsNames.apiClient)).toBeDefined();
    });
});

function postgres(overrides: Parameters<typeof stackConfig>[0] = {}) {
    const config = stackConfig(overrides);
    new Postgres("pg", { addon: config.addons.postgresOperator, postgres: config.postgres, registry: config.images.registry, appNamespace: "x1agent" });
    return settled();
}

describe("Postgres", () => {
    it("bundled: a CloudNativePG Cluster in the app namespace whose credentials the operator generates", async () => {
        const all = await postgres();
        expect(chartOf(all)!.inputs).toMatchObject({ chart: "cloudnative-pg", version: upstreamCharts.postgresOperator.version, namespace: "cnpg-system" });
        const [cluster] = ofKind(all, "Cluster");
        expect(cluster!.inputs.apiVersion).toBe("postgresql.cnpg.io/v1");
        expect(cluster!.inputs.metadata).toMatchObject({ name: postgresNames.cluster, namespace: "x1agent" });
        expect(cluster!.inputs.spec).toMatchObject({
            instances: 1,
            storage: { size: "1Gi" },
            enableSuperuserAccess: false,
            bootstrap: { initdb: { database: "x1agent", owner: "x1agent" } },
        });
        // No password, no secret reference of ours: the operator writes x1agent-postgres-app itself.
        expect(JSON.stringify(cluster!.inputs)).not.toMatch(/password|secret/i);
    });

    it("pgvector: the bundled database uses the image that ships it and creates the extension", async () => {
        const [cluster] = ofKind(await postgres({ postgres: { vectorEnabled: true } }), "Cluster");
        expect(cluster!.inputs.spec.imageName).toBe("ghcr.io/cloudnative-pg/postgresql:17-standard-trixie");
        expect(cluster!.inputs.spec.bootstrap.initdb.postInitApplicationSQL).toEqual(["CREATE EXTENSION IF NOT EXISTS vector"]);
    });

    it("without pgvector the smaller image is used, from the configured registry mirror", async () => {
        const [cluster] = ofKind(await postgres({ images: { registry: "registry.corp.example.com/mirror" } }), "Cluster");
        expect(cluster!.inputs.spec.imageName).toBe("registry.corp.example.com/mirror/cloudnative-pg/postgresql:17-minimal-trixie");
        expect(cluster!.inputs.spec.bootstrap.initdb.postInitApplicationSQL).toBeUndefined();
    });

    it("external: no operator and no database in the cluster", async () => {
        const all = await postgres({ postgres: { bundled: { enabled: false }, url: { secretName: "x1agent-db-url", key: "url" } } });
        expect(all.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
    });

    it("operator already installed: the Cluster is still created, the chart is not", async () => {
        const all = await postgres({ addons: { postgresOperator: { install: false } } });
        expect(chartOf(all)).toBeUndefined();
        expect(ofKind(all, "Cluster")).toHaveLength(1);
    });
});
