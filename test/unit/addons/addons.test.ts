import * as k8s from "@pulumi/kubernetes";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CertManager, certManagerNamespace, issuerNames } from "../../../components/addons/cert-manager";
import { upstreamCharts } from "../../../components/addons/chart-source";
import { ExternalSecrets, externalSecretsValues } from "../../../components/addons/external-secrets";
import { IngressCertificate } from "../../../components/addons/ingress-certificate";
import { type RegisteredResource, ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";
import { dependenciesOf, recordOptions } from "./resource-options";

beforeAll(() => setupMocks());
beforeEach(resetRegistered);

const charts = (all: RegisteredResource[]) => all.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
const named = (all: RegisteredResource[], kind: string, name: string) => ofKind(all, kind).find((r) => r.inputs.metadata.name === name);

describe("External Secrets Operator", () => {
    it("installs from the pinned upstream chart into external-secrets, with its CRDs", async () => {
        const config = stackConfig();
        new ExternalSecrets("eso", { addon: config.addons.externalSecrets });
        const [chart] = charts(await settled());
        expect(chart!.inputs).toMatchObject({
            chart: "external-secrets",
            version: upstreamCharts.externalSecrets.version,
            repositoryOpts: { repo: "https://charts.external-secrets.io" },
            namespace: "external-secrets",
            values: { installCRDs: true },
        });
    });

    it("serves only the kinds x1agent uses and aggregates nothing into edit or admin", async () => {
        const config = stackConfig();
        new ExternalSecrets("eso", { addon: config.addons.externalSecrets });
        const [chart] = charts(await settled());
        expect(chart!.inputs.values).toMatchObject({
            processSecretStore: false,
            processClusterExternalSecret: false,
            processPushSecret: false,
            processClusterPushSecret: false,
            processClusterGenerator: false,
            rbac: { aggregateToEdit: false, aggregateToAdmin: false },
        });
    });

    it("installs nothing when the cluster already runs it, and nothing has to wait for it", async () => {
        const config = stackConfig({ addons: { externalSecrets: { install: false } } });
        const eso = new ExternalSecrets("eso", { addon: config.addons.externalSecrets });
        expect((await settled()).filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
        expect(eso.ready).toEqual([]);
    });

    it("takes a mirror and extra values from the stack", async () => {
        const config = stackConfig({ addons: { externalSecrets: { chart: { repo: "oci://registry.corp.example.com/charts" }, values: { replicaCount: 2 } } } });
        new ExternalSecrets("eso", { addon: config.addons.externalSecrets });
        const [chart] = charts(await settled());
        expect(chart!.inputs.chart).toBe("oci://registry.corp.example.com/charts/external-secrets");
        expect(chart!.inputs.values).toEqual({ ...externalSecretsValues, replicaCount: 2 });
    });
});

describe("cert-manager and the ingress certificate", () => {
    it("installs the upstream chart with its CRDs into cert-manager", async () => {
        const config = stackConfig();
        new CertManager("cm", { addon: config.addons.certManager, ingress: config.ingress });
        const [chart] = charts(await settled());
        expect(chart!.inputs).toMatchObject({
            chart: "cert-manager",
            version: upstreamCharts.certManager.version,
            namespace: certManagerNamespace,
            values: { crds: { enabled: true } },
        });
    });

    it("local signs the ingress with a self-signed CA chain: selfSigned issuer -> CA certificate -> CA issuer", async () => {
        const config = stackConfig({ ingress: { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } } });
        const cm = new CertManager("cm", { addon: config.addons.certManager, ingress: config.ingress });
        new IngressCertificate("tls", { ingress: config.ingress, issuer: cm.ingressIssuer, appNamespace: "x1agent", certManagerReady: cm.ready });
        const all = await settled();
        expect(named(all, "ClusterIssuer", issuerNames.selfSigned)!.inputs.spec).toEqual({ selfSigned: {} });
        const ca = named(all, "Certificate", issuerNames.localCa)!;
        expect(ca.inputs.metadata.namespace).toBe(certManagerNamespace);
        expect(ca.inputs.spec).toMatchObject({
            isCA: true,
            secretName: issuerNames.localCa,
            issuerRef: { name: issuerNames.selfSigned, kind: "ClusterIssuer" },
        });
        expect(named(all, "ClusterIssuer", issuerNames.localCa)!.inputs.spec).toEqual({ ca: { secretName: issuerNames.localCa } });
        const tls = named(all, "Certificate", "x1agent-tls")!;
        expect(tls.inputs.metadata.namespace).toBe("x1agent");
        expect(tls.inputs.spec).toEqual({
            secretName: "x1agent-tls",
            dnsNames: ["x1agent.localtest.me"],
            issuerRef: { name: issuerNames.localCa, kind: "ClusterIssuer", group: "cert-manager.io" },
        });
        expect(ofKind(all, "ClusterIssuer").map((r) => r.inputs.metadata.name)).not.toContain(issuerNames.acme);
    });

    it("a real host gets an ACME issuer with the configured e-mail, server and ingress class", async () => {
        const config = stackConfig({
            ingress: {
                host: "x1agent.example.com",
                className: "nginx",
                issuer: { type: "acme", email: "platform@example.com", server: "https://acme-staging-v02.api.letsencrypt.org/directory" },
            },
        });
        const cm = new CertManager("cm", { addon: config.addons.certManager, ingress: config.ingress });
        new IngressCertificate("tls", { ingress: config.ingress, issuer: cm.ingressIssuer, appNamespace: "x1agent", certManagerReady: cm.ready });
        const all = await settled();
        expect(named(all, "ClusterIssuer", issuerNames.acme)!.inputs.spec.acme).toMatchObject({
            email: "platform@example.com",
            server: "https://acme-staging-v02.api.letsencrypt.org/directory",
            solvers: [{ http01: { ingress: { ingressClassName: "nginx" } } }],
        });
        expect(named(all, "Certificate", "x1agent-tls")!.inputs.spec.issuerRef.name).toBe(issuerNames.acme);
        expect(named(all, "ClusterIssuer", issuerNames.localCa)).toBeUndefined();
    });

    it("an existing issuer is used by name and not created", async () => {
        const config = stackConfig({ ingress: { host: "x1agent.corp.example.com", issuer: { type: "existing", name: "corp-ca" } } });
        const cm = new CertManager("cm", { addon: config.addons.certManager, ingress: config.ingress });
        new IngressCertificate("tls", { ingress: config.ingress, issuer: cm.ingressIssuer, appNamespace: "x1agent", certManagerReady: cm.ready });
        const all = await settled();
        expect(named(all, "Certificate", "x1agent-tls")!.inputs.spec.issuerRef.name).toBe("corp-ca");
        expect(ofKind(all, "ClusterIssuer").map((r) => r.inputs.metadata.name)).toEqual([issuerNames.selfSigned]);
    });

    it("every cert-manager custom resource waits for the chart (its CRDs and webhook)", async () => {
        const config = stackConfig();
        const { transformations, registrations } = recordOptions();
        const cm = new CertManager("cm", { addon: config.addons.certManager, ingress: config.ingress }, { transformations });
        new IngressCertificate(
            "tls",
            { ingress: config.ingress, issuer: cm.ingressIssuer, appNamespace: "x1agent", certManagerReady: cm.ready },
            { transformations },
        );
        await settled();
        const [chart] = cm.ready;
        expect(chart).toBeInstanceOf(k8s.helm.v4.Chart);
        const custom = registrations.filter(
            (r) => r.type === "kubernetes:cert-manager.io/v1:ClusterIssuer" || r.type === "kubernetes:cert-manager.io/v1:Certificate",
        );
        expect(custom.length).toBeGreaterThanOrEqual(4);
        for (const r of custom) expect(dependenciesOf(registrations, r.name)).toContain(chart);
    });
});
