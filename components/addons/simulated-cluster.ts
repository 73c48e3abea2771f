import type * as pulumi from "@pulumi/pulumi";

/** The admission webhook configurations an add-on chart installs (cert-manager, ESO and CloudNativePG each ship both kinds or one). */
const webhookConfigurationTypes = new Set([
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
]);

/**
 * For a simulated cluster only (`cluster.simulated`: kwok nodes, where pods
 * are reported Running but no container runs): applies the add-on charts'
 * admission webhook configurations with no webhooks. The API server calls
 * every webhook a configuration lists before it admits a matching object, and
 * a webhook whose pod serves nothing fails every ClusterIssuer, Certificate,
 * store and database Cluster with `failed calling webhook`. cert-manager's
 * chart has no switch for its webhooks (failurePolicy is fixed at Fail), so
 * one transform covers every chart the same way instead of a values switch
 * per chart. The objects, the webhook Deployments and Services are still
 * applied; only the calls are gone. What the webhooks would have checked is
 * not checked on that cluster; the API server's own schema validation of the
 * custom resources still is. The program registers it stack-wide (index.ts),
 * which reaches the objects the provider registers for a chart. Never used
 * for a real cluster (validation refuses `simulated` unless
 * `cluster.provider` is `local`).
 */
export const withoutAdmissionWebhooks: pulumi.ResourceTransform = (args) => {
    if (!webhookConfigurationTypes.has(args.type)) return undefined;
    return { props: { ...args.props, webhooks: [] }, opts: args.opts };
};
