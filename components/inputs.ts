/**
 * What a component records as its inputs. The Pulumi SDK sends a
 * component's constructor args to the engine, which keeps them in state.
 * Most components take the whole validated stack config (every workspace,
 * every section), so each would carry a full copy: at 1000 workspaces that
 * was seven copies of 270 kB serialized on every run (bench/,
 * docs/performance.md). Platform records the config once; the others
 * record their other args.
 */
export function withoutStackConfig<T extends { config: unknown }>(args: T): Omit<T, "config"> {
    const { config: _recordedByPlatform, ...rest } = args;
    return rest;
}
