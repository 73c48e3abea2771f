#!/usr/bin/env bash
# The local Kubernetes cluster: a real control plane on loopback, with
# simulated nodes. `npm run cluster -- up|down|status|purge`.
#
# Real: etcd, kube-apiserver (RBAC and Node authorization, the default
# admission plugins including PodSecurity and ValidatingAdmissionPolicy,
# Secrets encrypted at rest through KMS v2), kube-controller-manager (with its
# development-only host-path provisioner behind the default StorageClass) and
# kube-scheduler. Simulated: kwok plays the kubelets of three nodes in three
# zones and moves pods through their lifecycle; no container runs, and there
# is no CNI (NetworkPolicies are stored, not enforced). So nothing could
# answer an admission webhook (cert-manager's, ESO's, CloudNativePG's pods
# serve nothing): the API server runs without the two webhook admission
# plugins, and what those webhooks check is not checked here. Every other
# admission step, the CRDs' schema validation included, is real. The KMS plugin is this
# project's test double (toolchain/kms-plugin).
#
# State lives in a git-ignored folder, .x1/cluster/ (X1_CLUSTER_DIR overrides
# it, so each worktree can run its own): certificates, keys, etcd's data,
# logs, pid files, the ports picked at the first `up`, and the kubeconfig
# (context x1agent-local, an admin in system:masters) that other tools use:
#   kubectl --kubeconfig .x1/cluster/kubeconfig --context x1agent-local get nodes
# `up` reuses a running cluster and keeps etcd's data across `down`/`up`;
# `purge` stops the cluster and deletes the folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${X1_CLUSTER_DIR:-$root/.x1/cluster}"
# Absolute, so that finding this cluster's processes by their arguments never
# matches another cluster whose folder ends the same way (a relative
# X1_CLUSTER_DIR=.x1/bench-cluster matched every worktree's bench cluster).
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
tc="${X1_TOOLCHAIN_DIR:-$root/.pulumi-toolchain}"
bin="$tc/bin"
context=x1agent-local
kubeconfig="$dir/kubeconfig"
# Start order; stopped in reverse.
components=(kms-plugin etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
service_cidr=10.96.0.0/16
zones=(zone-a zone-b zone-c)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }
usage() {
  cat <<EOF
usage: bash scripts/cluster.sh up|down|status|purge   (npm run cluster -- <command>)
  up      start the local cluster, or reuse the running one (prints timings)
  down    stop every process of the cluster and check that none is left; keeps its data
  status  what runs, and whether the API server is ready (exit 0 ready, 1 partly running, 3 stopped)
  purge   down, then delete $dir (etcd data, certificates, keys)
State folder: $dir (X1_CLUSTER_DIR); kubeconfig: $kubeconfig, context $context.
EOF
}

pid_of() { cat "$dir/pids/$1.pid" 2>/dev/null || true; }
# running NAME: the pid file names a live process of this cluster (every one has
# a path in this folder among its arguments, which rules out a recycled pid).
running() {
  local pid; pid="$(pid_of "$1")"
  [ -n "$pid" ] && ps -p "$pid" -o args= 2>/dev/null | grep -qF -- "$dir/"
}
kubectl_() { "$bin/kubectl" --kubeconfig "$kubeconfig" --context "$context" "$@"; }
api_ready() { [ -f "$kubeconfig" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; }

# ---- down -------------------------------------------------------------------
# stop_all: SIGTERM the clients of etcd first, then the plugin and etcd; SIGKILL
# whatever has not exited after 20 s. Only pids this cluster recorded.
stop_group() {
  local name pid waited=0 alive
  for name in "$@"; do running "$name" && kill -TERM "$(pid_of "$name")" 2>/dev/null || true; done
  while :; do
    alive=()
    for name in "$@"; do running "$name" && alive+=("$name"); done
    [ "${#alive[@]}" -eq 0 ] && break
    if [ "$waited" -ge 20 ]; then
      log "  ${alive[*]} still running after ${waited}s: SIGKILL"
      for name in "${alive[@]}"; do pid="$(pid_of "$name")"; kill -KILL "$pid" 2>/dev/null || true; done
      sleep 1
      for name in "${alive[@]}"; do running "$name" && die "$name (pid $(pid_of "$name")) survived SIGKILL"; done
      break
    fi
    sleep 0.5; waited=$((waited + 1))
  done
  for name in "$@"; do rm -f "$dir/pids/$name.pid"; done
}
stop_all() {
  [ -d "$dir/pids" ] || return 0
  stop_group kwok kube-scheduler kube-controller-manager kube-apiserver
  stop_group kms-plugin etcd
  rm -f "$dir/kms.sock"
}
# leftovers: processes of the toolchain's binaries whose arguments name this
# folder, whatever the pid files say (a check only: nothing is stopped by name).
leftovers() { pgrep -a -f -- "$dir/" 2>/dev/null | grep -F -- " $bin/" || true; }

down() {
  local t=$SECONDS
  stop_all
  local left; left="$(leftovers)"
  [ -z "$left" ] || die "processes of this cluster are still running (stop them by pid):"$'\n'"$left"
  log "stopped in $((SECONDS - t))s; no process of $dir is left (data kept; purge deletes it)"
}

# ---- status -----------------------------------------------------------------
status() {
  local name n=0 state
  for name in "${components[@]}"; do
    if running "$name"; then state="running (pid $(pid_of "$name"))"; n=$((n + 1))
    elif [ -f "$dir/pids/$name.pid" ]; then state="stopped (stale pid file)"
    else state="stopped"; fi
    printf '%-24s %s\n' "$name" "$state"
  done
  if [ "$n" -eq 0 ]; then echo "cluster: stopped ($dir)"; return 3; fi
  # shellcheck disable=SC1091
  [ -f "$dir/ports" ] && source "$dir/ports"
  if api_ready; then
    echo "API server: ready at https://127.0.0.1:${api_port:-?} ($(kubectl_ version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -n1))"
    kubectl_ get nodes -L topology.kubernetes.io/zone --no-headers 2>/dev/null | sed 's/^/  node /' || true
  else
    echo "API server: not ready"
  fi
  echo "kubeconfig: $kubeconfig (context $context)"
  [ "$n" -eq "${#components[@]}" ] && api_ready || return 1
}

# ---- up ---------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# pick_ports: the recorded ports while they are free (a restart keeps its
# kubeconfig and etcd's peer URL), fresh free ones otherwise. Fresh ones come
# from below the kernel's ephemeral range (ip_local_port_range, 32768-60999
# by default): a free port inside it can be taken as the source port of any
# outgoing connection between this check and the server's bind, which under
# load (several clusters, engines and test suites at once) made an API server
# fail with "bind: address already in use".
pick_ports() {
  local names=(etcd_port etcd_peer_port api_port kcm_port scheduler_port) name p taken=" "
  local ephemeral_low low=10000 span
  ephemeral_low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
  span=$((ephemeral_low - low))
  if [ "$span" -lt 1000 ]; then low=20000 span=30000; fi
  # shellcheck disable=SC1091
  [ -f "$dir/ports" ] && source "$dir/ports"
  for name in "${names[@]}"; do
    p="${!name:-}"
    if [ -z "$p" ] || ! port_free "$p" || [[ "$taken" == *" $p "* ]]; then
      while :; do
        p=$((low + RANDOM % span))
        port_free "$p" && [[ "$taken" != *" $p "* ]] && break
      done
    fi
    printf -v "$name" %s "$p"
    taken+="$p "
  done
  for name in "${names[@]}"; do echo "$name=${!name}"; done >"$dir/ports"
}

# new_ca NAME SUBJECT: a self-signed certificate authority.
new_ca() {
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/pki/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/pki/$1.key" -subj "$2" -days 3650 -out "$dir/pki/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}
# issue NAME SUBJECT EXTENSIONS [CA]: a key and a certificate signed by CA (default: the cluster's CA).
issue() {
  local name="$1" subject="$2" ext="$3" ca="${4:-ca}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/pki/$name.key" 2>/dev/null
  openssl req -new -key "$dir/pki/$name.key" -subj "$subject" -out "$dir/pki/$name.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' "$ext" >"$dir/pki/$name.ext"
  openssl x509 -req -in "$dir/pki/$name.csr" -CA "$dir/pki/$ca.crt" -CAkey "$dir/pki/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 365 -extfile "$dir/pki/$name.ext" -out "$dir/pki/$name.crt" 2>/dev/null
  rm -f "$dir/pki/$name.csr" "$dir/pki/$name.ext"
}
client_certs=(admin kube-controller-manager kube-scheduler kwok apiserver-etcd-client front-proxy-client)
# pki: the cluster's own CAs and certificates, made again when one is missing or
# expires within a day; the service-account signing key and the KMS key are made
# once and never replaced (a new KMS key would leave every stored Secret unreadable).
pki() {
  local c fresh=1
  command -v openssl >/dev/null || die "openssl is needed to make the cluster's certificates: install it (Debian: apt-get install openssl)"
  mkdir -p "$dir/pki" && chmod 700 "$dir/pki"
  if [ ! -f "$dir/pki/sa.key" ]; then
    openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  fi
  # The KMS test double's AES-256 key (its only key; see toolchain/kms-plugin).
  [ -f "$dir/pki/kms.key" ] || openssl rand 32 >"$dir/pki/kms.key"
  for c in ca front-proxy-ca apiserver etcd "${client_certs[@]}"; do
    openssl x509 -checkend 86400 -noout -in "$dir/pki/$c.crt" >/dev/null 2>&1 || fresh=""
  done
  if [ -z "$fresh" ]; then
    log "making the cluster's CAs and certificates ($dir/pki)"
    new_ca ca "/CN=x1agent-local-ca"
    # The aggregation layer's own CA: the API server proves itself to extension
    # API servers with it (requestheader), and they trust no other client certificate for that.
    new_ca front-proxy-ca "/CN=x1agent-local-front-proxy-ca"
    local server="extendedKeyUsage=serverAuth,clientAuth" client="extendedKeyUsage=clientAuth"
    issue apiserver "/CN=kube-apiserver" "$server
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    issue etcd "/CN=etcd" "$server
subjectAltName=IP:127.0.0.1,DNS:localhost"
    issue admin "/O=system:masters/CN=x1agent-local-admin" "$client"
    issue kube-controller-manager "/CN=system:kube-controller-manager" "$client"
    issue kube-scheduler "/CN=system:kube-scheduler" "$client"
    # kwok writes the status of every node and pod, as the kubelets it plays would (each for its own).
    issue kwok "/O=system:masters/CN=kwok" "$client"
    issue apiserver-etcd-client "/CN=kube-apiserver-etcd-client" "$client"
    issue front-proxy-client "/CN=front-proxy-client" "$client" front-proxy-ca
  fi
  chmod 600 "$dir/pki/"*.key
}

b64() { base64 <"$1" | tr -d '\n'; }
# write_kubeconfig FILE CERT: a kubeconfig for the client certificate CERT, context x1agent-local.
write_kubeconfig() {
  local file="$1" user="$2"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $context
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
  - name: $context-$user
    user:
      client-certificate-data: $(b64 "$dir/pki/$user.crt")
      client-key-data: $(b64 "$dir/pki/$user.key")
contexts:
  - name: $context
    context:
      cluster: $context
      user: $context-$user
current-context: $context
EOF
  chmod 600 "$file"
}

# start NAME ARGS...: a background process in its own session, working in the
# state folder (the KMS endpoint /proc/self/cwd/kms.sock resolves there), logging to logs/NAME.log.
start() {
  local name="$1"; shift
  local detach=(); command -v setsid >/dev/null && detach=(setsid)
  (cd "$dir" && exec "${detach[@]}" "$@") </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo "$!" >"$dir/pids/$name.pid"
}
# wait_for NAME SECONDS CHECK...: poll CHECK until it succeeds; fail (with the log's tail) when NAME exits or time runs out.
wait_for() {
  local name="$1" limit="$2"; shift 2
  local t=$SECONDS
  until "$@" >/dev/null 2>&1; do
    running "$name" || fail "$name exited" "$name"
    [ $((SECONDS - t)) -lt "$limit" ] || fail "$name not ready after ${limit}s" "$name"
    sleep 0.25
  done
}
fail() {
  log "error: $1; the end of $dir/logs/$2.log:"
  tail -n 25 "$dir/logs/$2.log" >&2 || true
  log "stopping what was started"
  stop_all
  exit 1
}

etcdctl_() {
  # shellcheck disable=SC1091
  (source "$dir/etcdctl.env" && export ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY && "$bin/etcdctl" "$@")
}

bootstrap_objects() {
  local zone i=0
  cat <<EOF
# The default StorageClass: kube-controller-manager's host-path provisioner
# (development only) makes a PersistentVolume for each claim at once.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
  for zone in "${zones[@]}"; do
    i=$((i + 1))
    cat <<EOF
---
# A node kwok plays (its annotation is what kwok manages), one per zone.
apiVersion: v1
kind: Node
metadata:
  name: $context-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $context-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: kwok
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: $zone
    type: kwok
status:
  allocatable: { cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi }
  capacity: { cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi }
EOF
  done
}

up() {
  local t0=$SECONDS name
  if [ -d "$dir/pids" ]; then
    local n=0
    for name in "${components[@]}"; do running "$name" && n=$((n + 1)); done
    if [ "$n" -eq "${#components[@]}" ] && api_ready; then
      log "already running: reusing it"
      status || true
      return 0
    fi
    if [ "$n" -gt 0 ]; then log "partly running ($n of ${#components[@]} processes): restarting it"; fi
    stop_all # also clears stale pid files
  fi
  bash "$root/scripts/toolchain.sh" cluster
  for name in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kms-plugin; do
    [ -x "$bin/$name" ] || die "$bin/$name is missing: run bash scripts/toolchain.sh cluster"
  done
  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd"
  chmod 700 "$dir" "$dir/etcd"
  pick_ports
  pki
  write_kubeconfig "$kubeconfig" admin
  for name in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$dir/$name.kubeconfig" "$name"; done
  cat >"$dir/etcdctl.env" <<EOF
ETCDCTL_ENDPOINTS=https://127.0.0.1:$etcd_port
ETCDCTL_CACERT=$dir/pki/ca.crt
ETCDCTL_CERT=$dir/pki/apiserver-etcd-client.crt
ETCDCTL_KEY=$dir/pki/apiserver-etcd-client.key
EOF

  # The EncryptionConfiguration the `local` stack outputs, and its plugin on the endpoint it names.
  local tsx="tsx"; command -v tsx >/dev/null || tsx="$root/node_modules/.bin/tsx"
  (cd "$root" && "$tsx" runtime/cli.ts encryption-config local) >"$dir/encryption.yaml" ||
    die "could not get the local stack's EncryptionConfiguration (npm run x1 -- encryption-config local)"
  local endpoint; endpoint="$(sed -n 's/^ *endpoint: *\(unix:\/\/[^ ]*\) *$/\1/p' "$dir/encryption.yaml" | head -n1)"
  [ -n "$endpoint" ] || die "the local stack's EncryptionConfiguration names no unix:// KMS endpoint ($dir/encryption.yaml)"
  local socket="${endpoint#unix://}"
  log "starting on loopback (ports: etcd $etcd_port, API server $api_port); KMS plugin on $endpoint"
  local t=$SECONDS
  start kms-plugin "$bin/kms-plugin" -listen "$endpoint" -key-file "$dir/pki/kms.key"
  wait_for kms-plugin 20 bash -c 'cd "$1" && [ -S "$2" ]' _ "$dir" "$socket"

  local pki="$dir/pki"
  start etcd "$bin/etcd" --name "$context" --data-dir "$dir/etcd" \
    --listen-client-urls "https://127.0.0.1:$etcd_port" --advertise-client-urls "https://127.0.0.1:$etcd_port" \
    --listen-peer-urls "https://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "https://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "$context=https://127.0.0.1:$etcd_peer_port" \
    --cert-file "$pki/etcd.crt" --key-file "$pki/etcd.key" --trusted-ca-file "$pki/ca.crt" --client-cert-auth \
    --peer-cert-file "$pki/etcd.crt" --peer-key-file "$pki/etcd.key" --peer-trusted-ca-file "$pki/ca.crt" --peer-client-cert-auth
  wait_for etcd 60 etcdctl_ endpoint health
  log "  etcd ready after $((SECONDS - t))s"

  # Loopback only: the `kubernetes` Service's endpoints may not name a
  # loopback address (the reconciler would fail every 10 s), and no pod runs
  # that would dial them, hence --endpoint-reconciler-type none.
  start kube-apiserver "$bin/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --etcd-servers "https://127.0.0.1:$etcd_port" \
    --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged \
    --disable-admission-plugins MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
    --service-cluster-ip-range "$service_cidr" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --encryption-provider-config "$dir/encryption.yaml" \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    --endpoint-reconciler-type none \
    --profiling=false
  wait_for kube-apiserver 180 api_ready
  log "  API server ready after $((SECONDS - t))s"

  local kc="$dir/kube-controller-manager.kubeconfig" ks="$dir/kube-scheduler.kubeconfig"
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false --cluster-name "$context" \
    --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" --use-service-account-credentials \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$service_cidr" \
    --enable-hostpath-provisioner
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$ks" --authentication-kubeconfig "$ks" --authorization-kubeconfig "$ks" \
    --bind-address 127.0.0.1 --secure-port "$scheduler_port" --leader-elect=false
  start kwok "$bin/kwok" --kubeconfig "$dir/kwok.kubeconfig" --config "$root/scripts/cluster/kwok-stages.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-lease-duration-seconds 40 --cidr 10.244.0.0/16

  bootstrap_objects | kubectl_ apply -f - >"$dir/logs/bootstrap.log" 2>&1 || fail "creating the StorageClass and nodes failed" bootstrap
  wait_for kwok 120 kubectl_ wait --for=condition=Ready node --all --timeout=5s
  log "  ${#zones[@]} nodes Ready (kwok) after $((SECONDS - t))s"
  # Pods need their namespace's default ServiceAccount, which the controller manager creates.
  wait_for kube-controller-manager 60 kubectl_ get serviceaccount default -n default
  for name in kube-controller-manager kube-scheduler; do running "$name" || fail "$name exited" "$name"; done
  log "ready in $((SECONDS - t0))s: kubectl --kubeconfig $kubeconfig --context $context get nodes"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  purge) down && rm -rf "$dir" && log "deleted $dir" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
