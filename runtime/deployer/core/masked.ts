/**
 * Masked values in a config edit. GET shows credential-looking values masked
 * (redact.ts); an edit that sends a placeholder back unchanged keeps the
 * stored value, and any other placeholder is refused: a masked value is
 * never written to a stack file.
 */
import { CONFIG_NAMESPACE } from "../../../stacks/validate";
import { UnprocessableError } from "../errors";
import type { ConfigProblem } from "../http/schemas";
import { redact } from "../redact";

/** What `redact` puts in place of a secret; a value holding one came from a masked GET. */
const maskMarkers = ["****", "[redacted]", "[redacted token]", "[redacted private key]"];

/**
 * The edited config with every masked placeholder replaced by the stored
 * value it masks, so a GET -> edit -> PUT round trip keeps secrets. A
 * placeholder that masks nothing stored there (moved, or edited around) is
 * refused: a masked value is never written.
 */
export function restoreMasked(edited: Record<string, unknown>, stored: Record<string, unknown>): Record<string, unknown> {
    const problems: ConfigProblem[] = [];
    const walk = (value: unknown, before: unknown, key: string): unknown => {
        if (typeof value === "string") {
            if (!maskMarkers.some((m) => value.includes(m))) return value;
            if (typeof before === "string" && redact(before) === value) return before;
            problems.push({
                key,
                value: JSON.stringify(value),
                message:
                    "holds a masked placeholder from a GET that does not match the stored value: send the real value, or the placeholder unchanged to keep the stored one",
            });
            return value;
        }
        if (Array.isArray(value)) return value.map((v, i) => walk(v, Array.isArray(before) ? before[i] : undefined, `${key}[${i}]`));
        if (value && typeof value === "object") {
            const b = before && typeof before === "object" && !Array.isArray(before) ? (before as Record<string, unknown>) : {};
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, b[k], `${key}.${k}`)]));
        }
        return value;
    };
    const out = Object.fromEntries(Object.entries(edited).map(([k, v]) => [k, walk(v, stored[k], `${CONFIG_NAMESPACE}:${k}`)]));
    if (problems.length > 0) {
        throw new UnprocessableError(
            `the config edit holds ${problems.length} masked value(s); nothing was written:\n${problems.map((p) => `  - ${p.key} = ${p.value}: ${p.message}`).join("\n")}`,
            { problems },
        );
    }
    return out;
}
