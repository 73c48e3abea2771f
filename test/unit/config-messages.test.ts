import { describe, expect, it } from "vitest";
import { z } from "zod";
import { sections } from "../../stacks/schema";
import type { ConfigProblem } from "../../stacks/validate";
import { problemsOf } from "./config-problems";

/** The keys every stack must set, valid: each case below changes one thing. */
const required: Record<string, unknown> = {
    cluster: { provider: "local", name: "x1agent-test" },
    secrets: { tier: "kubernetes" },
    ingress: { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
};

/** A valid entry of each list, so a case that writes one key of an entry leaves the rest of it valid. */
const validEntry: Record<string, unknown> = {
    cronJobs: { name: "vacuum", schedule: "0 3 * * *", args: ["maintenance", "vacuum"] },
    workspaces: { id: "a" },
    "workspaces.secrets": { name: "model-key", remoteKey: "a-model-key" },
};

type Path = (string | number)[];

/** The problems of a config written without the `x1agent:` prefix. */
function problemsOfConfig(config: Record<string, unknown>): ConfigProblem[] {
    return problemsOf(Object.fromEntries(Object.entries(config).map(([k, v]) => [`x1agent:${k}`, v])));
}

function keyOf(path: Path): string {
    const [first, ...rest] = path;
    return `x1agent:${String(first)}${rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}`;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
    let s = schema;
    for (;;) {
        const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
        if (def.innerType) s = def.innerType;
        else if (def.type === "pipe" && def.in) s = def.in;
        else return s;
    }
}

/** Every key of the schema, nested mappings and the first entry of lists included, with its own schema. */
function keysOf(path: Path, schema: z.core.$ZodType): { path: Path; schema: z.core.$ZodType }[] {
    const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    const below =
        def.type === "object" && def.shape
            ? Object.entries(def.shape).flatMap(([k, s]) => keysOf([...path, k], s))
            : def.type === "array" && def.element
              ? keysOf([...path, 0], def.element)
              : [];
    return [{ path, schema }, ...below];
}

/** The required stack with `value` written at `path` (list entries start from a valid one). */
function withValue(path: Path, value: unknown): Record<string, unknown> {
    const config = structuredClone(required);
    let cur = config as Record<string | number, unknown>;
    const lists: string[] = [];
    path.forEach((p, i) => {
        if (i === path.length - 1) {
            cur[p] = value;
            return;
        }
        if (typeof p === "string") lists.push(p);
        if (typeof path[i + 1] === "number") {
            cur[p] ??= [structuredClone(validEntry[lists.join(".")] ?? {})];
        } else {
            cur[p] ??= {};
        }
        cur = cur[p] as Record<string | number, unknown>;
    });
    return config;
}

/** zod's own wording (en locale): what a user must never be shown. */
const validatorText = /Invalid (input|option|type|string|URL|element|key|value)|Too (small|big)|expected [a-z]+, received|Unrecognized key|^Required$/;
/** What a message that tells the fix says. */
const tellsTheFix = /\b(must|write|is required|add|remove|set|name|use|lower|raise)\b/i;

const candidates: unknown[] = [42, -1, 0, 0.5, "", "text", "Bad Name", true, null, {}, [], ["x"], [{}]];

/** Each key of the schema with the values of `candidates` its own schema refuses. */
const cases = Object.entries(sections).flatMap(([section, schema]) =>
    keysOf([section], schema as z.core.$ZodType).map(({ path, schema: own }) => ({
        key: keyOf(path),
        path,
        values: candidates.filter((v) => !z.safeParse(own, v).success),
    })),
);

describe("config messages", () => {
    it("walks every key of the schema", () => {
        // A schema change that adds keys adds cases here.
        expect(cases.length).toBeGreaterThan(250);
        expect(cases.filter((c) => c.values.length === 0)).toEqual([]);
    });

    it.each(cases)("$key: every wrong value gets a message naming the key and the value and saying what to write", ({ key, path, values }) => {
        for (const value of values) {
            const problems = problemsOfConfig(withValue(path, value));
            const at = `${key} = ${JSON.stringify(value)}`;
            const here = problems.filter((p) => p.key === key || p.key.startsWith(`${key}.`) || p.key.startsWith(`${key}[`));
            expect(here.length, `${at}: ${JSON.stringify(problems)}`).toBeGreaterThan(0);
            for (const p of problems.filter((q) => q.key === key)) {
                expect([JSON.stringify(value), expect.stringMatching(/^<redacted, [0-9]+ characters>$/)], at).toContainEqual(p.value);
            }
            for (const p of problems) {
                expect(p.message, `${at}: ${p.key} = ${p.value}`).not.toMatch(validatorText);
                expect(p.message, `${at}: ${p.key} = ${p.value}`).toMatch(tellsTheFix);
            }
        }
    });
});

describe("rules across keys and entries run on whatever parsed", () => {
    const badVault = { server: "not a url" };
    it.each([
        {
            what: "the cloud the cluster needs, with the cluster's name wrong",
            config: { cluster: { provider: "eks", name: "Bad Name" } },
            expect: ["x1agent:cluster.name", "x1agent:cloud.aws"],
        },
        {
            what: "cluster.ownership: own, with the cluster's name wrong",
            config: { cluster: { provider: "local", name: "Bad Name", ownership: "own" } },
            expect: ["x1agent:cluster.name", "x1agent:cluster.ownership"],
        },
        {
            what: "cluster.kubernetesVersion on a stack that applies to a cluster, with the cluster's name wrong",
            config: { cluster: { provider: "local", name: "Bad Name", kubeContext: "x1agent-local", kubernetesVersion: "1.30.2" } },
            expect: ["x1agent:cluster.name", "x1agent:cluster.kubernetesVersion"],
        },
        {
            what: "a Tier 3 tier on the wrong cluster, with another secrets key wrong",
            config: { secrets: { tier: "aws", migration: { from: "nowhere" } } },
            expect: ["x1agent:secrets.migration.from", "x1agent:secrets.tier"],
        },
        {
            what: "a remote key outside the workspace's prefix, with the Vault server wrong",
            config: { secrets: { tier: "vault", vault: badVault }, workspaces: [{ id: "a", secrets: [{ name: "k", remoteKey: "x1agent/b/k" }] }] },
            expect: ["x1agent:secrets.vault.server", "x1agent:workspaces[0].secrets[0].remoteKey"],
        },
        {
            what: "a remote key outside the prefix, with another key of its workspace wrong",
            config: { workspaces: [{ id: "a", quota: { pods: 0 }, secrets: [{ name: "k", remoteKey: "b-k" }] }] },
            expect: ["x1agent:workspaces[0].quota.pods", "x1agent:workspaces[0].secrets[0].remoteKey"],
        },
        {
            what: "the backup recipient Tier 1 needs, with another backup key wrong",
            config: { backup: { enabled: true, retentionDays: 0 } },
            expect: ["x1agent:backup.retentionDays", "x1agent:backup.secretsRecipient"],
        },
        {
            what: "a duplicate workspace id whose entry is itself wrong",
            config: { workspaces: [{ id: "a" }, { id: "a", team: "" }] },
            expect: ["x1agent:workspaces[1].team", "x1agent:workspaces[1].id"],
        },
        {
            what: "a duplicate workspace id whose first entry is wrong",
            config: { workspaces: [{ id: "a", egressCidrs: ["everywhere"] }, { id: "a" }] },
            expect: ["x1agent:workspaces[0].egressCidrs[0]", "x1agent:workspaces[1].id"],
        },
        {
            what: "a duplicate cronJob name whose entry has a wrong schedule",
            config: {
                cronJobs: [
                    { name: "vacuum", schedule: "0 3 * * *", args: ["a"] },
                    { name: "vacuum", schedule: "daily", args: ["b"] },
                ],
            },
            expect: ["x1agent:cronJobs[1].schedule", "x1agent:cronJobs[1].name"],
        },
        {
            what: "a workspace limit above its quota, with the pods quota wrong",
            config: { workspaces: [{ id: "a", quota: { cpu: "1", pods: "many" }, limits: { default: { cpu: "2" } } }] },
            expect: ["x1agent:workspaces[0].quota.pods", "x1agent:workspaces[0].limits.default.cpu"],
        },
        {
            what: "no database connection, with another key of postgres.bundled wrong",
            config: { postgres: { bundled: { enabled: false, instances: 0 } } },
            expect: ["x1agent:postgres.bundled.instances", "x1agent:postgres"],
        },
        {
            what: "an ACME issuer without an e-mail, with the ACME server wrong",
            config: { ingress: { host: "x1agent.example.com", issuer: { type: "acme", server: "not a url" } } },
            expect: ["x1agent:ingress.issuer.server", "x1agent:ingress.issuer.email"],
        },
        {
            what: "replicas outside the HPA range, with the HPA's CPU target wrong",
            config: { api: { replicas: 9, hpa: { enabled: true, minReplicas: 2, maxReplicas: 4, targetCPUUtilization: 0 } } },
            expect: ["x1agent:api.hpa.targetCPUUtilization", "x1agent:api.replicas"],
        },
    ])("$what", ({ config, expect: keys }) => {
        const problems = problemsOfConfig({ ...required, ...config });
        expect(problems.map((p) => p.key).sort()).toEqual([...keys].sort());
        for (const p of problems) expect(p.message).toMatch(tellsTheFix);
    });

    it.each([
        { what: "secrets.vault written wrong is not also 'required for tier vault'", config: { secrets: { tier: "vault", vault: "https://vault" } } },
        { what: "cloud.aws written wrong is not also 'required on eks'", config: { cluster: { provider: "eks", name: "c" }, cloud: { aws: [] } } },
        { what: "a wrong recipient is not also 'required with backup.enabled'", config: { backup: { enabled: true, secretsRecipient: "age1nope" } } },
    ])("$what", ({ config }) => {
        const problems = problemsOfConfig({ ...required, ...config });
        expect(problems).toHaveLength(1);
        expect(problems[0]?.message).not.toMatch(/is required/);
    });
});
