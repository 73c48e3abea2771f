/**
 * The real program (index.ts in $X1_PROGRAM_ROOT, the project root) with one
 * fault, chosen by the stack config key `policytest:fault`, injected into
 * what it registers:
 *
 * - `unscoped-store`: the ClusterSecretStore loses its spec.conditions.
 * - `plaintext-env`: the api Deployment gets an API key as a literal env value.
 * - `unknown-conditions`: the store's conditions are unknown during the
 *   preview, as when a component computes them from a resource that does
 *   not exist yet.
 * - `proxy-credentials`: the runtime ConfigMap gets a proxy URL with a
 *   user and password in it, as a hand edit or an older schema let through
 *   (the stack schema now refuses credentials inside URLs).
 * - `escape-set`: the objects of escapes.ts (docs/threat-model.md) added
 *   next to the program, rendered by their own provider.
 *
 * Everything else is the program as shipped.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { addEscapes } from "./escapes";
import { fakeApiKey, proxyWithCredentials } from "./fault-values";

const fault = new pulumi.Config("policytest").require("fault");

// A stack transformation (in-process): the newer registerResourceTransform
// needs the engine to call back into the program, which this project's
// offline language host (v3.68.0) does not support.
pulumi.runtime.registerStackTransformation((args) => {
    const props = args.props as Record<string, any>;
    if (fault === "unscoped-store" && args.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore") {
        const spec = pulumi.output(props.spec).apply(({ conditions: _dropped, ...rest }: Record<string, unknown>) => rest);
        return { props: { ...props, spec }, opts: args.opts };
    }
    if (fault === "unknown-conditions" && args.type === "kubernetes:external-secrets.io/v1:ClusterSecretStore") {
        // pulumi.unknown is what a preview sends for a value computed from a resource not created yet.
        const withUnknown = (spec: unknown) => ({ ...(spec as Record<string, unknown>), conditions: pulumi.unknown });
        const spec = pulumi.Output.isInstance(props.spec) ? props.spec.apply(withUnknown) : withUnknown(props.spec);
        return { props: { ...props, spec }, opts: args.opts };
    }
    if (fault === "plaintext-env" && args.type === "kubernetes:apps/v1:Deployment" && props.metadata?.name === "x1agent-api") {
        const spec = pulumi.output(props.spec).apply((s: Record<string, any>) => ({
            ...s,
            template: {
                ...s.template,
                spec: {
                    ...s.template.spec,
                    containers: s.template.spec.containers.map((c: Record<string, any>) =>
                        c.name === "api" ? { ...c, env: [...(c.env ?? []), { name: "ANTHROPIC_API_KEY", value: fakeApiKey }] } : c,
                    ),
                },
            },
        }));
        return { props: { ...props, spec }, opts: args.opts };
    }
    if (fault === "proxy-credentials" && args.type === "kubernetes:core/v1:ConfigMap" && props.metadata?.name === "x1agent-config") {
        const data = pulumi.output(props.data).apply((d: Record<string, string>) => ({ ...d, HTTPS_PROXY: proxyWithCredentials }));
        return { props: { ...props, data }, opts: args.opts };
    }
    return undefined;
});

// The test runs a copy of this folder from a temp dir (stack init writes a
// Pulumi.<stack>.yaml next to Pulumi.yaml), so the program is found by path.
const programRoot = process.env.X1_PROGRAM_ROOT;
if (!programRoot) throw new pulumi.RunError("X1_PROGRAM_ROOT must name the project root (the folder with the real index.ts)");
// Loaded after the transform is registered: a static import would run first.
require(path.join(programRoot, "index"));
if (fault === "escape-set") addEscapes(path.resolve(".rendered-escapes"));
