/**
 * A component records its constructor args as its inputs (the SDK sends
 * them to the engine, which keeps them in state), so a component is given
 * the sections of the stack config it reads, never the whole config: its
 * args say what it depends on, and no component carries a copy of every
 * workspace (at 1000 workspaces that was 270 kB per copy on every run;
 * bench/, docs/performance.md).
 */

/** The sections `keys` of `config`, as a new object: what a component that reads them is given. */
export function sections<T extends object, K extends keyof T>(config: T, keys: readonly K[]): Pick<T, K> {
    const out = {} as Pick<T, K>;
    for (const k of keys) out[k] = config[k];
    return out;
}
