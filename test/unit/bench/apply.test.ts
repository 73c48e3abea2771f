/**
 * The apply benchmark's floor is only a floor if it applies what ours
 * applied: every Kubernetes object of the state (secrets in plaintext,
 * nothing of the provider's own), CRDs and namespaces apart, the rest in
 * Helm's install order. And its provider-call figures must add up.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type ApplyRow, applyGrowth, floorManifests, parseExport, providerCalls } from "../../../bench/apply";

const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(value) });
const k8s = (type: string, inputs: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    urn: `urn:pulumi:s::p::${type}::${String((inputs.metadata as { name: string }).name)}`,
    type,
    custom: true,
    inputs,
    ...extra,
});

describe("floorManifests", () => {
    const state = [
        { urn: "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", type: "pulumi:pulumi:Stack" },
        { urn: "urn:pulumi:s::p::pulumi:providers:kubernetes::k", type: "pulumi:providers:kubernetes", custom: true, inputs: { kubeconfig: "x" } },
        k8s("kubernetes:apps/v1:Deployment", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "x1agent" } }),
        k8s("kubernetes:core/v1:Secret", {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "s", namespace: "x1agent" },
            stringData: secret({ token: "t0" }),
            __inputs: { dropped: true },
        }),
        k8s("kubernetes:core/v1:Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: "x1agent" } }),
        k8s("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", {
            apiVersion: "apiextensions.k8s.io/v1",
            kind: "CustomResourceDefinition",
            metadata: { name: "externalsecrets.external-secrets.io" },
        }),
        k8s("kubernetes:core/v1:ServiceAccount", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "api", namespace: "x1agent" } }),
        k8s("kubernetes:core/v1:ConfigMap", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "gone", namespace: "x1agent" } }, { delete: true }),
        { urn: "urn:pulumi:s::p::x1agent:index:Platform::x1agent", type: "x1agent:index:Platform", inputs: { config: {} } },
    ];
    const m = floorManifests(state);

    it("keeps the Kubernetes objects only, CRDs and namespaces in groups of their own", () => {
        expect(m.crds.map((o) => o.kind)).toEqual(["CustomResourceDefinition"]);
        expect(m.namespaces.map((o) => (o.metadata as { name: string }).name)).toEqual(["x1agent"]);
        // No provider, component, stack, or resource pending deletion.
        expect(m.rest.map((o) => `${o.kind}/${(o.metadata as { name: string }).name}`)).toEqual(["ServiceAccount/api", "Secret/s", "Deployment/api"]);
    });

    it("puts secrets back in plaintext and drops the provider's own keys", () => {
        const s = m.rest.find((o) => o.kind === "Secret")!;
        expect(s.stringData).toEqual({ token: "t0" });
        expect(s).not.toHaveProperty("__inputs");
    });

    it("refuses a state exported without --show-secrets", () => {
        const hidden = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" };
        expect(() => floorManifests([k8s("kubernetes:core/v1:Secret", { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: hidden })])).toThrow(
            /--show-secrets/,
        );
    });
});

describe("providerCalls", () => {
    it("sums calls per method and counts overlapping calls once in the wall time", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "x1-bench-grpc-"));
        try {
            const at = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)).toISOString();
            const line = (method: string, endMs: number, durMs: number, urn = "") =>
                JSON.stringify({
                    method: `/pulumirpc.ResourceProvider/${method}`,
                    progress: "response_completed",
                    timestamp: at(endMs),
                    duration: durMs * 1e6,
                    request: { urn },
                });
            const dep = "urn:pulumi:s::p::x1agent:index:Platform$kubernetes:apps/v1:Deployment::api";
            const cm = "urn:pulumi:s::p::kubernetes:core/v1:ConfigMap::c";
            const file = path.join(dir, "grpc.jsonl");
            writeFileSync(
                file,
                [
                    JSON.stringify({ method: "/pulumirpc.ResourceProvider/Create", progress: "request_started", timestamp: at(0) }),
                    line("Create", 1000, 1000, dep), // 0..1000
                    line("Create", 600, 100, cm), // 500..600, inside the first
                    line("Check", 1500, 200), // 1300..1500
                    "not json",
                    JSON.stringify({ method: "/pulumirpc.LanguageRuntime/Run", timestamp: at(100), duration: 5e6 }),
                ].join("\n"),
            );
            const p = providerCalls(file);
            expect(p.methods).toEqual([
                { method: "Create", calls: 2, ms: 1100 },
                { method: "Check", calls: 1, ms: 200 },
            ]);
            expect(p.inFlightMs).toBe(1200);
            expect(p.awaited.calls).toBe(1);
            expect(p.awaited.inFlightMs).toBe(1000);
            expect(p.otherCreateMedianMs).toBe(100);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("applyGrowth", () => {
    const row = (workspaces: number, upMs: number) => ({ workspaces, ours: { up: { wallMs: upMs, cpuMs: 0, load: 0 } } }) as unknown as ApplyRow;

    it("takes the stack's fixed part out: a linear up (fixed cost plus a constant per workspace) gives 1.00 per added workspace", () => {
        // 100 s of add-ons, then 2 s per workspace; the sizes in any order.
        const g = applyGrowth([row(100, 300_000), row(1, 102_000), row(10, 120_000)])!;
        expect(g).toMatchObject({ from: 10, to: 100 });
        // Per workspace the fixed part makes 100 look cheaper than 10 ...
        expect(g.ratio).toBeCloseTo(3000 / 12000, 5);
        // ... the cost of each added workspace is the same.
        expect(g.marginalRatio).toBeCloseTo(1, 5);
    });

    it("reports a quadratic up as such", () => {
        const q = (n: number) => 100_000 + 20 * n * n;
        expect(applyGrowth([row(1, q(1)), row(10, q(10)), row(100, q(100))])!.marginalRatio).toBeGreaterThan(5);
    });

    it("needs two sizes", () => {
        expect(applyGrowth([row(10, 1)])).toBeUndefined();
    });
});

describe("parseExport", () => {
    it("sizes the state as the checkpoint holds it (compact JSON), not as `stack export` prints it (indented)", () => {
        const deployment = { manifest: { time: "t" }, resources: [{ urn: "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", type: "pulumi:pulumi:Stack" }] };
        const printed = JSON.stringify({ version: 3, deployment }, null, 4);
        const s = parseExport(printed);
        expect(s.bytes).toBe(JSON.stringify(deployment).length);
        expect(s.bytes).toBeLessThan(printed.length / 2);
        expect(s.resources.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
    });
});
