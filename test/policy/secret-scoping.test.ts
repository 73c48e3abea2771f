import { describe, expect, it } from "vitest";
import { awsSecretAccessScoped } from "../../policies/rules/aws-secret-access-scoped";
import { azureSecretAccessScoped } from "../../policies/rules/azure-secret-access-scoped";
import { clusterSecretStoreScoped } from "../../policies/rules/cluster-secret-store-scoped";
import { esoCurrentApiVersion } from "../../policies/rules/eso-current-api-version";
import { esoReaderRbacScoped } from "../../policies/rules/eso-reader-rbac-scoped";
import { externalSecretNamespaceAllowed } from "../../policies/rules/external-secret-namespace-allowed";
import { externalSecretRemoteKeyPrefix } from "../../policies/rules/external-secret-remote-key-prefix";
import { externalSecretStoreAllowed } from "../../policies/rules/external-secret-store-allowed";
import { gcpSecretAccessScoped } from "../../policies/rules/gcp-secret-access-scoped";
import { irsaTrustExact } from "../../policies/rules/irsa-trust-exact";
import { kmsKeyRotation } from "../../policies/rules/kms-key-rotation";
import { noPushSecretInWorkspaces } from "../../policies/rules/no-push-secret-in-workspaces";
import { secretsNamespaceRbacScoped } from "../../policies/rules/secrets-namespace-rbac-scoped";
import { tier1StoreReadsOnlySecretsNamespace } from "../../policies/rules/tier1-store-reads-only-secrets-namespace";
import { workspaceNoSecretRead } from "../../policies/rules/workspace-no-secret-read";
import { expectEachPolicyBothWays, remediate, run, runResource, runStack, UNKNOWN, type FakeResource } from "./fakes";
import { azureRoleAssignment, defaultRegexes, externalSecret, gcpProjectGrant, irsaRole, rbac, readSecretsRule, rolePolicy, store, vaultId } from "./fixtures";

expectEachPolicyBothWays([
    "eso-current-api-version",
    "cluster-secret-store-scoped",
    "external-secret-namespace-allowed",
    "external-secret-store-allowed",
    "external-secret-remote-key-prefix",
    "tier1-store-reads-only-secrets-namespace",
    "eso-reader-rbac-scoped",
    "secrets-namespace-rbac-scoped",
    "aws-secret-access-scoped",
    "irsa-trust-exact",
    "gcp-secret-access-scoped",
    "azure-secret-access-scoped",
    "workspace-no-secret-read",
    "no-push-secret-in-workspaces",
    "kms-key-rotation",
]);

describe("eso-current-api-version", () => {
    const policy = esoCurrentApiVersion();
    it("passes v1 stores and ExternalSecrets", async () => {
        expect(await run(policy, [store("kubernetes"), externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"])])).toEqual([]);
    });
    it("flags v1beta1 and says which version to write", async () => {
        const v = await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-a"], {}, "v1beta1"));
        expect(v[0]!.message).toBe(
            "ExternalSecret x1agent-ws-demo/a uses external-secrets.io/v1beta1, a deprecated API version (not served by ESO 0.17 and later): write apiVersion: external-secrets.io/v1",
        );
    });
});

describe("cluster-secret-store-scoped", () => {
    const policy = clusterSecretStoreScoped();
    const withConditions = (conditions: unknown) => store("vault", { conditions });

    it("passes the program's default conditions (x1agent and x1agent-ws-*)", async () => {
        expect(await runResource(policy, store("kubernetes"))).toEqual([]);
        expect(
            await runResource(policy, withConditions([{ namespaces: ["x1agent", "x1agent-ws-demo"] }, { namespaceRegexes: ["^x1agent-ws-[a-z0-9-]+$"] }])),
        ).toEqual([]);
        const byName = { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["x1agent-ws-demo"] }] } };
        expect(await runResource(policy, withConditions([byName, { namespaceRegexes: defaultRegexes }]))).toEqual([]);
    });

    it("fails an unscoped store and remediates it with the default conditions", async () => {
        const unscoped = store("vault", { conditions: undefined });
        delete unscoped.props.spec.conditions;
        const v = await runResource(policy, unscoped);
        expect(v[0]!.message).toMatch(/ClusterSecretStore x1-vault has no spec.conditions, so every namespace in the cluster .* can read through it/);
        const fixed = await remediate(policy, unscoped);
        expect(fixed!.spec.conditions).toEqual([{ namespaceRegexes: defaultRegexes }]);
        expect(fixed!.spec.provider).toEqual(unscoped.props.spec.provider);
        expect(await runResource(policy, { ...unscoped, props: fixed! })).toEqual([]);
    });

    it("does not rewrite conditions that exist but are wrong", async () => {
        expect(await remediate(policy, withConditions([{ namespaceRegexes: [".*"] }]))).toBeUndefined();
    });

    it.each([
        [[{ namespaceRegexes: [".*"] }], /namespaceRegexes\[0\] '\.\*' admits x1agent-secrets, kube-system/],
        [[{ namespaceRegexes: ["^x1agent"] }], /'\^x1agent' admits x1agent-secrets/],
        [[{ namespaceRegexes: ["x1agent-ws-"] }], /'x1agent-ws-' admits evil-x1agent-ws-demo/],
        [[{ namespaceRegexes: ["^x1agent-ws-demo"] }], /is not anchored \(\^\.\.\.\$\)/],
        [[{ namespaces: ["x1agent-secrets"] }], /namespaces\[0\] names x1agent-secrets, which is not the app namespace or an x1agent-ws-\* workspace/],
        [
            [{ namespaceSelector: { matchLabels: { "x1agent.dev/workspace": "demo" } } }],
            /selects namespaces by labels, which anyone who can create or label a namespace controls/,
        ],
        [[{}], /spec.conditions\[0\] is empty, and an empty condition admits every namespace/],
        [[{ namespaceRegexes: ["(?P<ws>x1agent)"] }], /cannot be evaluated/],
    ])("fails conditions %j", async (conditions, message) => {
        const v = await runResource(policy, withConditions(conditions));
        expect(v.map((x) => x.message).join("\n")).toMatch(message);
    });

    it("evaluates (?i) flags the way ESO's Go regexp does", async () => {
        const v = await runResource(policy, withConditions([{ namespaceRegexes: ["(?i)^KUBE-SYSTEM$"] }]));
        expect(v[0]!.message).toMatch(/admits kube-system/);
    });

    it("fails closed when the conditions are unknown during preview", async () => {
        const v = await runResource(policy, withConditions(UNKNOWN));
        expect(v).toHaveLength(1);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(/cannot be verified during preview: .*spec.conditions can't be known during preview .*fails closed/);
    });
});

describe("external-secret-namespace-allowed", () => {
    const policy = externalSecretNamespaceAllowed();
    it("passes workspaces and the app namespace", async () => {
        expect(await run(policy, [externalSecret("x1agent-ws-demo", "a", "x1-local", []), externalSecret("x1agent", "db", "x1-local", [])])).toEqual([]);
    });
    it("fails any other namespace, and honours the allowlist config", async () => {
        const es = externalSecret("kube-system", "stolen", "x1-local", []);
        expect((await runResource(policy, es))[0]!.message).toMatch(
            /ExternalSecret kube-system\/stolen is in namespace kube-system; ExternalSecrets may only live in x1agent-ws-<id> workspaces or x1agent/,
        );
        expect(await runResource(policy, externalSecret("monitoring", "a", "x1-local", []), { config: { allowNamespaces: ["monitoring"] } })).toEqual([]);
        expect(await runResource(policy, externalSecret("x1agent", "a", "x1-local", []), { config: { allowNamespaces: [] } })).toHaveLength(1);
    });
});

describe("external-secret-store-allowed", () => {
    const policy = externalSecretStoreAllowed();
    it("passes an x1 ClusterSecretStore", async () => {
        expect(await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-vault", []))).toEqual([]);
    });
    it("fails an omitted kind (ESO's default SecretStore), an unknown store, and no store", async () => {
        const noKind = externalSecret("x1agent-ws-demo", "a", "x1-vault", [], { secretStoreRef: { name: "x1-vault" } });
        expect((await runResource(policy, noKind))[0]!.message).toMatch(
            /references a SecretStore \(ESO's default when kind is omitted\) at spec.secretStoreRef/,
        );
        expect((await runResource(policy, externalSecret("x1agent-ws-demo", "a", "team-store", [])))[0]!.message).toMatch(
            /references ClusterSecretStore team-store at spec.secretStoreRef, which is not an x1agent store/,
        );
        const none = externalSecret("x1agent-ws-demo", "a", "x1-vault", []);
        delete none.props.spec.secretStoreRef;
        expect((await runResource(policy, none))[0]!.message).toMatch(/names no store/);
    });
});

describe("external-secret-remote-key-prefix", () => {
    const policy = externalSecretRemoteKeyPrefix();
    it("passes keys under the workspace's own prefix, per tier", async () => {
        const ok: FakeResource[] = [
            externalSecret("x1agent-ws-demo", "a", "x1-local", ["demo-anthropic"]),
            externalSecret("x1agent-ws-demo", "b", "x1-vault", ["x1agent/demo/anthropic"]),
            externalSecret("x1agent-ws-demo", "c", "x1-aws", ["x1agent/demo/openai"]),
            externalSecret("x1agent-ws-demo", "d", "x1-gcp", ["x1agent-demo-anthropic"]),
            externalSecret("x1agent-ws-demo", "e", "x1-vault", [], {
                dataFrom: [{ extract: { key: "x1agent/demo/bundle" } }, { find: { path: "x1agent/demo/" } }],
            }),
            externalSecret("x1agent", "db", "x1-vault", ["x1agent/platform/db"]),
        ];
        expect(await run(policy, ok)).toEqual([]);
    });
    it("fails another workspace's key, a path escape, and a find over the whole backend", async () => {
        expect((await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-vault", ["x1agent/finance/anthropic"])))[0]!.message).toBe(
            "ExternalSecret x1agent-ws-demo/a reads 'x1agent/finance/anthropic' (spec.data[0].remoteRef.key) from x1-vault, outside workspace demo's prefix x1agent/demo/: " +
                "a workspace may only read its own secrets; move the secret to x1agent/demo/<name> and set remoteKey accordingly",
        );
        expect(await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-vault", ["x1agent/demo/../finance/x"]))).toHaveLength(1);
        expect((await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-local", ["finance-db"])))[0]!.message).toMatch(
            /outside workspace demo's prefix demo-/,
        );
        // GCP secret ids cannot hold '/': the schema's prefix there is x1agent-<id>-.
        expect((await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-gcp", ["x1agent/demo/anthropic"])))[0]!.message).toMatch(
            /outside workspace demo's prefix x1agent-demo-/,
        );
        const find = externalSecret("x1agent-ws-demo", "a", "x1-aws", [], { dataFrom: [{ find: { name: { regexp: ".*" } } }] });
        expect((await runResource(policy, find))[0]!.message).toMatch(/find without a path: that searches the whole backend/);
    });
    it("fails closed on a remote key unknown at preview", async () => {
        const v = await runResource(policy, externalSecret("x1agent-ws-demo", "a", "x1-vault", [UNKNOWN]));
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(/cannot be verified during preview/);
    });
});

describe("tier1-store-reads-only-secrets-namespace", () => {
    const policy = tier1StoreReadsOnlySecretsNamespace();
    const k8sStore = (k: Record<string, unknown>) => store("kubernetes", { provider: { kubernetes: k } });
    it("passes the program's Tier 1 store and ignores other providers", async () => {
        expect(await run(policy, [store("kubernetes"), store("vault")])).toEqual([]);
    });
    it("fails a store reading another namespace, or ESO's default", async () => {
        const v = await runResource(policy, k8sStore({ auth: { serviceAccount: { name: "eso-reader", namespace: "x1agent-secrets" } } }));
        expect(v[0]!.message).toMatch(/reads Secrets from namespace default \(remoteNamespace is unset; ESO's default\)/);
        expect(
            (
                await runResource(
                    policy,
                    k8sStore({ remoteNamespace: "kube-system", auth: { serviceAccount: { name: "eso-reader", namespace: "x1agent-secrets" } } }),
                )
            )[0]!.message,
        ).toMatch(/from namespace kube-system/);
    });
    it("fails a ServiceAccount without an explicit namespace, and token auth; remediates the missing fields only", async () => {
        const noNs = k8sStore({ remoteNamespace: "x1agent-secrets", auth: { serviceAccount: { name: "eso-reader" } } });
        expect((await runResource(policy, noNs))[0]!.message).toMatch(/has no namespace, so ESO resolves it in each ExternalSecret's namespace/);
        const fixed = await remediate(policy, noNs);
        expect(fixed!.spec.provider.kubernetes.auth.serviceAccount).toEqual({ name: "eso-reader", namespace: "x1agent-secrets" });
        const token = k8sStore({ remoteNamespace: "x1agent-secrets", auth: { token: { bearerToken: { name: "t", key: "token" } } } });
        expect((await runResource(policy, token)).map((x) => x.message).join("\n")).toMatch(/authenticates with auth.token/);
        expect(
            await remediate(policy, k8sStore({ remoteNamespace: "kube-system", auth: { serviceAccount: { name: "eso-reader", namespace: "kube-system" } } })),
        ).toBeUndefined();
    });
});

describe("eso-reader-rbac-scoped", () => {
    const policy = esoReaderRbacScoped();
    const reader = [{ kind: "ServiceAccount", name: "eso-reader", namespace: "x1agent-secrets" }];
    it("passes the program's Role and RoleBinding in x1agent-secrets", async () => {
        expect(
            await run(policy, [
                rbac("Role", "x1agent-secrets", "eso-reader", { rules: [readSecretsRule] }),
                rbac("RoleBinding", "x1agent-secrets", "eso-reader", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: reader }),
            ]),
        ).toEqual([]);
    });
    it("fails a ClusterRoleBinding, a binding elsewhere, and a wider Role", async () => {
        expect(
            (await runResource(policy, rbac("ClusterRoleBinding", undefined, "eso", { roleRef: { kind: "ClusterRole", name: "view" }, subjects: reader })))[0]!
                .message,
        ).toMatch(/binds eso-reader cluster-wide/);
        expect(
            (await runResource(policy, rbac("RoleBinding", "x1agent", "eso", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: reader })))[0]!.message,
        ).toMatch(/gives eso-reader permissions in x1agent/);
        const wide = rbac("Role", "x1agent-secrets", "eso-reader", {
            rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "delete"] }],
        });
        expect((await runResource(policy, wide))[0]!.message).toMatch(
            /rule 0 allows get,create,delete on core\/secrets: eso-reader may only get\/list\/watch secrets/,
        );
    });
});

describe("secrets-namespace-rbac-scoped", () => {
    const policy = secretsNamespaceRbacScoped();
    const ns = "x1agent-secrets";
    const sa = (namespace: string, name: string) => [{ kind: "ServiceAccount", name, namespace }];
    const program = [
        rbac("Role", ns, "eso-reader", { rules: [readSecretsRule] }),
        rbac("RoleBinding", ns, "eso-reader", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: sa(ns, "eso-reader") }),
        rbac("Role", ns, "x1agent-secrets-backup", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }] }),
        rbac("RoleBinding", ns, "x1agent-secrets-backup", {
            roleRef: { kind: "Role", name: "x1agent-secrets-backup" },
            subjects: sa("x1agent", "x1agent-secrets-backup"),
        }),
        rbac("Role", ns, "x1agent-api-capture", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["create", "update", "delete"] }] }),
        rbac("RoleBinding", ns, "x1agent-api-capture", { roleRef: { kind: "Role", name: "x1agent-api-capture" }, subjects: sa("x1agent", "x1agent-api") }),
    ];
    it("passes the program's three bindings (reader, backup, write-only capture)", async () => {
        expect(await runStack(policy, program)).toEqual([]);
    });
    it("fails another subject, an api that can read back, and a ClusterRole", async () => {
        const extra = rbac("RoleBinding", ns, "debug", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: sa("x1agent-ws-demo", "session") });
        expect((await runStack(policy, [...program, extra]))[0]!.message).toMatch(
            /RoleBinding x1agent-secrets\/debug grants x1agent-ws-demo\/session access in x1agent-secrets, where every Tier 1 secret value lives/,
        );
        const readBack = rbac("Role", ns, "x1agent-api-capture", { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["create", "get"] }] });
        const v = await runStack(policy, [...program.filter((r) => r.name !== "Role-x1agent-secrets-x1agent-api-capture"), readBack]);
        expect(v[0]!.message).toMatch(
            /x1agent\/x1agent-api \(write-only\) Role x1agent-api-capture rule 0: create,get on core\/secrets; the api may only create\/update\/patch\/delete secrets there, never read them/,
        );
        const cluster = rbac("RoleBinding", ns, "eso-reader", { roleRef: { kind: "ClusterRole", name: "view" }, subjects: sa(ns, "eso-reader") });
        expect((await runStack(policy, [cluster]))[0]!.message).toMatch(/not a Role defined in x1agent-secrets by this stack/);
    });
    it("allows a reviewed extra reader through config", async () => {
        const extra = rbac("RoleBinding", ns, "audit", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: sa("audit", "auditor") });
        expect(await runStack(policy, [...program, extra], { config: { allowSubjects: { "audit/auditor": "read" } } })).toEqual([]);
    });
});

describe("aws-secret-access-scoped", () => {
    const policy = awsSecretAccessScoped();
    it("passes GetSecretValue on x1agent/* (and narrower), and statements unrelated to Secrets Manager", async () => {
        expect(await runResource(policy, rolePolicy())).toEqual([]);
        expect(
            await runResource(
                policy,
                rolePolicy([
                    {
                        Effect: "Allow",
                        Action: "secretsmanager:GetSecretValue",
                        Resource: "arn:aws:secretsmanager:us-east-1:222222222222:secret:x1agent/platform/*",
                    },
                    { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::x1agent-prod-artifacts/*" },
                ]),
            ),
        ).toEqual([]);
    });
    it("fails a wildcard IAM policy on every secret", async () => {
        const v = await runResource(policy, rolePolicy([{ Effect: "Allow", Action: "secretsmanager:*", Resource: "*" }]));
        expect(v.map((x) => x.message)).toEqual([
            "aws:iam/rolePolicy:RolePolicy 'x1agent-identity-secrets-policy' policy statement 0 grants secretsmanager:*, a wildcard covering Secrets Manager: name the actions, e.g. \"secretsmanager:GetSecretValue\"",
            "aws:iam/rolePolicy:RolePolicy 'x1agent-identity-secrets-policy' policy statement 0 allows Secrets Manager on *: x1agent may only reach arn:aws:secretsmanager:*:*:secret:x1agent/*; set Resource: [\"arn:aws:secretsmanager:*:*:secret:x1agent/*\"]",
        ]);
        expect(v.every((x) => x.enforcementLevel === "mandatory")).toBe(true);
    });
    it("fails a prefix without the slash, Action *, NotResource, inline role policies and wide managed policies", async () => {
        expect(
            await runResource(
                policy,
                rolePolicy([{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:*:*:secret:x1agent*" }]),
            ),
        ).toHaveLength(1);
        expect(await runResource(policy, rolePolicy([{ Effect: "Allow", Action: "*", Resource: "*" }]))).toHaveLength(2);
        expect((await runResource(policy, rolePolicy([{ Effect: "Allow", Action: "s3:GetObject", NotResource: "arn:aws:s3:::x" }])))[0]!.message).toMatch(
            /uses NotResource with Allow/,
        );
        const role = irsaRole();
        role.props.inlinePolicies = [
            { name: "inline", policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }] }) },
        ];
        expect((await runResource(policy, role))[0]!.message).toMatch(/inlinePolicies\[0\] \(inline\) statement 0 allows Secrets Manager on \*/);
        const attach: FakeResource = {
            type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            name: "rw",
            props: { role: "r", policyArn: "arn:aws:iam::aws:policy/SecretsManagerReadWrite" },
        };
        expect((await runResource(policy, attach))[0]!.message).toMatch(/attaches SecretsManagerReadWrite/);
    });
});

describe("irsa-trust-exact", () => {
    const policy = irsaTrustExact();
    it("passes an exact sub and aud with StringEquals", async () => {
        expect(await runResource(policy, irsaRole())).toEqual([]);
    });
    it("fails StringLike and wildcard subjects, a missing aud, and a missing sub", async () => {
        const like = irsaRole({ StringLike: { "oidc:sub": "system:serviceaccount:x1agent-ws-*:*" }, StringEquals: { "oidc:aud": "sts.amazonaws.com" } });
        expect((await runResource(policy, like)).map((x) => x.message).join("\n")).toMatch(
            /matches oidc:sub with StringLike: use StringEquals[\s\S]*has no StringEquals on <issuer>:sub/,
        );
        const wildcard = irsaRole({ StringEquals: { "oidc:sub": "system:serviceaccount:x1agent:*", "oidc:aud": "sts.amazonaws.com" } });
        expect((await runResource(policy, wildcard))[0]!.message).toMatch(/trusts sub \["system:serviceaccount:x1agent:\*"\]: name exactly one ServiceAccount/);
        const noAud = irsaRole({ StringEquals: { "oidc:sub": "system:serviceaccount:x1agent:x1agent-api" } });
        expect((await runResource(policy, noAud))[0]!.message).toMatch(/has no StringEquals on <issuer>:aud/);
    });
});

describe("gcp-secret-access-scoped", () => {
    const policy = gcpSecretAccessScoped();
    it("passes a conditioned project grant and a grant on an x1agent secret", async () => {
        expect(await runResource(policy, gcpProjectGrant())).toEqual([]);
        const onSecret: FakeResource = {
            type: "gcp:secretmanager/secretIamMember:SecretIamMember",
            name: "s",
            props: {
                secretId: "projects/x1agent-staging/secrets/x1agent-platform-anthropic",
                role: "roles/secretmanager.secretAccessor",
                member: "serviceAccount:a@b",
            },
        };
        expect(await runResource(policy, onSecret)).toEqual([]);
    });
    it("fails an unconditioned project grant, a condition that is not the prefix, admin roles, and folder grants", async () => {
        expect((await runResource(policy, gcpProjectGrant(null)))[0]!.message).toMatch(/granted on the whole project without a condition/);
        const loose = gcpProjectGrant({ title: "t", expression: 'resource.name.startsWith("projects/1/secrets/x1agent-") || true' });
        expect((await runResource(policy, loose))[0]!.message).toMatch(/does not limit it to x1agent secrets/);
        expect((await runResource(policy, gcpProjectGrant(null, "roles/secretmanager.admin")))[0]!.message).toMatch(/grants roles\/secretmanager.admin/);
        const folder = { ...gcpProjectGrant(), type: "gcp:folder/iAMMember:IAMMember" };
        expect((await runResource(policy, folder))[0]!.message).toMatch(/is granted on a folder/);
    });
});

describe("azure-secret-access-scoped", () => {
    const policy = azureSecretAccessScoped();
    it("passes Key Vault Secrets User on the one vault", async () => {
        expect(await runResource(policy, azureRoleAssignment())).toEqual([]);
        expect(await runResource(policy, azureRoleAssignment(), { config: { vaultId } })).toEqual([]);
    });
    it("fails a resource-group scope, Secrets Officer, and another vault than configured", async () => {
        expect((await runResource(policy, azureRoleAssignment("/subscriptions/s1/resourceGroups/rg-x1")))[0]!.message).toMatch(/wider than one Key Vault/);
        expect((await runResource(policy, azureRoleAssignment(vaultId, "b86a8fe4-44ce-4948-aee5-eccb2c155cd7")))[0]!.message).toMatch(
            /Key Vault Secrets Officer\) can write or administer secrets/,
        );
        const other = azureRoleAssignment(vaultId.replace("x1agent-prod", "finance"));
        expect((await runResource(policy, other, { config: { vaultId } }))[0]!.message).toMatch(/not x1agent's vault/);
    });
});

describe("workspace-no-secret-read", () => {
    const policy = workspaceNoSecretRead();
    const sessionSa = [{ kind: "ServiceAccount", name: "session", namespace: "x1agent-ws-demo" }];
    it("passes a session Role without secrets, and bindings of non-workspace identities", async () => {
        const resources = [
            rbac("Role", "x1agent-ws-demo", "session", { rules: [{ apiGroups: [""], resources: ["pods", "configmaps"], verbs: ["get", "list"] }] }),
            rbac("RoleBinding", "x1agent-ws-demo", "session", { roleRef: { kind: "Role", name: "session" }, subjects: sessionSa }),
            rbac("RoleBinding", "x1agent-ws-demo", "view", { roleRef: { kind: "ClusterRole", name: "view" }, subjects: sessionSa }),
            rbac("Role", "x1agent-secrets", "eso-reader", { rules: [readSecretsRule] }),
            rbac("RoleBinding", "x1agent-secrets", "eso-reader", {
                roleRef: { kind: "Role", name: "eso-reader" },
                subjects: [{ kind: "ServiceAccount", name: "eso-reader" }],
            }),
        ];
        expect(await runStack(policy, resources)).toEqual([]);
    });
    it("fails a workspace Role reading Secrets and a binding of edit", async () => {
        const v = await runStack(policy, [
            rbac("Role", "x1agent-ws-demo", "session", { rules: [readSecretsRule] }),
            rbac("RoleBinding", "x1agent-ws-demo", "session", { roleRef: { kind: "Role", name: "session" }, subjects: sessionSa }),
            rbac("RoleBinding", "x1agent-ws-demo", "edit", { roleRef: { kind: "ClusterRole", name: "edit" }, subjects: sessionSa }),
        ]);
        expect(v.map((x) => x.message)).toEqual([
            "Role x1agent-ws-demo/session rule 0 allows reading Secrets in workspace namespace x1agent-ws-demo: remove secrets (and *) from its resources",
            expect.stringMatching(
                /RoleBinding x1agent-ws-demo\/session lets workspace ServiceAccount x1agent-ws-demo\/session read Secrets in namespace x1agent-ws-demo/,
            ),
            expect.stringMatching(/RoleBinding x1agent-ws-demo\/edit lets workspace ServiceAccount x1agent-ws-demo\/session read Secrets .*ClusterRole edit/),
        ]);
    });
    it("fails reading another namespace's Secrets, the serviceaccounts group, and a role it cannot see", async () => {
        const cross = rbac("RoleBinding", "x1agent-secrets", "leak", { roleRef: { kind: "Role", name: "eso-reader" }, subjects: sessionSa });
        const reader = rbac("Role", "x1agent-secrets", "eso-reader", { rules: [readSecretsRule] });
        expect((await runStack(policy, [reader, cross]))[0]!.message).toMatch(
            /lets workspace ServiceAccount x1agent-ws-demo\/session read Secrets in namespace x1agent-secrets/,
        );
        const group = rbac("ClusterRoleBinding", undefined, "all-sa", {
            roleRef: { kind: "ClusterRole", name: "reader" },
            subjects: [{ kind: "Group", name: "system:serviceaccounts" }],
        });
        const clusterReader = rbac("ClusterRole", undefined, "reader", { rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] });
        expect((await runStack(policy, [clusterReader, group]))[0]!.message).toMatch(/Group system:serviceaccounts read Secrets in every namespace/);
        const unknownRole = rbac("RoleBinding", "x1agent-ws-demo", "x", { roleRef: { kind: "ClusterRole", name: "custom" }, subjects: sessionSa });
        expect((await runStack(policy, [unknownRole]))[0]!.message).toMatch(/which this stack does not define, so whether it reads Secrets cannot be verified/);
    });
});

describe("no-push-secret-in-workspaces", () => {
    const policy = noPushSecretInWorkspaces();
    const push = (ns: string, kind = "PushSecret"): FakeResource => ({
        type: `kubernetes:external-secrets.io/v1alpha1:${kind}`,
        name: `push-${ns}`,
        props: { metadata: { name: "p", namespace: ns } },
    });
    it("passes a PushSecret outside the workspaces", async () => {
        expect(await runResource(policy, push("platform-tools"))).toEqual([]);
    });
    it("fails a PushSecret in a workspace and any ClusterPushSecret", async () => {
        expect((await runResource(policy, push("x1agent-ws-demo")))[0]!.message).toMatch(
            /PushSecret x1agent-ws-demo\/p pushes a Secret from workspace namespace x1agent-ws-demo/,
        );
        expect((await runResource(policy, push("x", "ClusterPushSecret")))[0]!.message).toMatch(/ClusterPushSecret p pushes Secrets from many namespaces/);
    });
});

describe("kms-key-rotation", () => {
    const policy = kmsKeyRotation();
    const awsKey = (props: Record<string, unknown>): FakeResource => ({
        type: "aws:kms/key:Key",
        name: "etcd-key",
        props: { keyUsage: "ENCRYPT_DECRYPT", ...props },
    });
    const gcpKey = (props: Record<string, unknown>): FakeResource => ({
        type: "gcp:kms/cryptoKey:CryptoKey",
        name: "etcd-key",
        props: { name: "etcd-secrets", ...props },
    });
    const azureKey = (props: Record<string, unknown>): FakeResource => ({
        type: "azure-native:keyvault:Key",
        name: "etcd-key",
        props: { properties: { kty: "RSA", ...props } },
    });
    it("passes rotating keys in each cloud, and asymmetric AWS keys", async () => {
        expect(
            await run(policy, [
                awsKey({ enableKeyRotation: true, rotationPeriodInDays: 365 }),
                awsKey({ customerMasterKeySpec: "RSA_2048" }),
                gcpKey({ rotationPeriod: "7776000s" }),
                azureKey({ rotationPolicy: { lifetimeActions: [{ action: { type: "rotate" }, trigger: { timeAfterCreate: "P90D" } }] } }),
            ]),
        ).toEqual([]);
    });
    it("fails keys that do not rotate, or rotate too rarely", async () => {
        expect((await runResource(policy, awsKey({})))[0]!.message).toBe("aws:kms/key:Key 'etcd-key' does not rotate: set enableKeyRotation: true");
        expect((await runResource(policy, gcpKey({})))[0]!.message).toMatch(/has no rotationPeriod/);
        expect((await runResource(policy, gcpKey({ rotationPeriod: "63072000s" })))[0]!.message).toMatch(/rotates every 730 days/);
        expect((await runResource(policy, azureKey({})))[0]!.message).toMatch(/has no rotationPolicy with a rotate action/);
        expect(await runResource(policy, gcpKey({ rotationPeriod: "63072000s" }), { config: { maxRotationDays: 800 } })).toEqual([]);
    });
    it("remediates missing rotation and leaves explicit choices alone", async () => {
        expect((await remediate(policy, awsKey({})))!.enableKeyRotation).toBe(true);
        expect((await remediate(policy, gcpKey({})))!.rotationPeriod).toBe("7776000s");
        expect(await remediate(policy, awsKey({ enableKeyRotation: false }))).toBeUndefined();
    });
});
