import { beforeAll, describe, expect, it } from "vitest";
import { Workspaces } from "../../../components";
import { type RegisteredResource, ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";
import { named, render } from "../runtime/render";

beforeAll(() => setupMocks());

const twoWorkspaces = {
    workspaces: [
        { id: "alpha", team: "a", secrets: [{ name: "anthropic", remoteKey: "alpha-anthropic" }] },
        { id: "beta", egressCidrs: ["10.20.0.0/16"], secrets: [{ name: "openai", remoteKey: "beta-openai", property: "key" }] },
    ],
};

/** RBAC verbs on Secrets granted to anyone, by the Role/ClusterRole granting them. */
function secretGrants(all: RegisteredResource[]) {
    return [...ofKind(all, "Role"), ...ofKind(all, "ClusterRole")]
        .filter((r) => (r.inputs.rules ?? []).some((rule: { resources?: string[] }) => rule.resources?.some((x) => x === "secrets" || x === "*")))
        .map((r) => ({ kind: r.type.split(":").pop(), namespace: r.inputs.metadata.namespace, name: r.inputs.metadata.name }));
}

describe("workspace isolation", () => {
    let all: RegisteredResource[];
    beforeAll(async () => {
        all = await render(twoWorkspaces);
    });

    it("workspace pods cannot mount a Secret from another namespace", () => {
        // A pod mounts Secrets only from its own namespace (the kubelet resolves them there). What could still
        // reach another namespace's Secrets is RBAC or an ExternalSecret: neither exists for the workspaces.
        const grants = secretGrants(all);
        expect(grants.filter((g) => g.namespace?.startsWith("x1agent-ws-"))).toEqual([]);
        expect(grants.filter((g) => g.kind === "ClusterRole")).toEqual([]);
        // The only Secret readers are ESO's reader and the Tier 1 backup (off here), both in x1agent-secrets.
        for (const g of grants) expect(g.namespace).toBe("x1agent-secrets");
        for (const b of [...ofKind(all, "RoleBinding"), ...ofKind(all, "ClusterRoleBinding")]) {
            for (const s of b.inputs.subjects ?? []) {
                expect(s.name, `${b.inputs.metadata.namespace}/${b.inputs.metadata.name}`).not.toBe("x1agent-session");
            }
        }
        // Each workspace's ExternalSecrets live in its own namespace and materialize a Secret there.
        const externalSecrets = ofKind(all, "ExternalSecret").map((e) => [e.inputs.metadata.namespace, e.inputs.metadata.name, e.inputs.spec.target.name]);
        expect(externalSecrets).toEqual([
            ["x1agent-ws-alpha", "anthropic", "anthropic"],
            ["x1agent-ws-beta", "openai", "openai"],
        ]);
    });

    it("session pods run under a ServiceAccount without a token and without any RBAC", () => {
        for (const id of ["alpha", "beta"]) {
            const sa = named(all, "ServiceAccount", "x1agent-session", `x1agent-ws-${id}`);
            expect(sa.inputs.automountServiceAccountToken).toBe(false);
        }
    });

    it("lets the api manage session pods and jobs, and nothing more, in each workspace", () => {
        for (const id of ["alpha", "beta"]) {
            const ns = `x1agent-ws-${id}`;
            const role = named(all, "Role", "x1agent-api-sessions", ns);
            const resources = role.inputs.rules.flatMap((r: { resources: string[] }) => r.resources);
            expect(resources.sort()).toEqual(["events", "jobs", "pods"]);
            // No route to a Secret's value: no secrets, no exec/attach/port-forward, no logs.
            expect(resources.some((r: string) => r === "secrets" || r.startsWith("pods/"))).toBe(false);
            const binding = named(all, "RoleBinding", "x1agent-api-sessions", ns);
            expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "x1agent-api", namespace: "x1agent" }]);
            expect(binding.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "x1agent-api-sessions" });
        }
    });

    it("admits in workspace namespaces only session-image pods under the session ServiceAccount, with no token", () => {
        const policy = named(all, "ValidatingAdmissionPolicy", "x1agent-session-pods");
        expect(policy.type).toBe("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        expect(policy.inputs.spec.matchConstraints.namespaceSelector).toEqual({ matchExpressions: [{ key: "x1agent.dev/workspace", operator: "Exists" }] });
        const expressions = policy.inputs.spec.validations.map((v: { expression: string }) => v.expression).join("\n");
        expect(expressions).toContain("object.spec.serviceAccountName == 'x1agent-session'");
        expect(expressions).toContain("c.image.startsWith('ghcr.io/x1agent/session:')");
        expect(expressions).toContain("serviceAccountToken");
        const binding = named(all, "ValidatingAdmissionPolicyBinding", "x1agent-session-pods");
        expect(binding.inputs.spec).toMatchObject({ policyName: "x1agent-session-pods", validationActions: ["Deny"] });
    });

    it("labels each namespace Pod Security restricted (enforce, warn, audit)", () => {
        for (const id of ["alpha", "beta"]) {
            const labels = named(all, "Namespace", `x1agent-ws-${id}`).inputs.metadata.labels;
            expect(labels).toMatchObject({
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "x1agent.dev/workspace": id,
            });
        }
        expect(named(all, "Namespace", "x1agent-ws-alpha").inputs.metadata.labels["x1agent.dev/team"]).toBe("a");
    });

    it("denies all traffic by default and allows DNS, NATS, the api and the configured CIDRs out", () => {
        const deny = named(all, "NetworkPolicy", "default-deny", "x1agent-ws-beta");
        expect(deny.inputs.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const allow = named(all, "NetworkPolicy", "allow-session-egress", "x1agent-ws-beta").inputs.spec;
        expect(allow.policyTypes).toEqual(["Egress"]);
        expect(allow).not.toHaveProperty("ingress");
        const ports = allow.egress.map((e: { ports?: { port: number }[] }) => e.ports?.map((p) => p.port) ?? "any");
        expect(ports).toEqual([[53, 53], [4222], [8080], "any"]);
        expect(allow.egress[1].to[0]).toEqual({
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "x1agent" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "x1agent-nats" } },
        });
        expect(allow.egress[3].to).toEqual([{ ipBlock: { cidr: "10.20.0.0/16" } }]);
        // No CIDRs configured: no path out of the cluster at all.
        expect(named(all, "NetworkPolicy", "allow-session-egress", "x1agent-ws-alpha").inputs.spec.egress).toHaveLength(3);
    });

    it("keeps the cloud metadata endpoint out of every egress block, however wide", async () => {
        const wide = await render({ workspaces: [{ id: "open", egressCidrs: ["0.0.0.0/0", "169.254.0.0/16", "10.0.0.0/8"] }] });
        expect(named(wide, "NetworkPolicy", "allow-session-egress", "x1agent-ws-open").inputs.spec.egress[3].to).toEqual([
            { ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.0.0/16"] } },
            { ipBlock: { cidr: "169.254.0.0/16", except: ["169.254.169.254/32"] } },
            { ipBlock: { cidr: "10.0.0.0/8" } },
        ]);
    });

    it("caps the namespace with a ResourceQuota and gives containers defaults through a LimitRange", () => {
        const quota = named(all, "ResourceQuota", "x1agent-workspace", "x1agent-ws-alpha").inputs.spec.hard;
        expect(quota).toMatchObject({ "requests.cpu": "8", "limits.memory": "16Gi", pods: "20", "services.loadbalancers": "0" });
        const limits = named(all, "LimitRange", "x1agent-workspace", "x1agent-ws-alpha").inputs.spec.limits[0];
        expect(limits).toMatchObject({ type: "Container", defaultRequest: { cpu: "100m", memory: "256Mi" }, default: { cpu: "1", memory: "1Gi" } });
    });
});

describe("workspace ExternalSecrets", () => {
    it.each([
        ["capture mode (Tier 1) reads x1agent-secrets through x1-local", { tier: "kubernetes" }, "x1-local", "demo-anthropic"],
        [
            "bind mode (Vault) reads the workspace's path",
            { tier: "vault", vault: { server: "https://vault.example.com" } },
            "x1-vault",
            "x1agent/demo/anthropic",
        ],
    ])("%s", async (_, secrets, store, remoteKey) => {
        const all = await render({ secrets: secrets as never, workspaces: [{ id: "demo", secrets: [{ name: "anthropic", remoteKey }] }] });
        const es = named(all, "ExternalSecret", "anthropic", "x1agent-ws-demo");
        expect(es.type).toBe("kubernetes:external-secrets.io/v1:ExternalSecret");
        expect(es.inputs.spec).toMatchObject({
            secretStoreRef: { kind: "ClusterSecretStore", name: store },
            target: { name: "anthropic", creationPolicy: "Owner" },
            dataFrom: [{ extract: { key: remoteKey } }],
        });
    });

    it("picks one property when asked", async () => {
        const all = await render({ workspaces: [{ id: "demo", secrets: [{ name: "openai", remoteKey: "demo-openai", property: "apiKey" }] }] });
        expect(named(all, "ExternalSecret", "openai").inputs.spec.data).toEqual([
            { secretKey: "apiKey", remoteRef: { key: "demo-openai", property: "apiKey" } },
        ]);
    });

    it("gives each workspace its own NATS client certificate from the NATS CA issuer, for what its ECDSA key can do", async () => {
        resetRegistered();
        const config = stackConfig({ workspaces: [{ id: "demo" }] });
        new Workspaces("ws", {
            workspaces: config.workspaces,
            storeName: config.secrets.storeName,
            sessions: config.sessions,
            images: config.images,
            nats: { url: "tls://x", podSelector: { app: "nats" }, clientPort: 4222, clusterPort: 6222, monitorPort: 8222 },
            appNamespace: "x1agent",
            apiServiceAccount: "x1agent-api",
            natsClientIssuer: { kind: "ClusterIssuer", name: "x1agent-nats-ca" },
        });
        const cert = named(await settled(), "Certificate", "x1agent-nats-client", "x1agent-ws-demo");
        expect(cert.inputs.spec).toMatchObject({
            secretName: "x1agent-nats-client",
            commonName: "ws-demo",
            privateKey: { algorithm: "ECDSA" },
            // An ECDSA key signs; it cannot encipher, so `key encipherment` is never asked for.
            usages: ["digital signature", "client auth"],
            issuerRef: { kind: "ClusterIssuer", name: "x1agent-nats-ca", group: "cert-manager.io" },
        });
    });
});
