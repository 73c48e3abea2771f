import { resourcePolicy } from "../lib/policy";
import { describe, isKind, meta } from "../lib/resources";
import { esoGroup } from "../lib/stores";
import { workspaceIdOf } from "../lib/names";

/**
 * A PushSecret writes a Kubernetes Secret into the backend through a store.
 * In a workspace that turns the read-only store identity into a writer any
 * agent could aim at another workspace's keys; x1agent never pushes.
 */
export const noPushSecretInWorkspaces = resourcePolicy(
    {
        name: "no-push-secret-in-workspaces",
        family: "secret-scoping",
        description: "No PushSecret in x1agent-ws-* workspace namespaces, and no ClusterPushSecret at all.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Remove the PushSecret/ClusterPushSecret; workspaces only read secrets through ExternalSecrets.\n" +
            "2. Write secrets to the backend out of band (the backend's own tooling), under x1agent/<id>/.",
    },
    (r, { report }) => {
        if (isKind(r, esoGroup, "ClusterPushSecret")) {
            report(
                `${describe(r)} pushes Secrets from many namespaces (workspaces included) into the backend: remove it; workspaces only read through ExternalSecrets`,
            );
            return;
        }
        if (!isKind(r, esoGroup, "PushSecret")) return;
        const ns = meta(r).namespace;
        if (workspaceIdOf(ns) !== undefined) {
            report(`${describe(r)} pushes a Secret from workspace namespace ${ns} into the backend: workspaces may only read secrets; remove the PushSecret`);
        }
    },
);
