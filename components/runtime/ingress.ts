import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels } from "../names";
import { runtimeNames } from "./workload";

/** The cert-manager issuer that writes the ingress TLS Secret. */
export interface IssuerRef {
    kind: "ClusterIssuer" | "Issuer";
    name: pulumi.Input<string>;
}

export interface AppIngressArgs {
    /** The stack's `ingress`: host, class, annotations, the TLS Secret. */
    ingress: StackConfig["ingress"];
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /**
     * Let cert-manager's ingress-shim write `ingress.tlsSecretName` from this
     * issuer (the `cert-manager.io/cluster-issuer` or `cert-manager.io/issuer`
     * annotation). Leave unset when a Certificate for that Secret exists (the
     * cert-manager add-on's `x1agent-tls`): two owners of one Secret would fight.
     */
    issuer?: IssuerRef;
}

/**
 * The public entry point: one Ingress for `ingress.host` (`ingress.className`,
 * `ingress.annotations`) with TLS from the Secret cert-manager writes
 * (`ingress.tlsSecretName`), `/api` to the api and everything else to the web
 * app. Metrics are not routed: they stay on the Services' `metrics` port.
 */
export class AppIngress extends pulumi.ComponentResource {
    public readonly host: pulumi.Output<string>;

    constructor(name: string, args: AppIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:AppIngress", name, args, opts);
        const ing = args.ingress;
        const issuer = args.issuer;
        const backend = (service: string) => ({ service: { name: service, port: { name: "http" } } });

        new k8s.networking.v1.Ingress(
            `${name}-ingress`,
            {
                metadata: {
                    name: "x1agent",
                    namespace: args.namespace,
                    labels: commonLabels("ingress"),
                    annotations: issuer
                        ? pulumi.output(issuer.name).apply((issuerName) => ({ ...ing.annotations, [shimAnnotation[issuer.kind]]: issuerName }))
                        : ing.annotations,
                },
                spec: {
                    ...(ing.className ? { ingressClassName: ing.className } : {}),
                    tls: [{ hosts: [ing.host], secretName: ing.tlsSecretName }],
                    rules: [
                        {
                            host: ing.host,
                            http: {
                                paths: [
                                    { path: "/api", pathType: "Prefix", backend: backend(runtimeNames.api) },
                                    { path: "/", pathType: "Prefix", backend: backend(runtimeNames.app) },
                                ],
                            },
                        },
                    ],
                },
            },
            { parent: this },
        );

        this.host = pulumi.output(ing.host);
        this.registerOutputs({ host: this.host });
    }
}

const shimAnnotation = { ClusterIssuer: "cert-manager.io/cluster-issuer", Issuer: "cert-manager.io/issuer" } as const;
