/**
 * A resource policy on one Kubernetes kind: its check and its remediation
 * run only for objects of that kind (any version) and get the object typed
 * as its model (see `asKind`), next to the resource it came from.
 */
import { type CheckContext, type PolicyMeta, type Res, resourcePolicy } from "./policy";
import { asKind, type KindName, type Kinds } from "./resources";

export function kindPolicy<K extends KindName, C extends object = Record<string, never>>(
    kind: K,
    meta: PolicyMeta,
    check: (obj: Kinds[K], r: Res, ctx: CheckContext<C>) => void,
    remediate?: (obj: Kinds[K], r: Res, ctx: Omit<CheckContext<C>, "report">) => Record<string, unknown> | undefined,
) {
    return resourcePolicy<C>(
        meta,
        (r, ctx) => {
            const obj = asKind(r, kind);
            if (obj) check(obj, r, ctx);
        },
        remediate &&
            ((r, ctx) => {
                const obj = asKind(r, kind);
                return obj ? remediate(obj, r, ctx) : undefined;
            }),
    );
}
