/**
 * Keeps secrets out of responses, events, the database and logs. Known secret
 * values (the state passphrase, the database password, bearer tokens seen by
 * the service) are replaced wherever they appear; credential-looking shapes
 * (user:password@ in URLs, PEM blocks, bearer headers) are masked too.
 */
const known = new Set<string>();

/** Remembers a secret value so `redact` masks it everywhere from now on. */
export function registerSecret(value: string | undefined): void {
    // Very short values would mask ordinary words; real secrets are longer.
    if (value && value.length >= 6) known.add(value);
}

/** Registers the secret values found in the process environment (passphrase, tokens, DSN passwords). */
export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv = process.env): void {
    for (const [key, value] of Object.entries(env)) {
        if (!value) continue;
        if (/(PASSPHRASE|TOKEN|SECRET|PASSWORD|ACCESS_KEY|PRIVATE_KEY)/i.test(key)) registerSecret(value);
        const password = passwordOfUrl(value);
        if (password) registerSecret(password);
    }
}

function passwordOfUrl(value: string): string | undefined {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^/\s@]+)@/i.exec(value);
    if (!m?.[1]) return undefined;
    try {
        return decodeURIComponent(m[1]);
    } catch {
        return m[1];
    }
}

const patterns: [RegExp, string][] = [
    [/(:\/\/[^/\s:@]+:)[^/\s@]+@/g, "$1****@"],
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[redacted private key]"],
    [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, "$1[redacted]"],
    [/\bx1d_[A-Za-z0-9_-]{20,}/g, "[redacted token]"],
];

/** The text with every known secret and credential-looking value masked. */
export function redact(text: string): string {
    let out = text;
    for (const secret of known) {
        if (out.includes(secret)) out = out.split(secret).join("[redacted]");
    }
    for (const [re, replacement] of patterns) out = out.replace(re, replacement);
    return out;
}

/** A deep copy with every string value redacted. */
export function redactDeep<T>(value: T): T {
    if (typeof value === "string") return redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
    }
    return value;
}
