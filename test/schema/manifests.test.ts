/**
 * The schema tier: every Kubernetes object and custom resource the program
 * produces, for every example stack, validated against the upstream schemas
 * by the maintained model packages (kubernetes-models for the core API,
 * @kubernetes-models/* for ESO, cert-manager and the Prometheus Operator).
 * No hand-written checks: an object passes when its upstream model's
 * `validate()` accepts it.
 *
 * Objects are collected generically from everything registered under mocks,
 * so whatever any component adds is covered without touching this file.
 * Helm charts are components the provider expands; under mocks they are not
 * expanded (their manifests are the upstream chart's, not ours).
 */
import * as certManager from "@kubernetes-models/cert-manager";
import * as externalSecrets from "@kubernetes-models/external-secrets";
import * as prometheusOperator from "@kubernetes-models/prometheus-operator";
import { execFileSync } from "node:child_process";
import * as kubernetes from "kubernetes-models";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Platform } from "../../components";
import { listStackNames, projectRoot, readStackFile } from "../../runtime/engine/project";
import { validateStackConfig } from "../../stacks/validate";
import { type RegisteredResource, resetRegistered, settled } from "../helpers/mocks";
import { setupCloudMocks } from "../unit/identity/cloud-mocks";

interface ModelClass {
    apiVersion: string;
    kind: string;
    new (data: unknown): { validate(): void };
}

/** Every model class the packages export, by `apiVersion/kind`. */
function modelIndex(): Map<string, ModelClass> {
    const index = new Map<string, ModelClass>();
    const seen = new Set<unknown>();
    const walk = (value: unknown) => {
        if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) return;
        seen.add(value);
        const model = value as Partial<ModelClass>;
        if (typeof value === "function" && typeof model.apiVersion === "string" && typeof model.kind === "string") {
            index.set(`${model.apiVersion}/${model.kind}`, value as ModelClass);
            return;
        }
        if (typeof value === "object") for (const v of Object.values(value)) walk(v);
    };
    for (const pkg of [kubernetes, externalSecrets, certManager, prometheusOperator]) walk(pkg);
    return index;
}

/**
 * Kinds the program creates for which no maintained model package exists on
 * npm. Kept explicit (a test below fails when another kind lacks a model),
 * so a new unmodelled kind is a decision, not an accident.
 */
const withoutMaintainedModel = new Set([
    // CloudNativePG publishes its CRDs with the operator but no JS model package.
    "postgresql.cnpg.io/v1/Cluster",
]);

/** Types registered under `kubernetes:` that are components or providers, not objects. */
const notObjects = /^kubernetes:(helm\.sh\/v[34]:(Chart|Release)|yaml\/v2:Config(File|Group)|kustomize\/v2:Directory)$/;

interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata?: { name?: string; namespace?: string };
    [key: string]: unknown;
}

/** The object as the API server would receive it: apiVersion and kind from the inputs, else from the type token. */
function toObject(r: RegisteredResource): K8sObject {
    const m = /^kubernetes:([^:]+)\/([^/:]+):(.+)$/.exec(r.type);
    if (!m) throw new Error(`unexpected Kubernetes type token ${r.type}`);
    const [, group, version, kind] = m;
    const apiVersion = r.inputs.apiVersion ?? (group === "core" ? version : `${group}/${version}`);
    return { ...r.inputs, apiVersion, kind: r.inputs.kind ?? kind } as K8sObject;
}

/**
 * The example stacks: every stacks/Pulumi.<name>.yaml the repository holds.
 * Other tiers write throwaway stack files there while they run (engine and
 * deployer tests), so "held by the repository" is what git tracks; outside a
 * git checkout, every stack file present.
 */
function exampleStackNames(): string[] {
    const names = listStackNames();
    try {
        const tracked = execFileSync("git", ["ls-files", "stacks"], { cwd: projectRoot, encoding: "utf8" });
        return names.filter((n) => tracked.split("\n").includes(`stacks/Pulumi.${n}.yaml`));
    } catch {
        return names;
    }
}
const exampleStacks = exampleStackNames();

const models = modelIndex();

beforeAll(() => setupCloudMocks("schema"));
beforeEach(resetRegistered);

async function objectsOf(stack: string): Promise<K8sObject[]> {
    const config = validateStackConfig(stack, readStackFile(stack).config);
    new Platform("x1agent", { config });
    const all = await settled();
    return all.filter((r) => r.type.startsWith("kubernetes:") && !notObjects.test(r.type)).map(toObject);
}

describe("every manifest of every example stack against the upstream schemas", () => {
    it("the example stacks are all here", () => {
        expect(exampleStacks).toEqual(expect.arrayContaining(["dev", "local", "onprem", "prod", "staging"]));
    });

    it("the model packages know the core API, ESO v1, cert-manager and the Prometheus Operator", () => {
        for (const key of [
            "v1/Namespace",
            "apps/v1/Deployment",
            "external-secrets.io/v1/ClusterSecretStore",
            "external-secrets.io/v1/ExternalSecret",
            "cert-manager.io/v1/Certificate",
            "cert-manager.io/v1/ClusterIssuer",
            "monitoring.coreos.com/v1/ServiceMonitor",
        ]) {
            expect(models.has(key), key).toBe(true);
        }
    });

    it.each(exampleStacks)("%s: every object validates against its upstream model", async (stack) => {
        const objects = await objectsOf(stack);
        expect(objects.length).toBeGreaterThan(5);
        const failures: string[] = [];
        let validated = 0;
        for (const obj of objects) {
            const key = `${obj.apiVersion}/${obj.kind}`;
            const Model = models.get(key);
            const where = `${key} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata?.name ?? "?"}`;
            if (!Model) {
                if (!withoutMaintainedModel.has(key)) failures.push(`${where}: no model package covers this kind`);
                continue;
            }
            try {
                new Model(obj).validate();
                validated++;
            } catch (err) {
                failures.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
            }
        }
        expect(failures).toEqual([]);
        console.log(`[schema tier] ${stack}: ${validated} objects validated, ${objects.length - validated} without a maintained model`);
    });

    it("only the documented kinds lack a maintained model", async () => {
        const unmodelled = new Set<string>();
        for (const stack of exampleStacks) {
            resetRegistered();
            for (const obj of await objectsOf(stack)) {
                const key = `${obj.apiVersion}/${obj.kind}`;
                if (!models.has(key)) unmodelled.add(key);
            }
        }
        expect([...unmodelled].every((k) => withoutMaintainedModel.has(k))).toBe(true);
        // The bundled database is in the examples, so its kind is really exercised.
        expect(unmodelled.has("postgresql.cnpg.io/v1/Cluster")).toBe(true);
    });

    it("a wrong object is caught: the models are really validating", () => {
        const Store = models.get("external-secrets.io/v1/ClusterSecretStore")!;
        expect(() =>
            new Store({
                apiVersion: "external-secrets.io/v1",
                kind: "ClusterSecretStore",
                metadata: { name: "x" },
                spec: { provider: { aws: { service: "SecretsManager" } } },
            }).validate(),
        ).toThrow();
        const Cert = models.get("cert-manager.io/v1/Certificate")!;
        const cert = (usages: string[]) =>
            new Cert({
                apiVersion: "cert-manager.io/v1",
                kind: "Certificate",
                metadata: { name: "x" },
                spec: { secretName: "x", issuerRef: { name: "ca" }, usages },
            });
        expect(() => cert(["client auth"]).validate()).not.toThrow();
        expect(() => cert(["client-auth"]).validate()).toThrow();
        const Ns = models.get("v1/Namespace")!;
        expect(() => new Ns({ apiVersion: "v1", kind: "Namespace", metadata: { name: 42 } }).validate()).toThrow();
    });
});
