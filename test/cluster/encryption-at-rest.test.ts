/**
 * Secrets encrypted at rest, the prerequisite of Tier 1 (every secret value
 * sits in etcd): the local API server runs with the EncryptionConfiguration
 * the `local` stack outputs (KMS v2 through the plugin socket it names), and
 * etcd holds ciphertext, never the value. The KMS plugin is the project's
 * test double (toolchain/kms-plugin); the API server's envelope encryption
 * around it is the real one.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptionConfiguration } from "../../components/encryption/etcd-encryption";
import { validateStack } from "../../runtime/engine/project";
import { clusterDir, etcdctl, kubectl, root, run, uniqueName } from "./cluster";

const ns = uniqueName("enc");

beforeAll(async () => {
    await kubectl(["create", "namespace", ns]);
});
afterAll(async () => {
    await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
});

describe("Secrets at rest in the local cluster's etcd", () => {
    it("the API server runs with the EncryptionConfiguration the local stack outputs", () => {
        const local = validateStack("local");
        const running = readFileSync(path.join(clusterDir, "encryption.yaml"), "utf8");
        expect(running).toBe(encryptionConfiguration(local.etcdEncryption.kmsPluginEndpoint));
        expect(running).toContain("apiVersion: v2");
    });

    it("x1 encryption-config prints that document from the stack file alone, and refuses managed clusters", async () => {
        const x1 = (stack: string) =>
            run(process.execPath, ["--import", "tsx", path.join(root, "runtime", "cli.ts"), "encryption-config", stack], {
                // Never through a deployer: the cluster script asks before any service runs.
                env: { ...process.env, X1_DEPLOYER_URL: "http://127.0.0.1:9" },
            });
        const [local, prod] = await Promise.all([x1("local"), x1("prod")]);
        expect(local.code, local.stderr).toBe(0);
        expect(local.stdout).toBe(readFileSync(path.join(clusterDir, "encryption.yaml"), "utf8"));
        expect(prod.code).toBe(1);
        expect(prod.stderr).toContain("its cloud encrypts etcd (aws-kms)");
    });

    it("are stored as KMS v2 ciphertext, and the API still returns the value", async () => {
        const value = `plaintext-${uniqueName("v")}`;
        await kubectl(["create", "secret", "generic", "api-key", "-n", ns, `--from-literal=token=${value}`]);
        const raw = await etcdctl(["get", `/registry/secrets/${ns}/api-key`, "--print-value-only"]);
        expect(raw.length).toBeGreaterThan(0);
        // The envelope prefix names the provider of the local stack's document: KMS v2, plugin x1agent-kms.
        expect(raw.subarray(0, 32).toString("latin1")).toMatch(/^k8s:enc:kms:v2:x1agent-kms:/);
        expect(raw.includes(Buffer.from(value))).toBe(false);
        expect(raw.includes(Buffer.from(Buffer.from(value).toString("base64")))).toBe(false);
        const read = await kubectl(["get", "secret", "api-key", "-n", ns, "-o", "jsonpath={.data.token}"]);
        expect(Buffer.from(read, "base64").toString()).toBe(value);
    });
});
