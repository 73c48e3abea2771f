import { beforeAll, describe, expect, it } from "vitest";
import { type RegisteredResource, ofKind, setupMocks } from "../../helpers/mocks";
import { ageRecipient, named, render } from "./render";

beforeAll(() => setupMocks());

type Rule = { from?: any[]; to?: any[]; ports?: { port: number; protocol: string }[] };
const portsOf = (rules: Rule[] | undefined) => (rules ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port));
const appPeer = (name: string) => ({ podSelector: { matchLabels: { "app.kubernetes.io/name": name } } });
const workspacesPeer = { namespaceSelector: { matchExpressions: [{ key: "x1agent.dev/workspace", operator: "Exists" }] } };

describe("NetworkPolicies in the x1agent namespace", () => {
    let all: RegisteredResource[];
    beforeAll(async () => {
        all = await render({
            network: { ingressControllerNamespaces: ["ingress-nginx"], monitoringNamespaces: ["monitoring"] },
            worker: { enabled: true },
            backup: { enabled: true, secretsRecipient: ageRecipient },
            proxy: { url: "http://proxy.corp.example.com:3128", noProxy: [] },
        });
    });
    const spec = (name: string) => named(all, "NetworkPolicy", `x1agent-${name}`, "x1agent").inputs.spec;

    it("denies everything by default and lets every pod resolve DNS", () => {
        expect(spec("default-deny")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        expect(spec("allow-dns").egress[0].to[0].namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "kube-system" } });
        expect(portsOf(spec("allow-dns").egress)).toEqual([53, 53]);
    });

    it("lets the ingress controller, the app and session pods reach the api, and only monitoring scrape it", () => {
        const [http, metrics] = spec("api").ingress as Rule[];
        expect(http!.from).toEqual([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
            appPeer("x1agent-app"),
            workspacesPeer,
        ]);
        expect(portsOf([http!])).toEqual([8080]);
        expect(metrics!.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
        expect(portsOf([metrics!])).toEqual([9090]);
    });

    it("lets the api reach NATS, Postgres, HTTPS and the proxy, nothing else", () => {
        expect(portsOf(spec("api").egress)).toEqual([4222, 5432, 443, 6443, 3128]);
    });

    it("lets the web app talk only to the api", () => {
        expect(spec("app").egress[0]).toEqual({ to: [appPeer("x1agent-api")], ports: [{ protocol: "TCP", port: 8080 }] });
    });

    it("opens NATS to the api, worker, maintenance jobs and workspace namespaces, its routes to its peers", () => {
        const [clients, routes] = spec("nats").ingress as Rule[];
        expect(clients!.from).toEqual([appPeer("x1agent-api"), appPeer("x1agent-worker"), appPeer("x1agent-maintenance"), workspacesPeer]);
        expect(portsOf([clients!])).toEqual([4222]);
        expect(portsOf([routes!])).toEqual([6222]);
    });

    it("opens Postgres to its clients and the CloudNativePG operator; never to workspaces", () => {
        const [clients, operator] = spec("postgres").ingress as Rule[];
        expect(clients!.from).toEqual(
            expect.arrayContaining([
                appPeer("x1agent-api"),
                appPeer("x1agent-worker"),
                appPeer("x1agent-backup"),
                { podSelector: { matchLabels: { "cnpg.io/cluster": "x1agent-postgres" } } },
            ]),
        );
        expect(JSON.stringify(spec("postgres"))).not.toContain("x1agent.dev/workspace");
        expect(operator!.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "cnpg-system" } } }]);
        expect(portsOf([operator!])).toEqual([8000, 5432]);
    });

    it("gives the worker and backup jobs their own egress", () => {
        expect(portsOf(spec("worker").egress)).toEqual([4222, 5432, 443, 6443, 3128]);
        expect(portsOf(spec("backup").egress)).toEqual([5432, 443, 6443, 3128]);
    });

    it("has no policy for workloads that are off", async () => {
        const bare = await render({});
        const names = ofKind(bare, "NetworkPolicy")
            .filter((p) => p.inputs.metadata.namespace === "x1agent")
            .map((p) => p.inputs.metadata.name);
        expect(names.sort()).toEqual(["x1agent-allow-dns", "x1agent-api", "x1agent-app", "x1agent-default-deny", "x1agent-nats", "x1agent-postgres"]);
    });

    it("lets cert-manager's HTTP-01 solver be reached for ACME issuers", async () => {
        const acme = await render({ ingress: { host: "x1agent.example.com", issuer: { type: "acme", email: "ops@example.com" } } });
        const solver = named(acme, "NetworkPolicy", "x1agent-acme-http01-solver").inputs.spec;
        expect(solver.podSelector).toEqual({ matchLabels: { "acme.cert-manager.io/http01-solver": "true" } });
        expect(portsOf(solver.ingress)).toEqual([8089]);
    });

    it("limits HTTPS egress to the configured CIDRs when given", async () => {
        const limited = await render({ network: { apiEgressCidrs: ["10.0.0.1/32"] } });
        const https = named(limited, "NetworkPolicy", "x1agent-api").inputs.spec.egress[2];
        expect(https).toEqual({
            to: [{ ipBlock: { cidr: "10.0.0.1/32" } }],
            ports: [
                { protocol: "TCP", port: 443 },
                { protocol: "TCP", port: 6443 },
            ],
        });
    });
});
