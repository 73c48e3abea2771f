#!/usr/bin/env bash
# Makes the engine available for this project: a current-LTS Node.js, the
# Pulumi CLI, the Node.js language host and the Kubernetes provider plugin, at
# the versions package.json pins ("x1agentToolchain", @pulumi/pulumi,
# @pulumi/kubernetes).
#
# For each piece, in order: use what is already installed when its version
# fits; otherwise install it the normal way (a download); where there is no
# network for that (air-gapped sites, offline CI machines), build it from its
# Go modules (toolchain/*/go.mod, hashes pinned in go.sum) through the Go
# module proxy. Results land in a cached, git-ignored folder, by default
# .pulumi-toolchain/ (override with X1_TOOLCHAIN_DIR), and are reused.
#
# Writes $TOOLCHAIN_DIR/env, which scripts/with-toolchain.sh sources.
# A user with a working `pulumi` on PATH and internet access never needs the
# Go build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tc="${X1_TOOLCHAIN_DIR:-$root/.pulumi-toolchain}"
log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

check_sources="" cluster_only=""
case "${1:-}" in
  "") ;;
  --check-sources) check_sources=1 ;;
  cluster) cluster_only=1 ;;
  -h | --help)
    echo "usage: bash scripts/toolchain.sh [cluster | --check-sources]"
    echo "  (no argument)    make the toolchain available (cached in \$X1_TOOLCHAIN_DIR, default .pulumi-toolchain/)"
    echo "  cluster          only the local cluster's binaries (etcd, control plane, kwok, KMS plugin)"
    echo "  --check-sources  download everything the offline build needs into empty temporary caches, build nothing"
    exit 0 ;;
  *) die "unknown argument '$1': run with --help" ;;
esac
[ -n "$check_sources" ] || mkdir -p "$tc/bin" "$tc/logs"

# pin SECTION KEY: "KEY": "value" inside package.json's "SECTION": { ... } (keys may contain '/').
pin() { sed -n "/\"$1\": *{/,/}/p" "$root/package.json" | sed -n "s|.*\"$2\": *\"\([^\"]*\)\".*|\1|p" | head -n1; }
node_version="$(pin x1agentToolchain node)"
pulumi_version="$(pin x1agentToolchain pulumi)"
k8s_version="$(pin x1agentToolchain kubernetesProvider)"
sdk_pin="$(pin dependencies '@pulumi/pulumi')"
k8s_sdk_pin="$(pin dependencies '@pulumi/kubernetes')"
[ -n "$node_version" ] && [ -n "$pulumi_version" ] && [ -n "$k8s_version" ] ||
  die "package.json lacks x1agentToolchain.{node,pulumi,kubernetesProvider}"
[ "$sdk_pin" = "$pulumi_version" ] ||
  die "package.json pins @pulumi/pulumi $sdk_pin but x1agentToolchain.pulumi $pulumi_version: make them equal"
[ "$k8s_sdk_pin" = "$k8s_version" ] ||
  die "package.json pins @pulumi/kubernetes $k8s_sdk_pin but x1agentToolchain.kubernetesProvider $k8s_version: make them equal"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) os=linux; arch=x64; goarch=amd64 ;;
  Linux-aarch64) os=linux; arch=arm64; goarch=arm64 ;;
  Darwin-x86_64) os=darwin; arch=x64; goarch=amd64 ;;
  Darwin-arm64) os=darwin; arch=arm64; goarch=arm64 ;;
  *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
esac

# version_ge A B: is semver A >= B (numeric major.minor.patch only)?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# Runs "$@" with a heartbeat line every 30 s, output to a log file; on failure
# prints the log's tail. Long builds must show they are alive.
with_progress() {
  local what="$1" logfile="$2"; shift 2
  local start=$SECONDS cpu_before; children_cpu_seconds; cpu_before=$cpu
  "$@" >"$logfile" 2>&1 &
  local pid=$! beat=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    local el=$((SECONDS - start))
    # Every 30 s of wall time, however late a loaded machine wakes this loop.
    if [ $((el - beat)) -ge 30 ]; then
      beat=$el
      local n; n="$(grep -c . "$logfile" 2>/dev/null || true)"
      log "  ... $what: ${el}s, ${n:-0} packages compiled so far (log: $logfile)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$logfile" >&2
    die "$what failed after $((SECONDS - start))s; full log: $logfile"
  fi
  children_cpu_seconds
  log "  $what done in $((SECONDS - start))s, $((cpu - cpu_before)) CPU-seconds"
}
# children_cpu_seconds: sets $cpu to the user+system seconds of this shell's
# finished children (bash `times`, which must run in this shell, not in $(...)).
children_cpu_seconds() {
  local f; f="$(mktemp)"
  times >"$f"
  cpu="$(tail -n1 "$f" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d\n", t }')"
  rm -f "$f"
}

# ---- Sources -----------------------------------------------------------------
# Every Go module an offline build reads is downloaded explicitly, before
# anything looks into the module cache: `go list -m -f '{{.Dir}}'` answers ""
# for a module nothing has fetched yet, which is how a warm cache once hid a
# missing download from CI. `--check-sources` runs the same downloads into
# empty temporary caches and builds nothing.
go_builds=(pulumi language-nodejs kubernetes kube-control-plane etcd kwok kms-plugin) # toolchain/<name>/go.mod
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
# The provider's main package, copied out of its module to generate its schema.
provider_sources=(main.go generate.go schema.json terraform-mapping.json)
missing=()
export GOFLAGS="-mod=readonly -buildvcs=false"
# Some pinned versions (pseudo-versions of the provider, a few helpers) are
# unknown to the public checksum database; toolchain/*/go.sum pins every
# module's hash instead, and -mod=readonly refuses anything else.
export GONOSUMDB="github.com/pulumi"

# fetch_go_modules NAME: download every module toolchain/NAME/go.mod builds
# with; on failure record which modules and how to fetch them, and return 1.
fetch_go_modules() {
  local name="$1" out mods
  if out="$(go -C "$root/toolchain/$name" mod download -x 2>&1)"; then
    log "  toolchain/$name: $(grep -c '^# get .*\.zip$' <<<"$out" || true) module zips fetched, the rest cached"
    return 0
  fi
  mods="$(grep -E '^go: ' <<<"$out" | grep -oE '[^ :]+@v[^ :/]+' | sort -u | paste -sd ' ')"
  grep -E '^go: |verifying|404|410' <<<"$out" | head -n 5 | sed 's/^/[toolchain]     /' >&2 || true
  missing+=("toolchain/$name/go.mod needs ${mods:-modules} that could not be downloaded through GOPROXY=$(go env GOPROXY); retry with: go -C toolchain/$name mod download -x")
  return 1
}
# provider_dir: the provider module's folder in the module cache (downloaded).
provider_dir() { go -C "$root/toolchain/kubernetes" list -m -f '{{.Dir}}' "$provider_module"; }

if [ -n "$check_sources" ]; then
  command -v go >/dev/null || die "--check-sources needs Go >= 1.26 (the offline build's sources are Go modules)"
  scratch="$(mktemp -d)"
  trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
  export GOMODCACHE="$scratch/gomod" GOFLAGS="$GOFLAGS -modcacherw" npm_config_cache="$scratch/npm"
  log "checking the offline build's sources into empty caches ($scratch)"
  for name in "${go_builds[@]}"; do
    t=$SECONDS
    fetch_go_modules "$name" && log "  toolchain/$name: every module downloaded in $((SECONDS - t))s"
  done
  if dir="$(provider_dir 2>/dev/null)" && [ -n "$dir" ]; then
    for f in "${provider_sources[@]}"; do
      [ -f "$dir/cmd/pulumi-resource-kubernetes/$f" ] ||
        missing+=("$provider_module lacks cmd/pulumi-resource-kubernetes/$f, which the provider build generates its schema from")
    done
  else
    missing+=("$provider_module is not in the module cache after its download")
  fi
  t=$SECONDS
  if (cd "$scratch" && npm pack --silent "node-$os-$arch@$node_version" >/dev/null 2>&1); then
    log "  npm package node-$os-$arch@$node_version fetched in $((SECONDS - t))s"
  else
    missing+=("npm package node-$os-$arch@$node_version (Node.js for machines whose own is older) could not be fetched from $(npm config get registry): check with npm view node-$os-$arch@$node_version")
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    printf '[toolchain] error: the offline build cannot be made from nothing; missing:\n' >&2
    printf '[toolchain]   - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  log "every source of the offline build resolves and downloads from nothing"
  exit 0
fi

# ---- Local Kubernetes cluster (scripts/cluster.sh) ---------------------------
# etcd, the control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), kwok and the KMS v2 test-double plugin, into
# $tc/bin. Versions are those of toolchain/<piece>/go.mod, for downloads as for
# builds. Each piece is the upstream release binary when the network allows
# (checksum-verified) and otherwise built from its pinned Go modules; the KMS
# plugin is this project's own code and always built. A piece is redone only
# when its toolchain/<piece>/ files change (pinned versions or code).
cluster_pieces=(etcd kube-control-plane kwok kms-plugin)
piece_binaries() {
  case "$1" in
    etcd) echo "etcd etcdctl" ;;
    kube-control-plane) echo "kube-apiserver kube-controller-manager kube-scheduler kubectl" ;;
    kwok) echo "kwok" ;;
    kms-plugin) echo "kms-plugin" ;;
  esac
}
# module_version PIECE MODULE: MODULE's version as toolchain/PIECE/go.mod requires it.
module_version() { sed -n "s#^[[:space:]]*\(require \)\{0,1\}$2 \(v[^ ]*\).*#\2#p" "$root/toolchain/$1/go.mod" | head -n1; }
# piece_stamp PIECE: what the cached binaries were made from.
piece_stamp() { cat "$root/toolchain/$1"/* | sha256sum | cut -c1-16; }

# download_verified URL SUMS_URL FILE: fetch URL to FILE and check it against the
# sha256 SUMS_URL publishes (a bare digest, or "digest  name" lines).
download_verified() {
  local url="$1" sums="$2" out="$3" want got
  [ -z "${X1_TOOLCHAIN_OFFLINE:-}" ] || return 1
  curl -fsSL --connect-timeout 10 --max-time 600 "$url" -o "$out" 2>/dev/null || { rm -f "$out"; return 1; }
  want="$(curl -fsSL --connect-timeout 10 --max-time 60 "$sums" 2>/dev/null | awk -v n="${url##*/}" 'NF == 1 || $2 == n { print $1; exit }')"
  got="$(sha256sum "$out" | cut -d' ' -f1)"
  [ -n "$want" ] && [ "$want" = "$got" ] || { log "  $url: checksum ${want:-missing} does not match $got; building instead"; rm -f "$out"; return 1; }
}

# download_piece PIECE VERSION: the upstream release binaries into $tc/bin.
download_piece() {
  local piece="$1" v="$2" b dl="$tc/downloads"
  rm -rf "$dl" && mkdir -p "$dl"
  case "$piece" in
    kube-control-plane)
      for b in $(piece_binaries "$piece"); do
        download_verified "https://dl.k8s.io/release/$v/bin/$os/$goarch/$b" \
          "https://dl.k8s.io/release/$v/bin/$os/$goarch/$b.sha256" "$dl/$b" || return 1
      done ;;
    etcd)
      local base="https://github.com/etcd-io/etcd/releases/download/$v" name="etcd-$v-$os-$goarch"
      local ext=tar.gz; [ "$os" = darwin ] && ext=zip
      download_verified "$base/$name.$ext" "$base/SHA256SUMS" "$dl/etcd.$ext" || return 1
      if [ "$ext" = zip ]; then unzip -q "$dl/etcd.zip" -d "$dl"; else tar -xzf "$dl/etcd.tar.gz" -C "$dl"; fi
      mv "$dl/$name/etcd" "$dl/$name/etcdctl" "$dl/" ;;
    kwok)
      local base="https://github.com/kubernetes-sigs/kwok/releases/download/$v"
      download_verified "$base/kwok-$os-$goarch" "$base/checksums.txt" "$dl/kwok" || return 1 ;;
    *) return 1 ;;
  esac
  for b in $(piece_binaries "$piece"); do chmod +x "$dl/$b" && mv "$dl/$b" "$tc/bin/$b"; done
  rm -rf "$dl"
}

# build_piece PIECE VERSION: go build from toolchain/PIECE, as the other builds.
build_piece() {
  local piece="$1" v="$2" dir="$root/toolchain/$1" ldflags="-s -w" pkgs=()
  case "$piece" in
    kube-control-plane)
      # As upstream's hack/lib/version.sh stamps it: otherwise every component reports v0.0.0.
      local minor="${v#v1.}"; minor="${minor%%.*}"
      for kv in gitVersion="$v" gitMajor=1 gitMinor="$minor" gitTreeState=archive; do
        for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do ldflags+=" -X $pkg.$kv"; done
      done
      for b in $(piece_binaries "$piece"); do pkgs+=("k8s.io/kubernetes/cmd/$b"); done ;;
    etcd) pkgs=(go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3) ;;
    kwok) pkgs=(sigs.k8s.io/kwok/cmd/kwok) ;;
    kms-plugin) pkgs=(.) ;;
  esac
  fetch_go_modules "$piece" || die "${missing[*]}"
  rm -rf "$tc/build/$piece" && mkdir -p "$tc/build/$piece"
  with_progress "$piece ${v:-(own code)}" "$tc/logs/$piece.log" \
    go build -C "$dir" -v -trimpath -ldflags "$ldflags" -o "$tc/build/$piece/" "${pkgs[@]}"
  # go build names a binary after its package path (go.etcd.io/etcd/server/v3: "server").
  if [ "$piece" = etcd ]; then mv "$tc/build/$piece/server" "$tc/build/$piece/etcd"; fi
  for b in $(piece_binaries "$piece"); do mv "$tc/build/$piece/$b" "$tc/bin/$b"; done
  rm -rf "$tc/build/$piece"
}

install_cluster() {
  mkdir -p "$tc/stamps"
  local piece v b ok
  for piece in "${cluster_pieces[@]}"; do
    case "$piece" in
      kube-control-plane) v="$(module_version "$piece" k8s.io/kubernetes)" ;;
      etcd) v="$(module_version "$piece" go.etcd.io/etcd/server/v3)" ;;
      kwok) v="$(module_version "$piece" sigs.k8s.io/kwok)" ;;
      kms-plugin) v="" ;;
    esac
    ok=1
    for b in $(piece_binaries "$piece"); do [ -x "$tc/bin/$b" ] || ok=""; done
    if [ -n "$ok" ] && [ "$(cat "$tc/stamps/$piece" 2>/dev/null)" = "$(piece_stamp "$piece")" ]; then
      log "$piece ${v:+$v }cached ($(piece_binaries "$piece"))"
      continue
    fi
    rm -f "$tc/stamps/$piece"
    if [ -n "$v" ] && download_piece "$piece" "$v"; then
      log "installed $piece $v release binaries ($(piece_binaries "$piece"))"
    else
      command -v go >/dev/null || die "$piece ${v:-} cannot be downloaded and Go is not installed to build it: install Go >= 1.26 and run again"
      log "building $piece ${v:+$v }from Go modules ($(piece_binaries "$piece"))"
      build_piece "$piece" "$v"
    fi
    piece_stamp "$piece" >"$tc/stamps/$piece"
  done
}
if [ -n "$cluster_only" ]; then
  install_cluster
  log "local cluster binaries ready in $tc/bin"
  exit 0
fi

# ---- Node.js ---------------------------------------------------------------
# The program, vitest and the deployer need a current LTS line (engines in
# package.json). Older system Node (20 is end-of-life) gets the pinned LTS from
# the npm registry's node-<os>-<arch> package, which ships the official binary.
node_fits() {
  local v; v="$("$1" --version 2>/dev/null | tr -d v)" || return 1
  case "$v" in 22.*) version_ge "$v" 22.12.0 ;; 24.* | 26.*) return 0 ;; *) return 1 ;; esac
}
node_bin=""
if [ -x "$tc/node/bin/node" ] && node_fits "$tc/node/bin/node"; then
  node_bin="$tc/node/bin"
elif command -v node >/dev/null && node_fits "$(command -v node)"; then
  node_bin="$(dirname "$(command -v node)")"
else
  log "system Node.js $(node --version 2>/dev/null || echo missing) is not a current LTS; installing Node $node_version from the npm registry"
  command -v npm >/dev/null || die "neither a Node.js >=22.12 nor npm is installed: install Node.js 24 LTS (https://nodejs.org) and run again"
  rm -rf "$tc/node.tmp" && mkdir -p "$tc/node.tmp"
  (cd "$tc/node.tmp" && npm pack --silent "node-$os-$arch@$node_version" >/dev/null) ||
    die "could not fetch node-$os-$arch@$node_version from the npm registry: install Node.js 24 LTS yourself and run again"
  tar -xzf "$tc/node.tmp"/node-*.tgz -C "$tc/node.tmp"
  rm -rf "$tc/node" && mv "$tc/node.tmp/package" "$tc/node" && rm -rf "$tc/node.tmp"
  node_fits "$tc/node/bin/node" || die "the installed Node.js at $tc/node does not run"
  node_bin="$tc/node/bin"
fi
log "node $("$node_bin/node" --version) at $node_bin"

# ---- Pulumi CLI and language host -------------------------------------------
mode=""
cli_fits() {
  local v; v="$("$1" version 2>/dev/null | tr -d v)" || return 1
  case "$v" in 3.*) version_ge "${v%%-*}" "$pulumi_version" ;; *) return 1 ;; esac
}
if [ -x "$tc/bin/pulumi" ] && cli_fits "$tc/bin/pulumi" && [ -x "$tc/bin/pulumi-language-nodejs" ]; then
  mode="$(cat "$tc/mode" 2>/dev/null || echo cached)"
elif command -v pulumi >/dev/null && cli_fits "$(command -v pulumi)" &&
  [ -x "$(dirname "$(command -v pulumi)")/pulumi-language-nodejs" ]; then
  dir="$(dirname "$(command -v pulumi)")"
  ln -sf "$dir/pulumi" "$tc/bin/pulumi"
  ln -sf "$dir/pulumi-language-nodejs" "$tc/bin/pulumi-language-nodejs"
  mode=path
  log "using pulumi $("$dir/pulumi" version) from PATH ($dir)"
else
  url="https://get.pulumi.com/releases/sdk/pulumi-v$pulumi_version-$os-$arch.tar.gz"
  if [ -z "${X1_TOOLCHAIN_OFFLINE:-}" ] && curl -fsSL --connect-timeout 10 --max-time 300 "$url" -o "$tc/pulumi.tgz" 2>/dev/null; then
    rm -rf "$tc/pulumi" && mkdir -p "$tc/pulumi" && tar -xzf "$tc/pulumi.tgz" -C "$tc/pulumi" && rm -f "$tc/pulumi.tgz"
    ln -sf "$tc/pulumi/pulumi/pulumi" "$tc/bin/pulumi"
    ln -sf "$tc/pulumi/pulumi/pulumi-language-nodejs" "$tc/bin/pulumi-language-nodejs"
    mode=download
    log "installed pulumi v$pulumi_version from get.pulumi.com"
  else
    rm -f "$tc/pulumi.tgz"
    mode=built
    command -v go >/dev/null ||
      die "pulumi v$pulumi_version is not on PATH, get.pulumi.com is out of reach, and Go is not installed to build it. Install Pulumi (https://www.pulumi.com/docs/install/) or Go >= 1.26, then run again."
    gov="$(go env GOVERSION | tr -d go)"
    version_ge "${gov%%[-a-z]*}" 1.26.0 || die "building pulumi needs Go >= 1.26; found $gov. Install a newer Go or Pulumi itself."
    log "no pulumi CLI that fits and no download: building from Go modules (first build ~10 min on 2 cores, cached afterwards)"
    fetch_go_modules pulumi && fetch_go_modules language-nodejs || die "${missing[*]}"
    with_progress "pulumi CLI v$pulumi_version" "$tc/logs/pulumi.log" \
      go build -C "$root/toolchain/pulumi" -v -trimpath -o "$tc/bin/pulumi" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    lang_version="$(sed -n 's#.*github.com/pulumi/pulumi/sdk/v3 v\([0-9.]*\).*#\1#p' "$root/toolchain/language-nodejs/go.mod" | head -n1)"
    with_progress "Node.js language host v$lang_version" "$tc/logs/language-nodejs.log" \
      go build -C "$root/toolchain/language-nodejs" -v -trimpath -o "$tc/libexec/pulumi-language-nodejs" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$lang_version" \
      github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  fi
fi
echo "$mode" >"$tc/mode"

# The offline-built language host predates runtime options in the engine's
# run request: it reads them only as flags, which engines since then no
# longer pass. A wrapper passes the project's Pulumi.yaml options
# (typescript, nodeargs) as those flags, so programs run the way Pulumi.yaml
# says (tsx, not the runtime's own ts-node) with this host as with a current one.
if [ "$mode" = built ]; then
  mkdir -p "$tc/libexec"
  if [ -f "$tc/bin/pulumi-language-nodejs" ] && ! grep -q "x1agent wrapper" "$tc/bin/pulumi-language-nodejs"; then
    mv "$tc/bin/pulumi-language-nodejs" "$tc/libexec/pulumi-language-nodejs" # layout of an older toolchain cache
  fi
  ts_option="$(sed -n 's/^ *typescript: *\(true\|false\) *$/\1/p' "$root/Pulumi.yaml" | head -n1)"
  nodeargs_option="$(sed -n 's/^ *nodeargs: *"\(.*\)" *$/\1/p' "$root/Pulumi.yaml" | head -n1)"
  {
    echo '#!/bin/sh'
    echo "# x1agent wrapper (scripts/toolchain.sh): Pulumi.yaml runtime options as the flags this host reads."
    echo "exec \"$tc/libexec/pulumi-language-nodejs\" -typescript=${ts_option:-true} \"-nodeargs=$nodeargs_option\" \"\$@\""
  } >"$tc/bin/pulumi-language-nodejs"
  chmod +x "$tc/bin/pulumi-language-nodejs"
fi
pulumi="$tc/bin/pulumi"
export PULUMI_SKIP_UPDATE_CHECK=true
log "pulumi $("$pulumi" version) ($mode)"

# ---- Kubernetes provider plugin --------------------------------------------
# The built provider stays off PATH (libexec/): the engine would otherwise
# prefer it over the registered plugin and warn on every run.
mkdir -p "$tc/libexec"
if [ -f "$tc/bin/pulumi-resource-kubernetes" ]; then # layout of an older toolchain cache
  mv "$tc/bin/pulumi-resource-kubernetes" "$tc/libexec/pulumi-resource-kubernetes"
  mv "$tc/bin/.kubernetes-version" "$tc/libexec/.kubernetes-version" 2>/dev/null || true
fi
if "$pulumi" plugin ls --json 2>/dev/null | tr -d ' \n' | grep -q "\"name\":\"kubernetes\",\"kind\":\"resource\",\"version\":\"$k8s_version\""; then
  log "kubernetes provider v$k8s_version already registered"
elif [ "$mode" != built ] && [ -z "${X1_TOOLCHAIN_OFFLINE:-}" ] &&
  "$pulumi" plugin install resource kubernetes "v$k8s_version" >"$tc/logs/plugin-install.log" 2>&1; then
  log "installed kubernetes provider v$k8s_version the normal way"
else
  command -v go >/dev/null || die "the kubernetes provider v$k8s_version cannot be downloaded and Go is not installed to build it"
  if [ ! -x "$tc/libexec/pulumi-resource-kubernetes" ] || [ "$(cat "$tc/libexec/.kubernetes-version" 2>/dev/null)" != "$k8s_version" ]; then
    log "building the kubernetes provider v$k8s_version from Go modules (first build ~8 min on 2 cores)"
    # As upstream's Makefile does: copy the provider's main package out of the
    # read-only module cache, generate its versioned embedded schema
    # (go generate), then build it against the pinned module graph.
    src="$tc/src/kubernetes"
    rm -rf "$src" && mkdir -p "$src"
    cp "$root/toolchain/kubernetes/go.mod" "$root/toolchain/kubernetes/go.sum" "$src/"
    fetch_go_modules kubernetes || die "${missing[*]}"
    mod_dir="$(provider_dir)"
    [ -n "$mod_dir" ] || die "$provider_module is not in the module cache after go mod download: run go -C toolchain/kubernetes mod download -x and read its output"
    for f in "${provider_sources[@]}"; do cp "$mod_dir/cmd/pulumi-resource-kubernetes/$f" "$src/"; done
    chmod u+w "$src"/*
    with_progress "kubernetes provider schema (go generate)" "$tc/logs/kubernetes-generate.log" \
      env -C "$src" VERSION="$k8s_version" go run generate.go
    with_progress "kubernetes provider v$k8s_version" "$tc/logs/kubernetes.log" \
      go build -C "$src" -v -trimpath -o "$tc/libexec/pulumi-resource-kubernetes" \
      -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$k8s_version" .
    echo "$k8s_version" >"$tc/libexec/.kubernetes-version"
  fi
  "$pulumi" plugin install resource kubernetes "v$k8s_version" --file "$tc/libexec/pulumi-resource-kubernetes" \
    >"$tc/logs/plugin-install.log" 2>&1 || { cat "$tc/logs/plugin-install.log" >&2; die "registering the kubernetes provider failed"; }
  log "registered kubernetes provider v$k8s_version (built from source)"
fi

install_cluster

# ---- Environment for everything else ---------------------------------------
{
  echo "# written by scripts/toolchain.sh; sourced by scripts/with-toolchain.sh"
  echo "export PATH=\"$tc/bin:$node_bin:\$PATH\""
  echo "export PULUMI_SKIP_UPDATE_CHECK=true"
  echo "export X1_TOOLCHAIN_MODE=$mode"
  echo "export X1_PULUMI_VERSION=$pulumi_version"
  # Offline builds have no cloud provider plugins (aws, gcp, azure-native
  # cannot be built here); stop the engine from trying to download them for
  # stacks that never use them.
  if [ "$mode" = built ]; then echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"; fi
} >"$tc/env"
log "ready: source $tc/env (or run commands through scripts/with-toolchain.sh)"
