import { z } from "zod";
import { dnsLabel } from "../../policies/lib/names";

/** A Kubernetes object name (RFC 1123 label: lower case, digits, '-', at most 63). */
export const k8sName = z
    .string()
    .regex(dnsLabel, {
        error: "must be a Kubernetes name: lower-case letters, digits and '-', starting and ending with a letter or digit",
    })
    .max(63, { error: "must be at most 63 characters (a Kubernetes name)" });

/**
 * A URL that carries no credentials: `user:password@` would sit in plain
 * text in the stack file, Pulumi's state and the rendered manifests, and
 * the deployer shows it only masked. Credentials come from Secret
 * references, like every other secret field.
 */
export const credentialFreeUrl = (params?: Parameters<typeof z.url>[0]) =>
    z.url(params).refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u), {
        error: "must not carry credentials (user:password@ is stored in plain text in the stack file, the state and the manifests): write the URL without them; a credential comes only from a Secret reference",
    });

/** A Kubernetes resource quantity such as `500m`, `1`, `256Mi`, `10Gi`. */
const quantityFix = "must be a Kubernetes quantity such as 500m, 1, 256Mi or 10Gi";
export const quantity = z
    .union([z.string(), z.number()], { error: quantityFix })
    .transform((v) => String(v))
    .pipe(z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/, { error: quantityFix }));

/**
 * A reference to a key in a Kubernetes Secret. Secret fields in this schema
 * always name a Secret; they never carry the value itself, so no value is
 * ever rendered into a manifest, a state file or a log.
 */
export const secretKeyRef = z.strictObject(
    {
        /** Name of the Secret, in the namespace of the workload that reads it. */
        secretName: k8sName,
        /** Key inside the Secret. */
        key: z.string().min(1).default("value"),
    },
    {
        error: (issue) =>
            issue.code === "invalid_type"
                ? "must name a Kubernetes Secret as { secretName, key }, never carry the value itself " +
                  "(create it with: kubectl create secret generic <name> --from-literal=<key>=...)"
                : undefined,
    },
);
export type SecretKeyRef = z.infer<typeof secretKeyRef>;

/**
 * Where an upstream Helm chart comes from. Either a repository (the pinned
 * upstream by default, or a mirror: an HTTP repo or an `oci://` registry) or a
 * local path (an unpacked chart directory or a `.tgz`) for air-gapped sites.
 */
export const chartSource = z
    .strictObject({
        /** Chart repository URL (`https://...` or `oci://...`). Conflicts with `path`. */
        repo: z
            .string()
            .regex(/^(https?|oci):\/\//, { error: "must be an https://, http:// or oci:// URL" })
            .optional(),
        /** Chart name in the repository. */
        name: z.string().min(1).optional(),
        /** Exact chart version; ranges are refused so every stack is reproducible. */
        version: z
            .string()
            .regex(/^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$/, {
                error: "must be an exact chart version such as 0.18.2 (no ranges)",
            })
            .optional(),
        /** Local chart directory or .tgz, relative to the project. Conflicts with `repo`. */
        path: z.string().min(1).optional(),
    })
    .refine((c) => !(c.repo && c.path), {
        error: "set either `repo` (with name and version) or `path`, not both",
    });
export type ChartSource = z.infer<typeof chartSource>;

/** An add-on installed from an upstream chart. */
export const addon = z.strictObject({
    /** false when the add-on is already installed in this cluster ("bring your own"). */
    install: z.boolean().default(true),
    /** Overrides the pinned upstream chart source (mirror or local path). */
    chart: chartSource.optional(),
    /** Extra Helm values merged over the component's defaults. Never put secret values here. */
    values: z.record(z.string(), z.unknown()).default({}),
});
export type Addon = z.infer<typeof addon>;

export const resources = z.strictObject({
    requests: z.strictObject({ cpu: quantity, memory: quantity }),
    limits: z.strictObject({ cpu: quantity.optional(), memory: quantity }),
});
export type Resources = z.infer<typeof resources>;

export const image = z.strictObject({
    /** Repository without registry, e.g. `x1agent/api`; `images.registry` is prefixed. */
    repository: z.string().min(1),
    tag: z.string().min(1),
    /** Optional digest (`sha256:...`); pins the image when set. */
    digest: z
        .string()
        .regex(/^sha256:[a-f0-9]{64}$/, { error: "must be sha256:<64 hex digits>" })
        .optional(),
});
export type Image = z.infer<typeof image>;

/**
 * The `when` of a refinement that compares keys of one object: it runs as
 * long as the keys it reads parsed, whatever else in the object is wrong (zod
 * skips a refinement on an object with any issue otherwise). A key is a
 * name or a dotted path (`bundled.enabled`): an issue inside it, or on a
 * mapping that holds it, stops the rule.
 */
export function whenValid(...keys: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
    const paths = keys.map((k) => k.split("."));
    const within = (inner: string[], outer: string[]) => outer.every((p, i) => inner[i] === p);
    return {
        // An issue with an empty path is about the object itself (not a mapping at all): then there are no keys to compare.
        when: (payload) =>
            payload.issues.every((issue) => {
                const at = (issue.path ?? []).map(String);
                return at.length > 0 && !paths.some((p) => within(at, p) || within(p, at));
            }),
    };
}

export const hpa = z
    .strictObject({
        enabled: z.boolean().default(false),
        minReplicas: z.number().int().min(1).default(2),
        maxReplicas: z.number().int().min(1).default(5),
        targetCPUUtilization: z.number().int().min(1).max(100).default(70),
    })
    .refine((h) => h.maxReplicas >= h.minReplicas, {
        path: ["maxReplicas"],
        error: "must be at least minReplicas: raise maxReplicas or lower minReplicas",
        ...whenValid("minReplicas", "maxReplicas"),
    });
