/**
 * Validates a stack's `x1agent:*` config against the schema and, when it is
 * wrong, reports every problem at once: the config key, the bad value (secret
 * looking values redacted) and what to write instead. Used by the program
 * before any resource is registered and by the deployer before Pulumi starts.
 */
import { z } from "zod";
import { crossFieldProblems, sections, settle, stackConfig, type StackConfig } from "./schema";

export const CONFIG_NAMESPACE = "x1agent";

export interface ConfigProblem {
    /** Full config key, e.g. `x1agent:secrets.vault.server`. */
    key: string;
    /** The value found, rendered for humans; secret-looking values are redacted. */
    value: string;
    /** What is wrong and what to write instead. */
    message: string;
}

export class ConfigError extends Error {
    readonly stackName: string;
    readonly problems: ConfigProblem[];

    constructor(stack: string, problems: ConfigProblem[]) {
        super(
            `stack '${stack}' config is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was deployed:\n` +
                problems.map((p) => `  - ${p.key} = ${p.value}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
        this.stackName = stack;
        this.problems = problems;
    }
}

/**
 * Takes the stack's config as Pulumi hands it over (`x1agent:key` to a JSON
 * string or an already-parsed value; other namespaces are ignored) and
 * returns the validated, defaulted config, or throws one ConfigError.
 */
export function validateStackConfig(stack: string, raw: Record<string, unknown>): StackConfig {
    const input: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(raw)) {
        const [ns, key] = splitKey(fullKey);
        if (ns !== CONFIG_NAMESPACE || key === undefined) continue;
        input[key] = typeof value === "string" ? parseMaybeJson(value) : value;
    }
    // Each section is checked on its own, then the rules across keys and
    // entries run on whatever parsed: every problem is reported in one pass.
    const problems: ConfigProblem[] = [];
    const known = Object.keys(sections);
    for (const key of Object.keys(input)) {
        if (!(key in sections)) problems.push(unknownKey([], key, known, input));
    }
    const parsed: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(sections)) {
        const result = (schema as z.ZodType).safeParse(input[key]);
        if (result.success) parsed[key] = result.data;
        else {
            problems.push(...toProblems(result.error, input, [key]));
            // What still parses of a wrong section (its valid keys, its valid
            // list entries and the valid keys of the others) goes to the
            // rules that span keys and entries: unique ids, the tier against
            // the cluster, remote keys against the tier.
            const partial = salvage(schema as z.core.$ZodType, input[key]);
            if (partial !== undefined) parsed[key] = partial;
        }
    }
    for (const p of crossFieldProblems(parsed)) {
        // A key the rule found missing was written but refused: its own problem says what to write.
        if (p.absent.some((path) => valueAt(input, path) !== undefined)) continue;
        problems.push({ key: formatKey(p.path), value: render(p.path, valueAt(input, p.path)), message: p.message });
    }
    if (problems.length > 0) throw new ConfigError(stack, problems);
    return settle(parsed as Parameters<typeof settle>[0]);
}

/**
 * What of a value that failed its schema still parses: each key of a
 * mapping and each entry of a list that passes its own schema (defaults
 * applied), and of the ones that do not, again what parses of them; a list
 * keeps its entries at their own indexes (a sparse array: the rules iterate
 * with forEach, which skips the holes). Undefined when nothing parses.
 */
function salvage(schema: z.core.$ZodType, value: unknown): unknown {
    const whole = z.safeParse(schema, value);
    if (whole.success) return whole.data;
    const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    if (def.type === "object" && def.shape && value !== null && typeof value === "object" && !Array.isArray(value)) {
        const out: Record<string, unknown> = {};
        for (const [key, field] of Object.entries(def.shape)) {
            const v = salvage(field, (value as Record<string, unknown>)[key]);
            if (v !== undefined) out[key] = v;
        }
        return out;
    }
    if (def.type === "array" && def.element && Array.isArray(value)) {
        const element = def.element;
        const out: unknown[] = new Array(value.length);
        value.forEach((entry, i) => {
            const v = salvage(element, entry);
            if (v !== undefined) out[i] = v;
        });
        return out;
    }
    return undefined;
}

function splitKey(fullKey: string): [string, string | undefined] {
    const i = fullKey.indexOf(":");
    if (i < 0) return [fullKey, undefined];
    // Pulumi hands `x1agent:config:key` to old SDKs; accept both shapes.
    const rest = fullKey.slice(i + 1).replace(/^config:/, "");
    return [fullKey.slice(0, i), rest];
}

function parseMaybeJson(value: string): unknown {
    const t = value.trim();
    if (t.startsWith("{") || t.startsWith("[") || t === "true" || t === "false" || /^-?[0-9]+(\.[0-9]+)?$/.test(t)) {
        try {
            return JSON.parse(t);
        } catch {
            return value;
        }
    }
    return value;
}

function toProblems(error: z.ZodError, input: Record<string, unknown>, prefix: PropertyKey[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    for (const issue of error.issues) {
        const path = [...prefix, ...issue.path];
        if (issue.code === "unrecognized_keys") {
            for (const k of issue.keys) problems.push(unknownKey(path, k, knownKeysAt(path), input));
            continue;
        }
        const value = valueAt(input, path);
        problems.push({ key: formatKey(path), value: render(path, value), message: explain(issue, value) });
    }
    return problems;
}

function unknownKey(parent: PropertyKey[], key: string, known: string[], input: Record<string, unknown>): ConfigProblem {
    const path = [...parent, key];
    const guess = closest(key, known);
    return {
        key: formatKey(path),
        value: render(path, valueAt(input, path)),
        message: `is not a known key${guess ? `; did you mean '${guess}'?` : ""} Known keys here: ${known.join(", ")}`,
    };
}

function explain(issue: z.core.$ZodIssue, value: unknown): string {
    if (issue.code === "invalid_type" && value === undefined) {
        return `is required: write ${expectedKind(issue.expected)}; see README "Stack configuration"`;
    }
    if (issue.code === "invalid_value" && "values" in issue) {
        return `must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
    }
    // The schema's own messages say what to write; zod's defaults ("Too small:
    // expected number to be >=1") do not, so they are said again in plain words.
    const zodDefault = z.config().localeError?.({ ...issue, input: value } as never);
    const defaultText = typeof zodDefault === "string" ? zodDefault : zodDefault?.message;
    return issue.message !== defaultText ? issue.message : plainly(issue, value);
}

/** What a zod issue the schema gave no message of its own means, and what to write instead. */
function plainly(issue: z.core.$ZodIssue, value: unknown): string {
    switch (issue.code) {
        case "too_small":
        case "too_big": {
            const small = issue.code === "too_small";
            const bound = Number(small ? issue.minimum : issue.maximum);
            const inclusive = issue.inclusive !== false;
            const relation = small ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "less than";
            switch (issue.origin) {
                case "string":
                    return small && bound === 1
                        ? "must not be empty: write a value, or remove the key to take the default"
                        : `must be ${relation} ${bound} characters long (it has ${String(value).length})`;
                case "array":
                case "set":
                    return small && bound === 1 ? "must list at least one entry" : `must list ${relation} ${bound} entries`;
                default:
                    return `must be ${relation} ${bound}: write a number ${small ? (inclusive ? ">=" : ">") : inclusive ? "<=" : "<"} ${bound}`;
            }
        }
        case "invalid_type":
            return `must be ${expectedKind(issue.expected)}, not ${kindOf(value)}`;
        case "invalid_format":
            switch (issue.format) {
                case "url":
                    return "must be a URL with its scheme, such as https://host.example.com";
                case "email":
                    return "must be an e-mail address such as ops@example.com";
                case "uuid":
                    return "must be a UUID such as 8f2b1c3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
                case "regex":
                    return `has the wrong form: it must match ${"pattern" in issue ? String(issue.pattern) : "the documented pattern"}`;
                default:
                    return `must be a valid ${issue.format}`;
            }
        case "not_multiple_of":
            return `must be a multiple of ${String(issue.divisor)}`;
        case "invalid_union":
            return 'matches none of the forms this key accepts; see README "Stack configuration"';
        default:
            return `is not valid here (${issue.code}); see README "Stack configuration"`;
    }
}

function expectedKind(expected: string): string {
    const kinds: Record<string, string> = {
        boolean: "true or false",
        int: "a whole number",
        number: "a number",
        string: "a string",
        object: "a mapping (key: value)",
        array: "a list",
    };
    return kinds[expected] ?? `a ${expected}`;
}

function kindOf(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "number") return Number.isInteger(value) ? "a whole number" : "a number with a fraction";
    if (typeof value === "object") return "a mapping";
    return `a ${typeof value}`;
}

function formatKey(path: PropertyKey[]): string {
    const [first, ...rest] = path.map(String);
    let key = `${CONFIG_NAMESPACE}:${first ?? ""}`;
    for (const p of rest) key += /^[0-9]+$/.test(p) ? `[${p}]` : `.${p}`;
    return key;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
    let cur: unknown = input;
    for (const p of path) {
        if (cur === null || typeof cur !== "object") return undefined;
        cur = (cur as Record<PropertyKey, unknown>)[p];
    }
    return cur;
}

const secretKeyName = /(password|passwd|secret|token|credential|apikey|api_key|private|dsn|^url$)/i;
const secretLooking = /(:\/\/[^/\s:@]+:[^/\s@]+@|^-----BEGIN|^(sk|pk|ghp|xox[bap])[-_][A-Za-z0-9])/;

/** Renders a value for an error message without ever printing a secret. */
function render(path: PropertyKey[], value: unknown): string {
    if (value === undefined) return "(not set)";
    const last = String(path[path.length - 1] ?? "");
    const text = JSON.stringify(value) ?? String(value);
    if ((typeof value === "string" && (secretKeyName.test(last) || secretLooking.test(value))) || secretLooking.test(text)) {
        return `<redacted, ${text.length} characters>`;
    }
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function knownKeysAt(path: PropertyKey[]): string[] {
    let schema: z.core.$ZodType = stackConfig as unknown as z.core.$ZodType;
    for (const p of [...path]) {
        const shape = objectShape(schema);
        if (!shape) return [];
        const next = shape[String(p)] ?? (typeof p === "number" ? undefined : undefined);
        if (!next) return [];
        schema = next;
        // Arrays: step into the element schema for the numeric index that follows.
        const def = unwrap(schema)._zod.def as { type: string; element?: z.core.$ZodType };
        if (def.type === "array" && def.element) schema = def.element;
    }
    const shape = objectShape(schema);
    return shape ? Object.keys(shape) : [];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
    let s = schema;
    for (let i = 0; i < 10; i++) {
        const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType; schema?: z.core.$ZodType };
        if (def.innerType) s = def.innerType;
        else if (def.type === "pipe" && def.in) s = def.in;
        else break;
    }
    return s;
}

function objectShape(schema: z.core.$ZodType): Record<string, z.core.$ZodType> | undefined {
    const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType> };
    return def.type === "object" ? def.shape : undefined;
}

function closest(word: string, candidates: string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
    for (const c of candidates) {
        const d = levenshtein(word.toLowerCase(), c.toLowerCase());
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return best;
}

function levenshtein(a: string, b: string): number {
    // Edit distance, one row at a time; every index read is inside the rows built here.
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) {
            row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
        }
        prev = row;
    }
    return prev[b.length] ?? 0;
}
