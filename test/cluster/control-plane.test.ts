/**
 * The local cluster's control plane, as a user of `npm run cluster -- up`
 * meets it: the pinned Kubernetes release, three Ready kwok nodes in three
 * zones, workloads scheduled and made Available, claims of the default
 * StorageClass bound, and Pod Security admission enforced by the API server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, kubectlJson, uniqueName } from "./cluster";

interface Node {
    metadata: { name: string; labels: Record<string, string> };
    status: { conditions: { type: string; status: string }[] };
}
interface Pod {
    metadata: { name: string };
    spec: { nodeName?: string };
    status: { phase: string };
}

const ns = uniqueName("cp");

beforeAll(async () => {
    await kubectl(["create", "namespace", ns]);
});
afterAll(async () => {
    await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
});

describe("the local cluster's control plane", () => {
    it("runs Kubernetes v1.36.3 (the pinned release, version stamped)", async () => {
        const v = await kubectlJson<{ serverVersion: { gitVersion: string; minor: string } }>(["version"]);
        expect(v.serverVersion.gitVersion).toBe("v1.36.3");
        expect(v.serverVersion.minor).toBe("36");
    });

    it("has three Ready nodes, one in each of three zones", async () => {
        const nodes = (await kubectlJson<{ items: Node[] }>(["get", "nodes"])).items;
        expect(nodes).toHaveLength(3);
        for (const n of nodes) expect(n.status.conditions.find((c) => c.type === "Ready")?.status, n.metadata.name).toBe("True");
        expect(new Set(nodes.map((n) => n.metadata.labels["topology.kubernetes.io/zone"]))).toEqual(new Set(["zone-a", "zone-b", "zone-c"]));
    });

    it("schedules a Deployment across the zones, makes it Available, scales it and deletes its pods", async () => {
        const deployment = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "web", namespace: ns },
            spec: {
                replicas: 2,
                selector: { matchLabels: { app: "web" } },
                template: {
                    metadata: { labels: { app: "web" } },
                    spec: {
                        // The real scheduler has to honour this: one pod per zone at most.
                        topologySpreadConstraints: [
                            {
                                maxSkew: 1,
                                topologyKey: "topology.kubernetes.io/zone",
                                whenUnsatisfiable: "DoNotSchedule",
                                labelSelector: { matchLabels: { app: "web" } },
                            },
                        ],
                        containers: [{ name: "web", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "100m", memory: "64Mi" } } }],
                    },
                },
            },
        };
        await kubectl(["apply", "-f", "-"], JSON.stringify(deployment));
        await kubectl(["wait", "-n", ns, "--for=condition=Available", "deployment/web", "--timeout=120s"]);
        await kubectl(["scale", "-n", ns, "deployment/web", "--replicas=3"]);
        await kubectl(["wait", "-n", ns, "--for=jsonpath={.status.availableReplicas}=3", "deployment/web", "--timeout=120s"]);
        const pods = (await kubectlJson<{ items: Pod[] }>(["get", "pods", "-n", ns, "-l", "app=web"])).items;
        expect(pods.map((p) => p.status.phase)).toEqual(["Running", "Running", "Running"]);
        const nodes = (await kubectlJson<{ items: Node[] }>(["get", "nodes"])).items;
        const zoneOf = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels["topology.kubernetes.io/zone"]]));
        expect(new Set(pods.map((p) => zoneOf.get(p.spec.nodeName ?? "")))).toEqual(new Set(["zone-a", "zone-b", "zone-c"]));

        await kubectl(["delete", "-n", ns, "deployment/web", "--wait=true", "--timeout=120s"]);
        // kwok plays the kubelet's part of a deletion: no pod is left Terminating.
        await kubectl(["wait", "-n", ns, "--for=delete", "pod", "-l", "app=web", "--timeout=120s"]);
        expect((await kubectlJson<{ items: Pod[] }>(["get", "pods", "-n", ns])).items).toEqual([]);
    });

    it("binds a claim of the default StorageClass", async () => {
        const claim = {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: "data", namespace: ns },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        };
        await kubectl(["apply", "-f", "-"], JSON.stringify(claim));
        await kubectl(["wait", "-n", ns, "--for=jsonpath={.status.phase}=Bound", "pvc/data", "--timeout=120s"]);
        const pvc = await kubectlJson<{ spec: { storageClassName: string; volumeName: string } }>(["get", "-n", ns, "pvc/data"]);
        expect(pvc.spec.storageClassName).toBe("standard");
        const pv = await kubectlJson<{ spec: { storageClassName: string; capacity: { storage: string } } }>(["get", "pv", pvc.spec.volumeName]);
        expect(pv.spec).toMatchObject({ storageClassName: "standard", capacity: { storage: "1Gi" } });
        await kubectl(["delete", "-n", ns, "pvc/data", "--wait=true", "--timeout=60s"]);
    });

    it("enforces Pod Security admission: a privileged pod is rejected in a restricted namespace", async () => {
        const restricted = uniqueName("psa");
        await kubectl(["create", "namespace", restricted]);
        try {
            await kubectl(["label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted"]);
            const pod = {
                apiVersion: "v1",
                kind: "Pod",
                metadata: { name: "privileged", namespace: restricted },
                spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10", securityContext: { privileged: true } }] },
            };
            await expect(kubectl(["apply", "-f", "-"], JSON.stringify(pod))).rejects.toThrow(/violates PodSecurity "restricted:latest".*privileged/);
        } finally {
            await kubectl(["delete", "namespace", restricted, "--wait=false"]);
        }
    });
});
