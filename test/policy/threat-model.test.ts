/**
 * The policies docs/threat-model.md calls for, each against the compliant
 * shape the program writes and against the escape it closes (fake policy
 * args; the same escapes run through a real preview in pack-preview.test.ts).
 */
import * as esoModels from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import * as esoPushModels from "@kubernetes-models/external-secrets/external-secrets.io/v1alpha1";
import * as generatorModels from "@kubernetes-models/external-secrets/generators.external-secrets.io/v1alpha1";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Platform } from "../../components";
import { cloudIdentityApiOnly } from "../../policies/rules/cloud-identity-api-only";
import { esoKindAllowed, esoKinds } from "../../policies/rules/eso-kind-allowed";
import { externalSecretRemoteKeyOwnWorkspace } from "../../policies/rules/external-secret-remote-key-own-workspace";
import { externalSecretRemoteKeyPrefix } from "../../policies/rules/external-secret-remote-key-prefix";
import { externalSecretStoreAllowed } from "../../policies/rules/external-secret-store-allowed";
import { externalSecretTargetSecret } from "../../policies/rules/external-secret-target-secret";
import { noServiceAccountTokenSecrets } from "../../policies/rules/no-service-account-token-secrets";
import { rbacNoIndirectSecretAccess } from "../../policies/rules/rbac-no-indirect-secret-access";
import { secretGrantsNotPublic } from "../../policies/rules/secret-grants-not-public";
import { secretsNamespaceNoWorkloads } from "../../policies/rules/secrets-namespace-no-workloads";
import { cidrContains, metadataAddress, metadataExcept } from "../../policies/lib/network";
import { workspaceEgressNoMetadata } from "../../policies/rules/workspace-egress-no-metadata";
import { workspacePodConfined } from "../../policies/rules/workspace-pod-confined";
import { exampleStacks } from "../../scripts/policy-check";
import { validateStack } from "../../runtime/engine/project";
import { resetRegistered, settled } from "../helpers/mocks";
import { setupCloudMocks } from "../unit/identity/cloud-mocks";
import { expectEachPolicyBothWays, run, runResource, runStack, UNKNOWN, type FakeResource } from "./fakes";
import {
    azureIdentity,
    container,
    deployment,
    externalSecret,
    gcpIdentity,
    irsaRole,
    namespace,
    networkPolicy,
    rbac,
    readSecretsRule,
    rolePolicy,
    store,
    workspaceNamespace,
} from "./fixtures";

expectEachPolicyBothWays([
    "eso-kind-allowed",
    "external-secret-store-allowed",
    "external-secret-remote-key-prefix",
    "external-secret-remote-key-own-workspace",
    "rbac-no-indirect-secret-access",
    "no-service-account-token-secrets",
    "external-secret-target-secret",
    "workspace-pod-confined",
    "workspace-egress-no-metadata",
    "secrets-namespace-no-workloads",
    "cloud-identity-api-only",
    "secret-grants-not-public",
]);

const threatModelPolicies = [
    esoKindAllowed,
    externalSecretRemoteKeyOwnWorkspace,
    rbacNoIndirectSecretAccess,
    noServiceAccountTokenSecrets,
    externalSecretTargetSecret,
    workspacePodConfined,
    secretsNamespaceNoWorkloads,
    workspaceEgressNoMetadata,
    cloudIdentityApiOnly,
    secretGrantsNotPublic,
];

describe("the program as shipped (every example stack, cloud ones included, under mocks)", () => {
    beforeAll(() => setupCloudMocks());
    beforeEach(resetRegistered);
    it.each(exampleStacks())("%s passes every threat-model policy", async (stack) => {
        new Platform("x1agent", { config: validateStack(stack) });
        const resources: FakeResource[] = (await settled()).map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
        // What the policies judge is there: the program's RBAC, ServiceAccounts and store (and on the cloud stacks, their identity).
        for (const kind of [":RoleBinding", ":ServiceAccount", ":ClusterSecretStore"])
            expect(
                resources.some((r) => r.type.endsWith(kind)),
                kind,
            ).toBe(true);
        const tier = validateStack(stack).secrets.tier;
        if (tier === "aws") expect(resources.map((r) => r.type)).toContain("aws:iam/role:Role");
        if (tier === "gcp") expect(resources.map((r) => r.type)).toContain("gcp:serviceaccount/iAMMember:IAMMember");
        for (const make of threatModelPolicies) {
            const policy = make();
            expect(await run(policy, resources), `${stack}: ${policy.name}`).toEqual([]);
        }
    });
});

const eso = (kind: string, ns: string | undefined, spec: Record<string, unknown> = {}, group = "external-secrets.io", version = "v1"): FakeResource => ({
    type: `kubernetes:${group}/${version}:${kind}`,
    name: `${kind}-${ns ?? "cluster"}`,
    props: { metadata: ns ? { name: "x", namespace: ns } : { name: "x" }, spec },
});

describe("eso-kind-allowed", () => {
    const policy = esoKindAllowed();

    it("passes what x1agent uses: its x1 store and workspace ExternalSecrets", async () => {
        expect(await run(policy, [store("kubernetes"), store("aws"), externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"])])).toEqual([]);
    });

    it("refuses a workspace SecretStore whose provider falls back to ESO's own AWS identity", async () => {
        const v = await runResource(policy, eso("SecretStore", "x1agent-ws-demo", { provider: { aws: { service: "SecretsManager", region: "us-east-1" } } }));
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(
                /^SecretStore x1agent-ws-demo\/x: a SecretStore is a store with its own provider and credentials that no policy reviews; a provider block without auth makes ESO use its own ambient identity .*remove it$/,
            ),
        ]);
    });

    it("refuses a ClusterExternalSecret, generators (namespaced and cluster-wide) and a second ClusterSecretStore", async () => {
        const found = await run(policy, [
            eso("ClusterExternalSecret", undefined, { namespaceSelectors: [{ matchLabels: { "x1agent.dev/workspace": "demo" } }] }),
            eso("STSSessionToken", "x1agent-ws-demo", { region: "us-east-1" }, "generators.external-secrets.io", "v1alpha1"),
            eso("Webhook", "x1agent-ws-demo", { url: "http://169.254.169.254/latest/meta-data/" }, "generators.external-secrets.io", "v1alpha1"),
            eso("ClusterGenerator", undefined, { kind: "Password" }, "generators.external-secrets.io", "v1alpha1"),
            { ...store("kubernetes"), props: { ...store("kubernetes").props, metadata: { name: "team-store" } } },
        ]);
        expect(found.map((x) => x.message.split(":")[0])).toEqual([
            "ClusterExternalSecret x",
            "STSSessionToken x1agent-ws-demo/x",
            "Webhook x1agent-ws-demo/x",
            "ClusterGenerator x",
            "ClusterSecretStore team-store is not one of the x1agent stores (x1-local, x1-vault, x1-aws, x1-gcp, x1-azure)",
        ]);
        expect(found[1]!.message).toContain("mints AWS session credentials of ESO's AWS identity");
        expect(found[2]!.message).toContain("past the workspace's NetworkPolicy");
    });

    it("refuses a kind it has not reviewed, and allows one reviewed through config", async () => {
        const newer = eso("FutureToken", "x1agent-ws-demo", {}, "generators.external-secrets.io", "v1alpha1");
        expect((await runResource(policy, newer))[0]!.message).toMatch(/is a generators.external-secrets.io kind this pack has not reviewed/);
        expect(await runResource(policy, newer, { config: { allowKinds: ["FutureToken"] } })).toEqual([]);
    });

    it("knows every kind of the ESO model library (a newer release adds kinds: review them here)", () => {
        const served = [esoModels, esoPushModels, generatorModels].flatMap((models) =>
            Object.values(models as Record<string, unknown>).flatMap((m) => {
                const kind = typeof m === "function" ? (m as { kind?: unknown }).kind : undefined;
                return typeof kind === "string" && !kind.endsWith("List") ? [kind] : [];
            }),
        );
        expect(served.length).toBeGreaterThan(15);
        expect(served.filter((k) => !(k in esoKinds))).toEqual([]);
    });
});

describe("external-secret-store-allowed: generators", () => {
    const policy = externalSecretStoreAllowed();
    it("passes values from the x1 store", async () => {
        expect(await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-aws", ["x1agent/demo/a"]))).toEqual([]);
    });
    it("refuses a value taken from a generator, even next to an x1 store", async () => {
        const es = externalSecret("x1agent-ws-demo", "a", "x1-aws", ["x1agent/demo/a"], {
            dataFrom: [{ sourceRef: { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: "ClusterGenerator", name: "ecr" } } }],
        });
        expect((await runResource(policy, es)).map((x) => x.message)).toEqual([
            "ExternalSecret x1agent-ws-demo/a takes spec.dataFrom[0] from generator ClusterGenerator ecr: a generator acts with ESO's identity or credentials nothing here reviews; read the value from x1-local, x1-vault, x1-aws, x1-gcp, x1-azure instead",
        ]);
    });
});

describe("external-secret-remote-key-prefix: finds", () => {
    const policy = externalSecretRemoteKeyPrefix();
    it("passes a find under the workspace's path where the provider searches by path (Vault, AWS)", async () => {
        expect(
            await runResource(
                policy,
                externalSecret("x1agent-ws-demo", "e", "x1-aws", [], { dataFrom: [{ find: { path: "x1agent/demo/", name: { regexp: ".*" } } }] }),
            ),
        ).toEqual([]);
    });
    it("fails a Tier 1 find whose path looks scoped: the Kubernetes provider ignores path and lists every workspace's Secret", async () => {
        const es = externalSecret("x1agent-ws-demo", "e", "x1-local", [], { dataFrom: [{ find: { path: "demo-", name: { regexp: ".*" } } }] });
        expect((await runResource(policy, es)).map((x) => x.message)).toEqual([
            "ExternalSecret x1agent-ws-demo/e uses spec.dataFrom[0].find against x1-local (tier kubernetes), whose provider does not search by path (ESO's Kubernetes provider ignores find.path and lists every Secret in x1agent-secrets, every workspace's): list the workspace's keys explicitly (data[].remoteRef.key or dataFrom[].extract.key)",
        ]);
        const gcp = externalSecret("x1agent-ws-demo", "e", "x1-gcp", [], { dataFrom: [{ find: { path: "x1agent-demo-", tags: { team: "a" } } }] });
        expect((await runResource(policy, gcp))[0]!.message).toMatch(/against x1-gcp \(tier gcp\), whose provider does not search by path: list/);
    });
});

describe("external-secret-remote-key-own-workspace", () => {
    const policy = externalSecretRemoteKeyOwnWorkspace();
    const stack = (keys: Record<string, string[]>, tier: "kubernetes" | "gcp" | "aws" = "kubernetes") => [
        store(tier),
        ...Object.keys(keys).map(workspaceNamespace),
        ...Object.entries(keys).map(([id, k]) => externalSecret(`x1agent-ws-${id}`, "s", `x1-${tier === "kubernetes" ? "local" : tier}`, k)),
    ];

    it("passes workspaces whose keys are their own, also when one id starts another (demo, demo-x)", async () => {
        expect(await runStack(policy, stack({ demo: ["demo-anthropic"], "demo-x": ["demo-x-anthropic"] }))).toEqual([]);
        expect(await runStack(policy, stack({ demo: ["x1agent/demo/x-anthropic"], "demo-x": ["x1agent/demo-x/anthropic"] }, "aws"))).toEqual([]);
    });

    it("fails demo reading demo-x-anthropic (Tier 1) and x1agent-demo-x-key (GCP): the prefix rule alone passes both", async () => {
        const t1 = await runStack(policy, stack({ demo: ["demo-x-anthropic"], "demo-x": ["demo-x-anthropic"] }));
        expect(t1.map((x) => x.message)).toEqual([
            "ExternalSecret x1agent-ws-demo/s reads 'demo-x-anthropic' (spec.data[0].remoteRef.key) from x1-local, which is under workspace demo-x's prefix demo-x- (longer than demo's demo-): that is demo-x's secret; keep demo's secrets outside demo-x- (e.g. demo-<name> with a name not starting with 'x-')",
        ]);
        const gcp = await runStack(policy, stack({ demo: ["x1agent-demo-x-key"], "demo-x": [] }, "gcp"));
        expect(gcp[0]!.message).toMatch(/reads 'x1agent-demo-x-key' .* under workspace demo-x's prefix x1agent-demo-x-/);
    });

    it("fails a Tier 1 key named after a ServiceAccount of x1agent-secrets (its token Secret)", async () => {
        const v = await runStack(policy, stack({ eso: ["eso-reader-token"] }));
        expect(v.map((x) => x.message)).toEqual([
            "ExternalSecret x1agent-ws-eso/s reads 'eso-reader-token' (spec.data[0].remoteRef.key) from x1-local, a name starting with ServiceAccount x1agent-secrets/eso-reader, which can be that account's token Secret: choose a Tier 1 key (and workspace id) that does not start with eso-reader",
        ]);
    });

    it("fails closed when an ExternalSecret's keys are unknown at preview", async () => {
        const es = externalSecret("x1agent-ws-demo", "s", "x1-local", ["demo-a"]);
        es.props.spec.data = UNKNOWN;
        const v = await runStack(policy, [store("kubernetes"), workspaceNamespace("demo"), es]);
        expect(v).toHaveLength(1);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(/cannot be verified during preview/);
    });
});

describe("rbac-no-indirect-secret-access", () => {
    const policy = rbacNoIndirectSecretAccess();
    const api = [{ kind: "ServiceAccount", name: "x1agent-api", namespace: "x1agent" }];
    const session = [{ kind: "ServiceAccount", name: "x1agent-session", namespace: "x1agent-ws-demo" }];
    const sessionPolicy: FakeResource[] = [
        {
            type: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
            name: "vap",
            props: {
                metadata: { name: "x1agent-session-pods" },
                spec: { matchConstraints: { resourceRules: [{ apiGroups: [""], resources: ["pods"], operations: ["CREATE", "UPDATE"] }] } },
            },
        },
        {
            type: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
            name: "vapb",
            props: { metadata: { name: "x1agent-session-pods" }, spec: { policyName: "x1agent-session-pods", validationActions: ["Deny"] } },
        },
    ];
    /** The RBAC the program creates (components/workspaces, runtime/capture-access, runtime/backup, secrets/secrets-backend, runtime/api). */
    const programRbac = [
        rbac("Role", "x1agent-ws-demo", "x1agent-api-sessions", {
            rules: [
                { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "delete", "deletecollection"] },
                { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch", "create", "delete", "deletecollection"] },
                { apiGroups: [""], resources: ["events"], verbs: ["get", "list", "watch"] },
            ],
        }),
        rbac("RoleBinding", "x1agent-ws-demo", "x1agent-api-sessions", { roleRef: { kind: "Role", name: "x1agent-api-sessions" }, subjects: api }),
        rbac("Role", "x1agent-secrets", "x1agent-api-capture", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["create", "update", "delete"] }] }),
        rbac("RoleBinding", "x1agent-secrets", "x1agent-api-capture", { roleRef: { kind: "Role", name: "x1agent-api-capture" }, subjects: api }),
        rbac("Role", "x1agent-secrets", "eso-reader", { rules: [readSecretsRule] }),
        rbac("RoleBinding", "x1agent-secrets", "eso-reader", {
            roleRef: { kind: "Role", name: "eso-reader" },
            subjects: [{ kind: "ServiceAccount", name: "eso-reader" }],
        }),
        rbac("Role", "x1agent-secrets", "x1agent-secrets-backup", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }] }),
        rbac("RoleBinding", "x1agent-secrets", "x1agent-secrets-backup", {
            roleRef: { kind: "Role", name: "x1agent-secrets-backup" },
            subjects: [{ kind: "ServiceAccount", name: "x1agent-secrets-backup", namespace: "x1agent" }],
        }),
        rbac("Role", "x1agent", "x1agent-api-leader-election", {
            rules: [
                {
                    apiGroups: ["coordination.k8s.io"],
                    resources: ["leases"],
                    resourceNames: ["x1agent-api-leader"],
                    verbs: ["get", "watch", "update", "patch"],
                },
            ],
        }),
        rbac("RoleBinding", "x1agent", "x1agent-api-leader-election", { roleRef: { kind: "Role", name: "x1agent-api-leader-election" }, subjects: api }),
        ...sessionPolicy,
    ];

    it("passes the RBAC the program creates, and the add-on controllers' chart RBAC", async () => {
        const esoController = [
            rbac("ClusterRole", undefined, "external-secrets-controller", {
                rules: [{ apiGroups: [""], resources: ["secrets", "serviceaccounts/token"], verbs: ["get", "list", "watch", "create"] }],
            }),
            rbac("ClusterRoleBinding", undefined, "external-secrets-controller", {
                roleRef: { kind: "ClusterRole", name: "external-secrets-controller" },
                subjects: [{ kind: "ServiceAccount", name: "external-secrets", namespace: "external-secrets" }],
            }),
        ];
        expect(await runStack(policy, [...programRbac, ...esoController])).toEqual([]);
    });

    it("fails exec, token requests and impersonation given to a workspace's session ServiceAccount", async () => {
        const v = await runStack(policy, [
            rbac("Role", "x1agent-ws-demo", "debug", {
                rules: [
                    { apiGroups: [""], resources: ["pods/exec", "pods/attach"], verbs: ["create", "get"] },
                    { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] },
                    { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
                ],
            }),
            rbac("RoleBinding", "x1agent-ws-demo", "debug", { roleRef: { kind: "Role", name: "debug" }, subjects: session }),
        ]);
        expect(v).toHaveLength(1);
        expect(v[0]!.message).toMatch(/^RoleBinding x1agent-ws-demo\/debug lets ServiceAccount x1agent-ws-demo\/x1agent-session run commands in, attach to/);
        expect(v[0]!.message).toMatch(
            /in namespace x1agent-ws-demo: each reaches Secret values without reading them; remove them from the role \(enter-pods, mint-tokens, impersonate\)$/,
        );
    });

    it("fails a wildcard ClusterRole, escalate/bind, nodes/proxy and the built-in edit, for the api", async () => {
        const v = await runStack(policy, [
            ...programRbac,
            rbac("ClusterRole", undefined, "ops", {
                rules: [
                    { apiGroups: [""], resources: ["nodes/proxy"], verbs: ["get"] },
                    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["escalate", "bind"] },
                ],
            }),
            rbac("ClusterRoleBinding", undefined, "api-ops", { roleRef: { kind: "ClusterRole", name: "ops" }, subjects: api }),
            rbac("ClusterRole", undefined, "everything", { rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] }),
            rbac("RoleBinding", "x1agent-ws-demo", "api-all", { roleRef: { kind: "ClusterRole", name: "everything" }, subjects: api }),
            rbac("RoleBinding", "x1agent", "api-edit", { roleRef: { kind: "ClusterRole", name: "edit" }, subjects: api }),
        ]);
        expect(v.map((x) => x.message.split(" lets ")[0])).toEqual([
            "ClusterRoleBinding api-ops",
            "RoleBinding x1agent-ws-demo/api-all",
            "RoleBinding x1agent/api-edit",
        ]);
        expect(v[0]!.message).toMatch(/\(kubelet-api, grant-rbac\)$/);
        // The wildcard grants every capability except run-pods, which the api holds there on purpose (behind the session policy).
        expect(v[1]!.message).toMatch(
            /\(read-secrets, write-secrets, enter-pods, kubelet-api, mint-tokens, impersonate, grant-rbac, change-admission, relabel-namespaces, drive-eso, host-volumes, sign-certificates\)$/,
        );
        expect(v[2]!.message).toMatch(/in namespace x1agent: .*\(read-secrets, write-secrets, run-pods, enter-pods, mint-tokens, impersonate, drive-eso\)$/);
    });

    it("fails the api's right to start session pods when no session admission policy is bound with Deny", async () => {
        const withoutPolicy = programRbac.filter((r) => !sessionPolicy.includes(r));
        const v = await runStack(policy, withoutPolicy);
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(
                /^RoleBinding x1agent-ws-demo\/x1agent-api-sessions lets ServiceAccount x1agent\/x1agent-api start pods .* in x1agent-ws-demo, which is safe only behind the session admission policy, and the stack has none bound with Deny/,
            ),
        ]);
    });

    it("fails a ClusterRole aggregating secret access into view, a role it cannot see, and accepts a grant reviewed in config", async () => {
        const aggregated = rbac("ClusterRole", undefined, "leaky-view", { rules: [readSecretsRule] });
        aggregated.props.metadata.labels = { "rbac.authorization.k8s.io/aggregate-to-view": "true" };
        const v = await runStack(policy, [
            aggregated,
            rbac("RoleBinding", "x1agent", "x", { roleRef: { kind: "ClusterRole", name: "custom" }, subjects: api }),
        ]);
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(/^ClusterRole leaky-view aggregates into view rules that read Secret values .*remove the aggregate-to-\* label/),
            expect.stringMatching(
                /^RoleBinding x1agent\/x binds ServiceAccount x1agent\/x1agent-api to ClusterRole custom, which this stack does not define, so what it reaches cannot be verified/,
            ),
        ]);
        const ops = [
            rbac("Role", "x1agent", "tokens", { rules: [{ apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] }] }),
            rbac("RoleBinding", "x1agent", "tokens", {
                roleRef: { kind: "Role", name: "tokens" },
                subjects: [{ kind: "ServiceAccount", name: "x1agent-worker", namespace: "x1agent" }],
            }),
        ];
        expect(await runStack(policy, ops)).toHaveLength(1);
        const reviewed = { allowGrants: [{ subject: "ServiceAccount x1agent/x1agent-worker", capability: "mint-tokens", namespace: "x1agent" }] };
        expect(await runStack(policy, ops, { config: reviewed })).toEqual([]);
    });
});

describe("no-service-account-token-secrets", () => {
    const policy = noServiceAccountTokenSecrets();
    const secret = (ns: string, type?: string): FakeResource => ({
        type: "kubernetes:core/v1:Secret",
        name: `secret-${ns}`,
        props: { metadata: { name: "t", namespace: ns, annotations: { "kubernetes.io/service-account.name": "x1agent-api" } }, ...(type ? { type } : {}) },
    });
    it("passes ordinary Secrets and ExternalSecrets", async () => {
        expect(
            await run(policy, [secret("x1agent"), secret("x1agent", "kubernetes.io/tls"), externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"])]),
        ).toEqual([]);
    });
    it("fails a data-less token Secret, which the literal-secret check passes", async () => {
        expect((await runResource(policy, secret("x1agent", "kubernetes.io/service-account-token")))[0]!.message).toBe(
            "Secret x1agent/t is a kubernetes.io/service-account-token Secret for ServiceAccount x1agent-api: the token controller fills it with a token that never expires; delete it and use projected serviceAccountToken volumes (short-lived) where a pod needs the API",
        );
    });
});

describe("external-secret-target-secret", () => {
    const policy = externalSecretTargetSecret();
    it("passes the program's target (an Owner-created Secret) and a TLS template", async () => {
        expect(
            await runResource(
                policy,
                externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"], {
                    target: { name: "a", creationPolicy: "Owner", template: { type: "kubernetes.io/tls" } },
                }),
            ),
        ).toEqual([]);
    });
    it("fails a token template and a generic target (a ConfigMap), also in a ClusterExternalSecret", async () => {
        const es = externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"], {
            target: { name: "a", template: { type: "kubernetes.io/service-account-token" } },
        });
        expect((await runResource(policy, es))[0]!.message).toMatch(
            /^ExternalSecret x1agent-ws-demo\/a sets spec.target.template.type kubernetes.io\/service-account-token/,
        );
        const ces = eso("ClusterExternalSecret", undefined, { externalSecretSpec: { target: { manifest: { apiVersion: "v1", kind: "ConfigMap" } } } });
        expect((await runResource(policy, ces))[0]!.message).toBe(
            "ClusterExternalSecret x sets spec.externalSecretSpec.target.manifest (ConfigMap): the values would land outside a Secret, readable by view and unencrypted at rest; remove it and let ESO write a Secret",
        );
    });
});

describe("the metadata endpoint in egress blocks (policies/lib/network)", () => {
    it.each([
        ["0.0.0.0/0", true, ["169.254.0.0/16"]],
        ["169.254.0.0/16", true, ["169.254.169.254/32"]],
        ["169.254.169.0/24", true, ["169.254.169.254/32"]],
        ["169.254.169.254/32", true, []],
        ["10.0.0.0/8", false, []],
        ["169.255.0.0/16", false, []],
    ] as const)("%s covers it: %s, except %j", (cidr, covers, except) => {
        expect(cidrContains(cidr, metadataAddress)).toBe(covers);
        expect(metadataExcept(cidr)).toEqual(except);
    });
});

describe("workspace-egress-no-metadata", () => {
    const policy = workspaceEgressNoMetadata();
    const egress = (ns: string, ipBlock: Record<string, unknown>) =>
        networkPolicy(ns, "allow-session-egress", { podSelector: {}, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock }] }] });
    it("passes a model API's range, a wide block that excepts link-local, and other namespaces", async () => {
        expect(
            await run(policy, [
                egress("x1agent-ws-demo", { cidr: "10.20.0.0/16" }),
                egress("x1agent-ws-demo", { cidr: "0.0.0.0/0", except: ["169.254.0.0/16"] }),
                egress("x1agent", { cidr: "0.0.0.0/0" }),
            ]),
        ).toEqual([]);
    });
    it("fails 0.0.0.0/0 and a /32 on the metadata endpoint", async () => {
        const v = await run(policy, [egress("x1agent-ws-demo", { cidr: "0.0.0.0/0" }), egress("x1agent-ws-demo", { cidr: "169.254.169.254/32" })]);
        expect(v.map((x) => x.message)).toEqual([
            'NetworkPolicy x1agent-ws-demo/allow-session-egress spec.egress[0].to[0] allows 0.0.0.0/0, which covers the cloud metadata endpoint 169.254.169.254 (the node\'s cloud credentials): narrow the CIDR or add except: ["169.254.0.0/16"] to the ipBlock',
            expect.stringMatching(/allows 169.254.169.254\/32, which covers the cloud metadata endpoint/),
        ]);
    });
});

describe("workspace-pod-confined", () => {
    const policy = workspacePodConfined();
    const sessionPod = (spec: Record<string, unknown> = {}): FakeResource => {
        const d = deployment("x1agent-ws-demo", "warm-pool");
        Object.assign(
            d.props.spec.template.spec,
            {
                serviceAccountName: "x1agent-session",
                volumes: [
                    { name: "work", emptyDir: {} },
                    { name: "key", secret: { secretName: "anthropic" } },
                ],
            },
            spec,
        );
        return d;
    };
    it("passes a session-shaped workload in a workspace, and leaves other namespaces to other policies", async () => {
        expect(await runResource(policy, sessionPod())).toEqual([]);
        expect(await runResource(policy, deployment("x1agent", "x1agent-api"))).toEqual([]);
    });
    it("fails hostPath, host namespaces, another ServiceAccount and a projected token, in one message", async () => {
        const v = await runResource(
            policy,
            sessionPod({
                serviceAccountName: "default",
                hostPID: true,
                volumes: [
                    { name: "kubelet", hostPath: { path: "/var/lib/kubelet/pods" } },
                    { name: "tok", projected: { sources: [{ serviceAccountToken: { path: "t" } }] } },
                ],
                containers: [{ ...container(), ports: [{ containerPort: 80, hostPort: 80 }] }],
            }),
        );
        expect(v.map((x) => x.message)).toEqual([
            "Deployment x1agent-ws-demo/warm-pool in a workspace runs as ServiceAccount default, not x1agent-session; sets hostPID: true; containers main binds a hostPort; volume kubelet is a hostPath volume; volume tok projects a ServiceAccount token: a workspace pod must stay inside its namespace; run as x1agent-session without a token, no host namespaces or ports, and only emptyDir/configMap/secret/projected/PVC volumes",
        ]);
    });
});

describe("secrets-namespace-no-workloads", () => {
    const policy = secretsNamespaceNoWorkloads();
    it("passes workloads elsewhere", async () => {
        expect(await runResource(policy, deployment("x1agent", "x1agent-api"))).toEqual([]);
    });
    it("fails a pod in x1agent-secrets running as eso-reader", async () => {
        const d = deployment("x1agent-secrets", "dump");
        d.props.spec.template.spec.serviceAccountName = "eso-reader";
        expect((await runResource(policy, d))[0]!.message).toBe(
            "Deployment x1agent-secrets/dump runs in x1agent-secrets as ServiceAccount eso-reader, where a pod can mount every Tier 1 Secret: nothing runs there; move it to its own namespace",
        );
    });
});

describe("cloud-identity-api-only", () => {
    const policy = cloudIdentityApiOnly();
    const apiSa: FakeResource = {
        type: "kubernetes:core/v1:ServiceAccount",
        name: "api-sa",
        props: { metadata: { name: "x1agent-api", namespace: "x1agent", annotations: { "eks.amazonaws.com/role-arn": UNKNOWN } } },
    };

    it("passes the identity the program creates on each cloud (the api's annotation unknown at preview)", async () => {
        expect(await runStack(policy, [irsaRole(), rolePolicy(), apiSa])).toEqual([]);
        expect(await runStack(policy, gcpIdentity())).toEqual([]);
        expect(await runStack(policy, azureIdentity())).toEqual([]);
    });

    it("fails an exact, well-formed trust of a workspace ServiceAccount, which irsa-trust-exact passes", async () => {
        const role = irsaRole({
            StringEquals: {
                "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:x1agent-ws-demo:x1agent-session",
                "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
            },
        });
        expect((await runStack(policy, [role])).map((x) => x.message)).toEqual([
            "aws:iam/role:Role 'x1agent-identity-role' trust statement 0 trusts system:serviceaccount:x1agent-ws-demo:x1agent-session: that account would read x1agent's secrets as the api; trust only x1agent/x1agent-api",
        ]);
    });

    it("fails a second way into the role, static keys, impersonation of the GSA and ESO holding an identity", async () => {
        const role = irsaRole();
        const doc = JSON.parse(role.props.assumeRolePolicy);
        doc.Statement.push({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::222222222222:root" }, Action: "sts:AssumeRole" });
        role.props.assumeRolePolicy = JSON.stringify(doc);
        const v = await runStack(policy, [
            role,
            { type: "aws:iam/accessKey:AccessKey", name: "ci-key", props: { user: "ci" } },
            {
                type: "gcp:serviceaccount/iAMMember:IAMMember",
                name: "impersonate",
                props: { role: "roles/iam.serviceAccountTokenCreator", member: "user:dev@example.com", serviceAccountId: "gsa" },
            },
            {
                type: "gcp:serviceaccount/iAMMember:IAMMember",
                name: "wi-ws",
                props: {
                    role: "roles/iam.workloadIdentityUser",
                    member: "serviceAccount:p.svc.id.goog[x1agent-ws-demo/x1agent-session]",
                    serviceAccountId: "gsa",
                },
            },
            {
                type: "azure-native:managedidentity:FederatedIdentityCredential",
                name: "fic-eso",
                props: { subject: "system:serviceaccount:external-secrets:external-secrets" },
            },
            {
                type: "x1agent:addons:ExternalSecrets",
                name: "eso",
                props: { chartValues: { serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::2:role/eso" } } } },
            },
        ]);
        const starts = (prefix: string) => expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
        expect(v.map((x) => x.message)).toEqual([
            starts(
                `aws:iam/role:Role 'x1agent-identity-role' trust statement 1 lets {"AWS":"arn:aws:iam::222222222222:root"} assume the workload-identity role (sts:AssumeRole)`,
            ),
            starts("aws:iam/accessKey:AccessKey 'ci-key' creates a static cloud key"),
            starts(
                "gcp:serviceaccount/iAMMember:IAMMember 'impersonate' (roles/iam.serviceAccountTokenCreator) lets user:dev@example.com act as the Google service account: remove the grant",
            ),
            starts(
                "gcp:serviceaccount/iAMMember:IAMMember 'wi-ws' (roles/iam.workloadIdentityUser) lets serviceAccount:p.svc.id.goog[x1agent-ws-demo/x1agent-session] act as the Google service account",
            ),
            starts(
                "FederatedIdentityCredential 'fic-eso' trusts subject system:serviceaccount:external-secrets:external-secrets: that account would act as the managed identity",
            ),
            starts(
                "The ESO chart values give the controller's ServiceAccount eks.amazonaws.com/role-arn: every store or generator without its own auth would then act with that cloud identity",
            ),
        ]);
    });

    it("fails an identity annotation on another ServiceAccount", async () => {
        const sa: FakeResource = {
            type: "kubernetes:core/v1:ServiceAccount",
            name: "s",
            props: {
                metadata: {
                    name: "x1agent-session",
                    namespace: "x1agent-ws-demo",
                    annotations: { "iam.gke.io/gcp-service-account": "x@p.iam.gserviceaccount.com" },
                },
            },
        };
        expect((await runStack(policy, [sa, namespace("x1agent-ws-demo")]))[0]!.message).toBe(
            "ServiceAccount x1agent-ws-demo/x1agent-session carries iam.gke.io/gcp-service-account, a cloud identity: only x1agent/x1agent-api may hold one; remove the annotation",
        );
    });
});

describe("secret-grants-not-public", () => {
    const policy = secretGrantsNotPublic();
    const secretPolicy = (principal: unknown): FakeResource => ({
        type: "aws:secretsmanager/secretPolicy:SecretPolicy",
        name: "x1agent-demo-policy",
        props: {
            secretArn: "arn:aws:secretsmanager:us-east-1:2:secret:x1agent/demo/a",
            policy: JSON.stringify({ Statement: [{ Effect: "Allow", Principal: principal, Action: "secretsmanager:GetSecretValue", Resource: "*" }] }),
        },
    });
    it("passes the program's GCP grant and a resource policy for one account", async () => {
        expect(await run(policy, [...gcpIdentity(), secretPolicy({ AWS: "arn:aws:iam::222222222222:role/x1agent-prod-x1agent-api" })])).toEqual([]);
    });
    it("fails a secret role for allUsers and a resource policy for Principal *, even on x1agent secrets", async () => {
        const publicGrant: FakeResource = {
            type: "gcp:secretmanager/secretIamMember:SecretIamMember",
            name: "public",
            props: { secretId: "projects/p/secrets/x1agent-demo-a", role: "roles/secretmanager.secretAccessor", member: "allUsers" },
        };
        expect((await run(policy, [publicGrant, secretPolicy("*"), secretPolicy({ AWS: ["*"] })])).map((x) => x.message)).toEqual([
            "gcp:secretmanager/secretIamMember:SecretIamMember 'public' grants roles/secretmanager.secretAccessor to allUsers: anyone could read the secrets it covers; grant it to x1agent's Google service account only",
            expect.stringMatching(/^aws:secretsmanager\/secretPolicy:SecretPolicy 'x1agent-demo-policy' statement 0 allows Principal "\*"/),
            expect.stringMatching(/^aws:secretsmanager\/secretPolicy:SecretPolicy 'x1agent-demo-policy' statement 0 allows Principal "\*"/),
        ]);
    });
});
