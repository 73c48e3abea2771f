import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chartLocation, mergeValues, upstreamCharts, withChartMirror } from "../../../components/addons/chart-source";
import { stackConfig } from "../../../stacks/schema";

describe("where an add-on's chart comes from", () => {
    const eso = upstreamCharts.externalSecrets;

    it("defaults to the project's own repository at a pinned exact version", () => {
        for (const chart of Object.values(upstreamCharts)) {
            expect(chart.repo).toMatch(/^https:\/\//);
            // An exact version: no ranges, no "latest", so every stack renders the same manifests.
            expect(chart.version).toMatch(/^v?[0-9]+\.[0-9]+\.[0-9]+$/);
        }
        expect(chartLocation(undefined, eso)).toEqual({
            chart: "external-secrets",
            version: eso.version,
            repositoryOpts: { repo: "https://charts.external-secrets.io" },
        });
    });

    it.each([
        [
            "a mirror keeps the pinned name and version",
            { repo: "https://charts.corp.example.com" },
            { chart: "external-secrets", version: eso.version, repositoryOpts: { repo: "https://charts.corp.example.com" } },
        ],
        [
            "a mirror may pin another version",
            { repo: "https://charts.corp.example.com", version: "2.11.0" },
            { chart: "external-secrets", version: "2.11.0", repositoryOpts: { repo: "https://charts.corp.example.com" } },
        ],
        [
            "an OCI registry is addressed as oci://<path>/<name>",
            { repo: "oci://registry.corp.example.com/charts/" },
            { chart: "oci://registry.corp.example.com/charts/external-secrets", version: eso.version },
        ],
        [
            "a local chart path is used as is, with no repository",
            { path: "/srv/charts/external-secrets-2.12.0.tgz" },
            { chart: "/srv/charts/external-secrets-2.12.0.tgz" },
        ],
    ])("%s", (_case, override, expected) => {
        expect(chartLocation(override, eso)).toEqual(expected);
    });

    it("resolves a relative chart path against the project root the program runs in", () => {
        expect(chartLocation({ path: "charts/eso" }, eso).chart).toBe(path.resolve("charts/eso"));
    });
});

describe("a chart mirror (X1_CHART_MIRROR) for offline and air-gapped sites", () => {
    const addons = stackConfig.parse({
        cluster: { provider: "local", name: "x1agent-local" },
        secrets: { tier: "kubernetes" },
        ingress: { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
        addons: { nats: { chart: { repo: "https://charts.corp.example.com" } } },
    }).addons;
    const all = { externalSecrets: true, certManager: true, nats: true, postgresOperator: true };
    const folder = mkdtempSync(path.join(tmpdir(), "x1-mirror-"));
    afterAll(() => rmSync(folder, { recursive: true, force: true }));
    for (const name of ["externalSecrets", "certManager", "postgresOperator"] as const) {
        const { name: chart, version } = upstreamCharts[name];
        writeFileSync(path.join(folder, `${chart}-${version}.tgz`), "");
    }

    it("is not used when unset: every chart comes from upstream, or the stack's own source", () => {
        expect(withChartMirror(addons, undefined, all)).toBe(addons);
    });

    it("a folder gives each add-on its packaged chart, named as helm package names it; the stack's own chart wins", () => {
        const settled = withChartMirror(addons, folder, all);
        expect(settled.certManager.chart).toEqual({ path: path.join(folder, "cert-manager-v1.21.1.tgz") });
        expect(settled.externalSecrets.chart).toEqual({ path: path.join(folder, `external-secrets-${upstreamCharts.externalSecrets.version}.tgz`) });
        expect(settled.nats.chart).toEqual({ repo: "https://charts.corp.example.com" });
    });

    it("a repository URL serves the pinned name and version", () => {
        const settled = withChartMirror(addons, "http://127.0.0.1:8879/charts", all);
        expect(chartLocation(settled.postgresOperator.chart, upstreamCharts.postgresOperator)).toEqual({
            chart: "cloudnative-pg",
            version: upstreamCharts.postgresOperator.version,
            repositoryOpts: { repo: "http://127.0.0.1:8879/charts" },
        });
    });

    it("a folder without a chart the stack installs fails before anything is registered, naming the variable, the file and the fix", () => {
        const without = withChartMirror({ ...addons, nats: { ...addons.nats, chart: undefined } }, folder, { ...all, nats: false });
        expect(without.nats.chart?.path).toBe(path.join(folder, "nats-2.12.3.tgz"));
        expect(() => withChartMirror({ ...addons, nats: { ...addons.nats, chart: undefined } }, folder, all)).toThrow(
            `X1_CHART_MIRROR=${folder} is a folder without nats-2.12.3.tgz (addons.nats): put the packaged chart there`,
        );
    });
});

describe("a stack's extra Helm values", () => {
    it("change one nested setting without dropping the component's other defaults", () => {
        const merged = mergeValues(
            { config: { nats: { tls: { enabled: true, merge: { verify: true } } }, cluster: { enabled: false } } },
            { config: { cluster: { enabled: true } } },
        );
        expect(merged).toEqual({ config: { nats: { tls: { enabled: true, merge: { verify: true } } }, cluster: { enabled: true } } });
    });

    it("replace lists whole", () => {
        expect(mergeValues({ tolerations: [{ key: "a" }] }, { tolerations: [] })).toEqual({ tolerations: [] });
    });
});
