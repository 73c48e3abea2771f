/**
 * The mitigations of docs/threat-model.md that Kubernetes itself enforces,
 * shown on the local cluster's real API server: RBAC answers to
 * SubjectAccessReviews for the session and api ServiceAccounts, and the
 * creates that Pod Security `restricted` and the session
 * ValidatingAdmissionPolicy reject.
 *
 * The objects are the program's own: one workspace, rendered by the real
 * Platform component under mocks and applied with kubectl, so the test needs
 * no engine run and never touches what other tests apply. Its namespace is
 * unique per run, and so is the copy of the session admission policy (the
 * program's validations under a per-run name, bound to this namespace only),
 * so it runs beside a full platform up without sharing an object with it.
 * Nodes are simulated (kwok): admission decides here, no pod ever runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Platform } from "../../components";
import { type RegisteredResource, resetRegistered, settled, setupMocks, stackConfig } from "../helpers/mocks";
import { context, kubeconfig, kubectl, run, toolchainBin, uniqueName } from "./cluster";

const id = uniqueName("tm");
const ns = `x1agent-ws-${id}`;
const vapName = `x1agent-session-pods-${id}`;
const api = "system:serviceaccount:x1agent:x1agent-api";
const session = `system:serviceaccount:${ns}:x1agent-session`;
const sessionImage = "ghcr.io/x1agent/session:1.0.0";
const kubectlPath = `${toolchainBin}/kubectl`;

/** A rendered resource as a Kubernetes manifest. */
function manifest(r: RegisteredResource): Record<string, unknown> {
    const [, groupVersion, kind] = /^kubernetes:([^:]+):(.+)$/.exec(r.type)!;
    const apiVersion = groupVersion!.startsWith("core/") ? groupVersion!.slice("core/".length) : groupVersion!;
    return { ...r.inputs, apiVersion, kind };
}

/**
 * `kubectl auth can-i` (a SubjectAccessReview) as a user: true (yes) or false (no); anything else fails the test.
 * `pods/exec` is a subresource here (kubectl itself would read it as the pod named exec).
 */
async function canI(user: string, verb: string, resource: string, namespace: string): Promise<boolean> {
    const [type, subresource] = resource.split("/");
    const args = ["auth", "can-i", verb, type!, ...(subresource ? ["--subresource", subresource] : []), "-n", namespace, "--as", user];
    const r = await run(kubectlPath, ["--kubeconfig", kubeconfig, "--context", context, ...args]);
    const answer = r.stdout.trim();
    if (answer !== "yes" && answer !== "no") throw new Error(`kubectl auth can-i ${verb} ${resource} -n ${namespace} --as ${user}: ${r.stderr}`);
    return answer === "yes";
}

/** Creates a pod as the api (impersonated); returns the API server's answer. */
async function createPodAsApi(name: string, spec: Record<string, unknown>): Promise<{ created: boolean; message: string }> {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns }, spec };
    const r = await run(kubectlPath, ["--kubeconfig", kubeconfig, "--context", context, "create", "--as", api, "-f", "-"], { input: JSON.stringify(pod) });
    return { created: r.code === 0, message: (r.stderr || r.stdout).trim() };
}

const hardenedContainer = {
    name: "main",
    image: sessionImage,
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
    securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    },
};
const sessionPod = (extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
    serviceAccountName: "x1agent-session",
    containers: [{ ...hardenedContainer, ...container }],
    ...extra,
});

beforeAll(async () => {
    await setupMocks("cluster");
    resetRegistered();
    new Platform("x1agent", { config: stackConfig({ workspaces: [{ id }] }) });
    const all = await settled();
    // The workspace's built-in objects (its Certificate and ExternalSecrets need CRDs this test does not install).
    const builtIn = /^kubernetes:(core|rbac\.authorization\.k8s\.io|networking\.k8s\.io)\//;
    const inWorkspace = all.filter((r) => builtIn.test(r.type) && (r.inputs.metadata?.name === ns || r.inputs.metadata?.namespace === ns));
    const kinds = inWorkspace.map((r) => r.type.split(":").pop());
    // What this test relies on is what the program renders for a workspace.
    expect(kinds).toEqual(expect.arrayContaining(["Namespace", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]));
    const vap = all.find((r) => r.type.endsWith(":ValidatingAdmissionPolicy"))!;
    const vapBinding = all.find((r) => r.type.endsWith(":ValidatingAdmissionPolicyBinding"))!;
    const ours = { matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } } };
    const docs = [
        ...inWorkspace.map(manifest),
        { ...manifest(vap), metadata: { ...vap.inputs.metadata, name: vapName } },
        {
            ...manifest(vapBinding),
            metadata: { ...vapBinding.inputs.metadata, name: vapName },
            spec: { ...vapBinding.inputs.spec, policyName: vapName, ...ours },
        },
    ];
    await kubectl(
        ["apply", "--server-side", "--field-manager", "x1agent-threat-model-test", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "List", items: docs }),
    );
    // A ValidatingAdmissionPolicy takes effect once the API server has loaded it; wait until it refuses.
    for (let i = 0; i < 30; i++) {
        const probe = await createPodAsApi(`probe-${i}`, sessionPod({ serviceAccountName: "default" }));
        if (!probe.created) break;
        await kubectl(["delete", "pod", `probe-${i}`, "-n", ns, "--wait=false"]);
        await new Promise((r) => setTimeout(r, 1000));
    }
});

afterAll(async () => {
    await kubectl(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", vapName, "--ignore-not-found"]);
    await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
});

describe("RBAC, as the API server answers SubjectAccessReviews", () => {
    it("a session ServiceAccount can read no Secret and reach none indirectly, here or in x1agent-secrets", async () => {
        const asked: [string, string, string][] = [
            ["get", "secrets", ns],
            ["list", "secrets", "x1agent-secrets"],
            ["create", "pods", ns],
            ["create", "pods/exec", ns],
            ["create", "serviceaccounts/token", ns],
            ["impersonate", "serviceaccounts", ns],
            ["create", "externalsecrets.external-secrets.io", ns],
        ];
        const answers = await Promise.all(asked.map(([verb, res, where]) => canI(session, verb, res, where)));
        expect(Object.fromEntries(asked.map((a, i) => [a.join(" "), answers[i]]))).toEqual(Object.fromEntries(asked.map((a) => [a.join(" "), false])));
    });

    it("the api may start pods and jobs in the workspace, and nothing that reaches a Secret around them", async () => {
        const allowed = await Promise.all([canI(api, "create", "pods", ns), canI(api, "create", "jobs.batch", ns)]);
        expect(allowed).toEqual([true, true]);
        const denied: [string, string][] = [
            ["get", "secrets"],
            ["list", "secrets"],
            ["create", "pods/exec"],
            ["create", "pods/attach"],
            ["get", "pods/log"],
            ["patch", "pods/ephemeralcontainers"],
            ["create", "serviceaccounts/token"],
            ["impersonate", "serviceaccounts"],
            ["create", "rolebindings.rbac.authorization.k8s.io"],
            ["escalate", "roles.rbac.authorization.k8s.io"],
            ["create", "secretstores.external-secrets.io"],
            ["patch", "namespaces"],
        ];
        const answers = await Promise.all(denied.map(([verb, res]) => canI(api, verb, res, ns)));
        expect(Object.fromEntries(denied.map((d, i) => [d.join(" "), answers[i]]))).toEqual(Object.fromEntries(denied.map((d) => [d.join(" "), false])));
    });
});

describe("admission: what the api's pod-create right cannot be used for", () => {
    it("admits a session pod (the contrast: the refusals below are about the one thing each changes)", async () => {
        const r = await createPodAsApi("session-ok", sessionPod());
        expect(r.message).toMatch(/created/);
        expect(r.created).toBe(true);
    });

    it("refuses another image, another ServiceAccount and a projected token (the session ValidatingAdmissionPolicy)", async () => {
        const image = await createPodAsApi("other-image", sessionPod({}, { image: "docker.io/library/busybox:1.36" }));
        const account = await createPodAsApi("other-account", sessionPod({ serviceAccountName: "default" }));
        const token = await createPodAsApi(
            "token",
            sessionPod({ volumes: [{ name: "t", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } }] }),
        );
        expect([image.created, account.created, token.created]).toEqual([false, false, false]);
        // The program's own binding (when a platform up ran on this cluster) gives the same answer as this run's copy.
        expect(image.message).toMatch(/ValidatingAdmissionPolicy 'x1agent-session-pods[^']*'.*denied request: workspace pods may only run the session image/);
        expect(account.message).toMatch(/denied request: workspace pods must run as the ServiceAccount x1agent-session/);
        expect(token.message).toMatch(/denied request: workspace pods get no ServiceAccount token/);
    });

    it("refuses a hostPath volume and host namespaces (Pod Security restricted)", async () => {
        const hostPath = await createPodAsApi("host-path", sessionPod({ volumes: [{ name: "pods", hostPath: { path: "/var/lib/kubelet/pods" } }] }));
        const hostPid = await createPodAsApi("host-pid", sessionPod({ hostPID: true }));
        expect([hostPath.created, hostPid.created]).toEqual([false, false]);
        expect(hostPath.message).toMatch(
            /violates PodSecurity "restricted:latest": restricted volume types \(volume "pods" uses restricted volume type "hostPath"\)/,
        );
        expect(hostPid.message).toMatch(/violates PodSecurity "restricted:latest": host namespaces \(hostPID=true\)/);
    });
});
