import { describe, expect, it } from "vitest";
import { withoutAdmissionWebhooks } from "../../../components/addons/simulated-cluster";
import { stackConfig } from "../../../stacks/schema";

const base = {
    secrets: { tier: "kubernetes" },
    ingress: { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
};

describe("a simulated cluster (kwok nodes: no container runs)", () => {
    it("applies the charts' webhook configurations with no webhooks, and leaves every other object alone", async () => {
        const webhooks = [{ name: "webhook.cert-manager.io", failurePolicy: "Fail" }];
        const transform = (type: string) =>
            withoutAdmissionWebhooks({ type, name: "x", props: { metadata: { name: "cert-manager-webhook" }, webhooks }, opts: {}, custom: true });
        expect(await transform("kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration")).toEqual({
            props: { metadata: { name: "cert-manager-webhook" }, webhooks: [] },
            opts: {},
        });
        expect(await transform("kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration")).toMatchObject({ props: { webhooks: [] } });
        expect(await transform("kubernetes:apps/v1:Deployment")).toBeUndefined();
    });

    it("is refused for any cluster but the local one, whose webhooks must answer", () => {
        const result = stackConfig.safeParse({ ...base, cluster: { provider: "self-managed", name: "onprem", simulated: true } });
        expect(result.success).toBe(false);
        expect(result.error!.issues).toEqual([
            expect.objectContaining({
                path: ["cluster", "simulated"],
                message: expect.stringMatching(/only for the local simulated cluster, but cluster.provider is self-managed/),
            }),
        ]);
        expect(stackConfig.parse({ ...base, cluster: { provider: "local", name: "x1agent-local", simulated: true } }).cluster.simulated).toBe(true);
    });
});
