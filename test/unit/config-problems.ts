import { ConfigError, type ConfigProblem, validateStackConfig } from "../../stacks/validate";

/** The problems validation reports for a stack's raw config (`x1agent:<key>` to value); [] when it is valid. */
export function problemsOf(raw: Record<string, unknown>): ConfigProblem[] {
    try {
        validateStackConfig("test", raw);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}
