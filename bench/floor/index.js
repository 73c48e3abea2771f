// The engine floor: the manifests an `up` of the bench stack rendered, fed
// back to the same engine and Kubernetes provider as plain YAML, with no
// program logic of ours: one resource registration per manifest, under the
// same type token the typed SDK classes use, and nothing else.
// bench/preview.ts copies this file into a temp project (nodejs runtime,
// plain JavaScript, no tsx) and previews it.
//
// Not k8s.yaml.v2.ConfigGroup: without a cluster the provider cannot tell
// whether ValidatingAdmissionPolicy or a custom resource is namespaced and
// refuses the group. Not k8s.yaml.ConfigGroup (v1): it adds a component per
// file and a decode call per file, which would inflate the floor.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { parseAllDocuments } = require("yaml");

const manifests = process.env.X1_BENCH_MANIFESTS;
if (!manifests) throw new Error("X1_BENCH_MANIFESTS must name the folder of rendered manifests");

function walk(dir) {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? walk(p) : /\.ya?ml$/.test(e.name) ? [p] : [];
    });
}

// `v1` is the core group: kubernetes:core/v1:Namespace; others keep their group: kubernetes:apps/v1:Deployment.
const tokenOf = (o) => `kubernetes:${o.apiVersion.includes("/") ? o.apiVersion : `core/${o.apiVersion}`}:${o.kind}`;

const provider = new k8s.Provider("floor-k8s", {
    renderYamlToDirectory: process.env.X1_BENCH_FLOOR_RENDER,
    enableServerSideApply: true,
});
for (const file of walk(manifests).sort()) {
    for (const doc of parseAllDocuments(fs.readFileSync(file, "utf8"))) {
        const o = doc.toJS();
        if (!o?.kind) continue;
        const name = [o.kind, o.metadata.namespace, o.metadata.name].filter(Boolean).join("-");
        new pulumi.CustomResource(tokenOf(o), name, o, { provider });
    }
}
