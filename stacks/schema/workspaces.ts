import { z } from "zod";
import { quantity } from "./common";

/** A workspace id; its namespace is `x1agent-ws-{id}` (63 characters at most). */
export const workspaceId = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
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
    /** CIDRs agent pods may reach besides NATS, the api and DNS (e.g. a model API). */
    egressCidrs: z.array(z.cidrv4({ error: "must be an IPv4 CIDR such as 10.0.0.0/8" })).default([]),
    /**
     * Secrets this workspace's agents use. Capture mode (Tier 1): `key` in
     * x1agent-secrets. Bind mode: `remoteKey` is the path in the backend and
     * must sit under the workspace's prefix `x1agent/<id>/`.
     */
    secrets: z
        .array(
            z.strictObject({
                /** Name of the Secret materialized in the workspace namespace. */
                name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
                remoteKey: z.string().min(1),
                property: z.string().min(1).optional(),
            }),
        )
        .default([]),
});
export type Workspace = z.infer<typeof workspace>;
