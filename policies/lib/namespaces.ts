/**
 * Which namespaces an ESO store condition admits, decided by running the
 * condition against sample namespace names: the ones it must admit (the app
 * namespace, workspaces) and the ones it must never admit (x1agent-secrets,
 * system and add-on namespaces, and near-misses of the workspace prefix).
 *
 * ESO matches `namespaceRegexes` with Go's regexp (unanchored, RE2); the
 * common subset behaves the same in JavaScript. Inline flags such as `(?i)`
 * are translated; anything JavaScript cannot compile is reported as not
 * evaluable rather than guessed.
 */
import type { IClusterSecretStoreCondition } from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import { isX1Namespace, names } from "./names";

/** Namespaces a store must serve (the app namespace and workspaces). */
export const admittedSamples = [names.appNamespace, ...["demo", "a", "team-1"].map(names.workspaceNamespace)];

/** Namespaces a store must never serve. */
export const forbiddenSamples = [
    names.secretsNamespace,
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "default",
    names.esoNamespace,
    "cert-manager",
    "x1agent-nats",
    "cnpg-system",
    "monitoring",
    // Near-misses: a regex that admits these is not limited to x1agent namespaces.
    "x1agent-wsx",
    "x1agent-ws",
    "x1agentws-demo",
    "evil-x1agent-ws-demo",
    "x1agent-secrets-copy",
    "x1agent2",
    "team-x1agent",
];

/** Compiles an ESO namespace regex (Go syntax) for JavaScript, or says why it cannot. */
export function compileGoRegex(source: string): { ok: true; re: RegExp } | { ok: false; error: string } {
    let flags = "";
    let body = source;
    const inline = /^\(\?([imsU]+)\)/.exec(body);
    if (inline) {
        if (inline[1]!.includes("U")) return { ok: false, error: "the (?U) flag has no JavaScript equivalent" };
        flags = [...new Set(inline[1]!.split(""))].join("");
        body = body.slice(inline[0].length);
    }
    try {
        return { ok: true, re: new RegExp(body, flags) };
    } catch (err) {
        return { ok: false, error: (err as Error).message };
    }
}

export interface ConditionFinding {
    /** Where in the store spec, e.g. `spec.conditions[0].namespaceRegexes[1]`. */
    path: string;
    problem: string;
}

/** Checks one store condition; returns what is wrong with it (empty when it is scoped). */
export function checkCondition(cond: IClusterSecretStoreCondition, index: number): ConditionFinding[] {
    const base = `spec.conditions[${index}]`;
    const out: ConditionFinding[] = [];
    const regexes = cond.namespaceRegexes ?? [];
    const namespaces = cond.namespaces ?? [];
    const selector = cond.namespaceSelector;
    const hasSelector = selector !== undefined && selector !== null && Object.keys(selector).length > 0;
    if (regexes.length === 0 && namespaces.length === 0 && !hasSelector) {
        out.push({ path: base, problem: "is empty, and an empty condition admits every namespace" });
        return out;
    }
    regexes.forEach((raw, i) => {
        const path = `${base}.namespaceRegexes[${i}]`;
        const source = String(raw);
        const compiled = compileGoRegex(source);
        if (!compiled.ok) {
            out.push({ path, problem: `'${source}' cannot be evaluated (${compiled.error}); write it in the plain RE2 subset` });
            return;
        }
        const bad = forbiddenSamples.filter((ns) => compiled.re.test(ns));
        if (bad.length > 0) out.push({ path, problem: `'${source}' admits ${bad.join(", ")}` });
        else if (!source.startsWith("^") || !source.endsWith("$")) {
            out.push({ path, problem: `'${source}' is not anchored (^...$): ESO matches anywhere in the name, so it admits names that merely contain it` });
        }
    });
    namespaces.forEach((raw, i) => {
        const ns = String(raw);
        if (!isX1Namespace(ns))
            out.push({ path: `${base}.namespaces[${i}]`, problem: `names ${ns}, which is not the app namespace or an x1agent-ws-* workspace` });
    });
    if (hasSelector) {
        // Labels are set by whoever creates a namespace; only the API server's own name label is trustworthy.
        const exprs = selector.matchExpressions ?? [];
        const labels = selector.matchLabels ?? {};
        const byName = exprs.find((e) => e.key === "kubernetes.io/metadata.name" && e.operator === "In");
        const nameLabel = labels["kubernetes.io/metadata.name"];
        const allowed = byName ? (byName.values ?? []).every((v) => isX1Namespace(String(v))) : typeof nameLabel === "string" && isX1Namespace(nameLabel);
        if (!allowed) {
            out.push({
                path: `${base}.namespaceSelector`,
                problem:
                    "selects namespaces by labels, which anyone who can create or label a namespace controls; use namespaceRegexes (or select on kubernetes.io/metadata.name In x1agent namespaces)",
            });
        }
    }
    return out;
}

/** Does any of these conditions admit this namespace? (A condition is an OR of its fields; conditions are OR'ed.) */
export function conditionsAdmit(conditions: IClusterSecretStoreCondition[], ns: string): boolean {
    return conditions.some((cond) => {
        const regexes = cond.namespaceRegexes ?? [];
        const namespaces = cond.namespaces ?? [];
        return (
            namespaces.map(String).includes(ns) ||
            regexes.some((r) => {
                const c = compileGoRegex(String(r));
                return c.ok && c.re.test(ns);
            })
        );
    });
}
