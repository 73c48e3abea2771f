import { z } from "zod";
import { dnsLabel } from "../../policies/lib/names";
import { quantity } from "./common";

/** A workspace id; its namespace is `x1agent-ws-{id}` (63 characters at most). */
export const workspaceId = z
    .string()
    .regex(dnsLabel, {
        error: "must be lower-case letters, digits and '-' (it becomes the namespace x1agent-ws-<id>)",
    })
    .max(50, { error: "must be at most 50 characters (x1agent-ws-<id> must fit in 63)" });

export const workspace = z.strictObject({
    id: workspaceId,
    /** The team that owns the workspace (deployer authorization). */
    team: z.string().min(1).optional(),
    quota: z
        .strictObject({
            cpu: quantity.default("8"),
            memory: quantity.default("16Gi"),
            pods: z.number().int().min(1).default(20),
        })
        .default({ cpu: "8", memory: "16Gi", pods: 20 }),
    /**
     * LimitRange defaults for session containers that set no resources
     * (the quota makes requests and limits mandatory). Must fit in the quota.
     */
    limits: z
        .strictObject({
            defaultRequest: z.strictObject({ cpu: quantity.default("100m"), memory: quantity.default("256Mi") }).default({ cpu: "100m", memory: "256Mi" }),
            default: z.strictObject({ cpu: quantity.default("1"), memory: quantity.default("1Gi") }).default({ cpu: "1", memory: "1Gi" }),
        })
        .default({ defaultRequest: { cpu: "100m", memory: "256Mi" }, default: { cpu: "1", memory: "1Gi" } }),
    /** CIDRs agent pods may reach besides NATS, the api and DNS (e.g. a model API). */
    egressCidrs: z.array(z.cidrv4({ error: "must be an IPv4 CIDR such as 10.0.0.0/8" })).default([]),
    /**
     * Secrets this workspace's agents use. Capture mode (Tier 1): `remoteKey`
     * is a Secret in x1agent-secrets named `<id>-...`. Bind mode: `remoteKey` is
     * the path in the backend and must sit under the workspace's prefix
     * (`x1agent/<id>/` for vault and aws, `x1agent-<id>-` for gcp and azure,
     * whose names cannot hold '/'). `property` picks one key/field; without it every key of
     * the remote secret is materialized.
     */
    secrets: z
        .array(
            z.strictObject({
                /** Name of the Secret materialized in the workspace namespace. */
                name: z.string().regex(dnsLabel, {
                    error: "must be a Kubernetes Secret name: lower-case letters, digits and '-', starting and ending with a letter or digit",
                }),
                remoteKey: z.string().min(1),
                property: z.string().min(1).optional(),
            }),
        )
        .default([]),
});
export type Workspace = z.infer<typeof workspace>;

const quantityUnits: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
};

/** A Kubernetes quantity (as the schema accepts it) as a number, for comparisons in cross-field rules. */
export function quantityValue(q: string): number {
    const [, amount, suffix] = /^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/.exec(q) ?? [];
    const unit = quantityUnits[suffix ?? ""];
    if (amount === undefined || unit === undefined) throw new Error(`not a quantity: ${q}`);
    return Number(amount) * unit;
}
