import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";

export interface IngressCertificateArgs {
    /** The stack's `ingress`: the host the certificate names and the Secret it is written to. */
    ingress: StackConfig["ingress"];
    /** The ClusterIssuer that signs it (CertManager.ingressIssuer). */
    issuer: pulumi.Input<string>;
    /** The app namespace, as the runtime's Output: the Certificate and its Secret live there. */
    appNamespace: pulumi.Input<string>;
    /** cert-manager's chart when this stack installs it: the Certificate waits for its CRDs and webhook. */
    certManagerReady: pulumi.Resource[];
}

/**
 * The ingress certificate `x1agent-tls`: cert-manager writes the key pair for
 * `ingress.host` into `ingress.tlsSecretName`, which the Ingress serves. One
 * explicit Certificate (rather than an ingress-shim annotation) so it exists
 * for every issuer type, is checked by the schema tier, and has one owner.
 */
export class IngressCertificate extends pulumi.ComponentResource {
    /** The Secret the Ingress references. */
    public readonly secretName: pulumi.Output<string>;

    constructor(name: string, args: IngressCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:IngressCertificate", name, args, opts);
        const { ingress } = args;
        new k8s.apiextensions.CustomResource(
            `${name}-certificate`,
            {
                apiVersion: "cert-manager.io/v1",
                kind: "Certificate",
                metadata: { name: "x1agent-tls", namespace: args.appNamespace, labels: commonLabels("cert-manager") },
                spec: {
                    secretName: ingress.tlsSecretName,
                    dnsNames: [ingress.host],
                    issuerRef: { name: args.issuer, kind: "ClusterIssuer", group: "cert-manager.io" },
                },
            },
            // See CertManager for how this waits for the CRDs and the webhook in preview and up.
            { parent: this, dependsOn: args.certManagerReady },
        );
        this.secretName = pulumi.output(ingress.tlsSecretName);
        this.registerOutputs({ secretName: this.secretName });
    }
}
