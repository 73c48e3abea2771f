import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { chartLocation, mergeValues, upstreamCharts } from "../../../components/addons/chart-source";

describe("where an add-on's chart comes from", () => {
    const eso = upstreamCharts.externalSecrets;

    it("defaults to the project's own repository at a pinned exact version", () => {
        for (const chart of Object.values(upstreamCharts)) {
            expect(chart.repo).toMatch(/^https:\/\//);
            // An exact version: no ranges, no "latest", so every stack renders the same manifests.
            expect(chart.version).toMatch(/^v?[0-9]+\.[0-9]+\.[0-9]+$/);
        }
        expect(chartLocation(undefined, eso)).toEqual({ chart: "external-secrets", version: eso.version, repositoryOpts: { repo: "https://charts.external-secrets.io" } });
    });

    it.each([
        ["a mirror keeps the pinned name and version", { repo: "https://charts.corp.example.com" }, { chart: "external-secrets", version: eso.version, repositoryOpts: { repo: "https://charts.corp.example.com" } }],
        ["a mirror may pin another version", { repo: "https://charts.corp.example.com", version: "2.11.0" }, { chart: "external-secrets", version: "2.11.0", repositoryOpts: { repo: "https://charts.corp.example.com" } }],
        ["an OCI registry is addressed as oci://<path>/<name>", { repo: "oci://registry.corp.example.com/charts/" }, { chart: "oci://registry.corp.example.com/charts/external-secrets", version: eso.version }],
        ["a local chart path is used as is, with no repository", { path: "/srv/charts/external-secrets-2.12.0.tgz" }, { chart: "/srv/charts/external-secrets-2.12.0.tgz" }],
    ])("%s", (_case, override, expected) => {
        expect(chartLocation(override, eso)).toEqual(expected);
    });

    it("resolves a relative chart path against the project root the program runs in", () => {
        expect(chartLocation({ path: "charts/eso" }, eso).chart).toBe(path.resolve("charts/eso"));
    });
});

describe("a stack's extra Helm values", () => {
    it("change one nested setting without dropping the component's other defaults", () => {
        const merged = mergeValues({ config: { nats: { tls: { enabled: true, merge: { verify: true } } }, cluster: { enabled: false } } }, { config: { cluster: { enabled: true } } });
        expect(merged).toEqual({ config: { nats: { tls: { enabled: true, merge: { verify: true } } }, cluster: { enabled: true } } });
    });

    it("replace lists whole", () => {
        expect(mergeValues({ tolerations: [{ key: "a" }] }, { tolerations: [] })).toEqual({ tolerations: [] });
    });
});
