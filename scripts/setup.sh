#!/usr/bin/env bash
# The README's first command: prepares everything on a fresh clone, starts the
# local cluster, then runs the main job, `up` of the embedded default `local`
# stack (the whole platform, every add-on from its upstream chart, no cloud
# account, a local file state backend) against it, and prints what it did and
# what is ready. Safe to run again: the toolchain, node_modules and the
# running cluster are reused, and the second `up` reports no changes.
#
# Without network the charts come from a mirror: X1_CHART_MIRROR names a
# folder of packaged charts or a Helm repository URL (README "Helm charts and
# air-gapped sites"). X1_SETUP_SKIP_UP=1 stops after the set-up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$SECONDS
bash scripts/toolchain.sh
tc="${X1_TOOLCHAIN_DIR:-$root/.pulumi-toolchain}"
# shellcheck disable=SC1091
source "$tc/env"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
echo "[setup] ready in $((SECONDS - start))s" >&2
[ "${X1_SETUP_SKIP_UP:-}" = 1 ] && exit 0

echo "[setup] starting the local cluster (npm run cluster -- up)" >&2
bash scripts/cluster.sh up
echo "[setup] running the local stack against it" >&2
bash scripts/with-toolchain.sh tsx runtime/cli.ts up local

# What is ready, as the API server reports it (the stack's kubeconfig and context).
kube() { "$tc/bin/kubectl" --kubeconfig "$root/.x1/cluster/kubeconfig" --context x1agent-local "$@"; }
# report KIND LABEL JSONPATH: the JSONPATH prints "<name> <state>" per object; a
# state of True (a condition) or n/n (ready/desired replicas) is ready.
report() {
  kube get "$1" -A -o jsonpath="$3" | awk -v label="$2" '
    NF == 0 { next }
    { total++; split($2, r, "/") }
    $2 == "True" || (r[2] != "" && r[1] == r[2]) { ready++; next }
    { waiting = waiting "\n    not yet: " $0 }
    END { printf "  %d/%d %s%s\n", ready, total, label, waiting }'
}
echo "ready on x1agent-local:"
report crd "CRDs established" '{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Established")].status}{"\n"}{end}'
report deploy "Deployments available" '{range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{.status.conditions[?(@.type=="Available")].status}{"\n"}{end}'
report sts "StatefulSets ready" '{range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{.status.readyReplicas}/{.spec.replicas}{"\n"}{end}'
echo "[setup] done in $((SECONDS - start))s; kubectl: $tc/bin/kubectl --kubeconfig .x1/cluster/kubeconfig --context x1agent-local get deploy,sts -A" >&2
