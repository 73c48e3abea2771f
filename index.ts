/**
 * The x1agent platform program: read and validate the stack's config (before
 * any resource is registered), choose where manifests go, compose the
 * platform. `pulumi up`, the deployer and the tests all run this file.
 */
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./components";
import { chartMirrorFrom } from "./components/addons/chart-source";
import { loadStackConfig, missingKubeconfig } from "./stacks/load";
import { appliesToCluster } from "./stacks/schema";

const config = loadStackConfig();
const stack = pulumi.getStack();

// No kube context or kubeconfig: nothing touches a cluster; the real provider
// renders every manifest to a directory. Otherwise: apply to that cluster.
// X1_RENDER_ROOT moves the default folder (tests and the deployer keep runs apart).
const renderRoot = process.env.X1_RENDER_ROOT ?? ".rendered";
const noKubeconfig = missingKubeconfig(config.cluster);
if (noKubeconfig) throw new Error(noKubeconfig);
const renderDir = appliesToCluster(config.cluster) ? undefined : path.resolve(config.cluster.renderDir ?? path.join(renderRoot, stack));
const kubernetes = new k8s.Provider("x1agent-k8s", {
    ...(renderDir
        ? { renderYamlToDirectory: renderDir }
        : { context: config.cluster.kubeContext, kubeconfig: config.cluster.kubeconfig && path.resolve(config.cluster.kubeconfig) }),
    enableServerSideApply: true,
});

const platform = new Platform("x1agent", { config, chartMirror: chartMirrorFrom() }, { providers: { kubernetes } });

export const tier = platform.tier;
export const storeName = platform.storeName;
export const uiMode = platform.uiMode;
export const appNamespace = platform.appNamespace;
export const url = platform.url;
export const workspaceNamespaces = platform.workspaceNamespaces;
export const stackConfig = platform.config;
/** etcd encryption: the KMS key and the command that wires it, or the API server's EncryptionConfiguration. */
export const etcdEncryption = platform.etcdEncryption;
export const manifestsDir = renderDir ?? "";
export const kubeContext = config.cluster.kubeContext ?? "";
