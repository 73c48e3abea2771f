/**
 * AWS IAM policy documents as the policies read them: a JSON string (what
 * `JSON.stringify` in the program produces) or an object, statements
 * normalised to arrays.
 */
export interface Statement {
    sid?: string;
    effect: string;
    actions: string[];
    notActions: string[];
    resources: string[];
    notResources: string[];
    principal: unknown;
    condition: Record<string, Record<string, string[]>>;
}

export type ParsedDocument = { ok: true; statements: Statement[] } | { ok: false; error: string };

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

export function parseDocument(doc: unknown): ParsedDocument {
    let value = doc;
    if (typeof doc === "string") {
        try {
            value = JSON.parse(doc);
        } catch (err) {
            return { ok: false, error: `is not valid JSON (${(err as Error).message})` };
        }
    }
    if (value === null || typeof value !== "object") return { ok: false, error: "is not a policy document object" };
    const raw = (value as { Statement?: unknown }).Statement;
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    const statements = list.map((s: Record<string, unknown>): Statement => {
        const condition: Record<string, Record<string, string[]>> = {};
        for (const [op, block] of Object.entries((s.Condition as Record<string, Record<string, unknown>>) ?? {})) {
            condition[op] = Object.fromEntries(Object.entries(block ?? {}).map(([k, v]) => [k, asList(v)]));
        }
        return {
            sid: s.Sid === undefined ? undefined : String(s.Sid),
            effect: String(s.Effect ?? ""),
            actions: asList(s.Action),
            notActions: asList(s.NotAction),
            resources: asList(s.Resource),
            notResources: asList(s.NotResource),
            principal: s.Principal,
            condition,
        };
    });
    return { ok: true, statements };
}

/** Does an IAM action pattern (with `*` and `?`) cover `action`? Case-insensitive, as IAM compares actions. */
export function actionCovers(pattern: string, action: string): boolean {
    const re = new RegExp(
        `^${pattern
            .split("")
            .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
            .join("")}$`,
        "i",
    );
    return re.test(action);
}

export const hasWildcard = (s: string): boolean => s.includes("*") || s.includes("?");

/** How a statement names a statement in messages. */
export function statementName(s: Statement, i: number): string {
    return s.sid ? `statement ${i} (${s.sid})` : `statement ${i}`;
}
