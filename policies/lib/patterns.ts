/**
 * Telling a plaintext secret apart from configuration. Policies see secret
 * values unwrapped, so the decision is made by structure first (the name of
 * the env var, ConfigMap key or Helm value: PASSWORD, apiKey, ...; a
 * `value:` where a `secretKeyRef` belongs) and by the shape of the value
 * second (private keys, cloud and SaaS tokens, credentials in URLs). No
 * message ever repeats a value: it names where the value sits and its length.
 */

/** Name endings that mean "this holds a credential", as lower-case token sequences. */
const sensitiveEndings = [
    ["password"],
    ["passwd"],
    ["pwd"],
    ["pass"],
    ["secret"],
    ["token"],
    ["apikey"],
    ["api", "key"],
    ["access", "key"],
    ["secret", "key"],
    ["private", "key"],
    ["signing", "key"],
    ["encryption", "key"],
    ["client", "secret"],
    ["credential"],
    ["credentials"],
    ["dsn"],
    ["connection", "string"],
    ["database", "url"],
    ["db", "url"],
    ["auth", "token"],
];

/** Splits FOO_BAR, fooBar, foo-bar and foo.bar alike into lower-case tokens. */
export function nameTokens(name: string): string[] {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter((t) => t !== "");
}

/**
 * Does this name (env var, ConfigMap key, values key) say it holds a
 * credential? `DB_PASSWORD`, `apiKey`, `clientSecret` do; `passwordSecretName`,
 * `DB_PASSWORD_SECRET`, `TOKEN_FILE`, `existingSecret`, `X1AGENT_SECRETS_STORE`
 * do not: they name where a credential is, not the credential.
 */
export function isSensitiveName(name: string): boolean {
    const tokens = nameTokens(name);
    if (tokens[0] === "existing") return false;
    return sensitiveEndings.some((end) => {
        if (end.length > tokens.length || !end.every((t, i) => tokens[tokens.length - end.length + i] === t)) return false;
        // `DB_PASSWORD_SECRET`, `passwordSecretKey`: the Secret (or its key) that holds the password, a reference.
        const before = tokens[tokens.length - end.length - 1];
        return !(end[0] === "secret" && before !== undefined && credentialWords.has(before));
    });
}

/** Words that, followed by `secret...`, make a name point at the Secret holding that credential. */
const credentialWords = new Set(["password", "passwd", "pwd", "pass", "token", "key", "apikey", "credential", "credentials", "dsn", "url"]);

/** A value that only points somewhere (empty, a variable reference, a file path): never a secret itself. */
export function isReferenceValue(value: string): boolean {
    const v = value.trim();
    return v === "" || /^\$[({]/.test(v) || /^\/[^\s]*$/.test(v) || /^<[^>]+>$/.test(v);
}

const valuePatterns: { label: string; re: RegExp }[] = [
    { label: "a PEM private key", re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/ },
    { label: "an AWS access key id", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
    { label: "credentials in a URL", re: /[a-z][a-z0-9+.-]*:\/\/[^\s/:@$]+:[^\s/@$][^\s/@]*@/i },
    { label: "a Slack token", re: /\bxox[abprs]-[0-9A-Za-z-]{10,}/ },
    { label: "a GitHub token", re: /\bgh[pousr]_[A-Za-z0-9]{36,}/ },
    { label: "an API key (sk-...)", re: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/ },
    { label: "a Google API key", re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
    { label: "a JSON Web Token", re: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/ },
    {
        label: "a credential assignment in a config file",
        re: /^\s*["']?[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key)["']?\s*[:=]\s*["']?(?![$<{/])[^\s"'#,}]{6,}/im,
    },
];

/** What secret a value looks like (a label), or undefined. */
export function secretLookingValue(value: string): string | undefined {
    return valuePatterns.find((p) => p.re.test(value))?.label;
}

/** How messages mention a value without showing it. */
export function redacted(value: string): string {
    return `<redacted, ${value.length} characters>`;
}
