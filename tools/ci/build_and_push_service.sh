#!/usr/bin/env bash
# Build a service's OCI image and push it to a registry, then prove the registry holds
# exactly the image that was built. No Docker daemon: skopeo talks to the registry.
#
# Usage: tools/ci/build_and_push_service.sh <service> [--registry HOST[:PORT]/PREFIX]
#          [--tag TAG] [--insecure] [--builder auto|bazel|direct] [--dry-run]
#
#   --registry  where to push; the image goes to <registry>/<service>:<tag>
#               (default: $STIGMER_REGISTRY)
#   --tag       the pushed tag (default: the first 12 characters of git HEAD)
#   --insecure  plain HTTP / no TLS verification (default: TLS verified;
#               also STIGMER_REGISTRY_INSECURE=1)
#   --builder   bazel: `bazel build //backend/services/<service>:image`; direct: the same
#               tool without Bazel; auto (default): bazel when the service declares :image
#   --dry-run   print every step and command, run none
#
# Registry credentials come from the environment, never the command line:
#   STIGMER_REGISTRY_USERNAME + STIGMER_REGISTRY_PASSWORD, or REGISTRY_AUTH_FILE (a
#   containers-auth.json, read by skopeo itself). STIGMER_REGISTRY_CERT_DIR names a directory
#   of extra CA certificates (*.crt) for a registry with a private CA.
# Prints the pushed reference with its digest on the last line of stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROG="build_and_push_service"

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }
usage() { sed -n '5,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

service=""
registry="${STIGMER_REGISTRY:-}"
tag=""
insecure="${STIGMER_REGISTRY_INSECURE:-0}"
builder="auto"
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) [ $# -ge 2 ] || die "--registry needs a value HOST[:PORT]/PREFIX"; registry="$2"; shift 2 ;;
    --registry=*) registry="${1#*=}"; shift ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a value"; tag="$2"; shift 2 ;;
    --tag=*) tag="${1#*=}"; shift ;;
    --builder) [ $# -ge 2 ] || die "--builder needs a value: auto, bazel or direct"; builder="$2"; shift 2 ;;
    --builder=*) builder="${1#*=}"; shift ;;
    --insecure) insecure=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$service" ] || die "one service at a time: got '$service' and '$1'"; service="$1"; shift ;;
  esac
done

[ -n "$service" ] || die "missing <service>: expected one of: $(ls "$ROOT/backend/services" | paste -sd " " -)"
service_dir="$ROOT/backend/services/$service"
if [[ ! "$service" =~ ^[a-z0-9][a-z0-9-]*$ ]] || [ ! -f "$service_dir/pyproject.toml" ]; then
  die "unknown service '$service': expected one of: $(ls "$ROOT/backend/services" | paste -sd " " -)"
fi
[ -n "$registry" ] || die "no registry: pass --registry HOST[:PORT]/PREFIX or set STIGMER_REGISTRY"
if [[ ! "$registry" =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)*$ ]]; then
  die "--registry '$registry' is not HOST[:PORT]/PREFIX (e.g. registry.example.com:5000/stigmer)"
fi
case "$builder" in auto|bazel|direct) ;; *) die "--builder '$builder': expected auto, bazel or direct" ;; esac
case "$insecure" in 0|1) ;; *) die "STIGMER_REGISTRY_INSECURE='$insecure': expected 0 or 1" ;; esac
if [ -z "$tag" ]; then
  tag="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || die "no --tag given and git HEAD is unreadable"
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag '$tag' is not a valid image tag"
revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || printf unknown)"
registry_host="${registry%%/*}"
ref="$registry/$service:$tag"

if [ "$builder" = "auto" ]; then
  builder="direct"
  if command -v bazel >/dev/null 2>&1 && grep -qsE 'service_image\(|name = "image"' "$service_dir/BUILD.bazel"; then
    builder="bazel"
  fi
fi

need=(skopeo python3)
[ "$builder" = "bazel" ] && need+=(bazel) || need+=(mmdebstrap bwrap)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (run 'make setup', or apt-get install $tool)"
done

# run CMD...: execute, or print it in a dry run. Timing goes to stderr so the cost stays visible.
run() {
  if [ "$dry_run" -eq 1 ]; then printf '+ %s\n' "$*" >&2; return 0; fi
  "$@"
}
timed() {
  local label="$1" start end rc=0 ms
  shift
  start=$(date +%s%N)
  "$@" || rc=$?
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf '    %s took %d.%d s\n' "$label" $((ms / 1000)) $(((ms % 1000) / 100)) >&2
  return "$rc"
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/$PROG.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# 1. Type check: the service's own `make build` (mypy --strict), when it has one.
if [ -f "$service_dir/Makefile" ] && grep -qE '^build:' "$service_dir/Makefile"; then
  step "type check: make -C backend/services/$service build"
  if ! timed "type check" run make --no-print-directory -C "$service_dir" build >&2; then
    die "type check failed: 'make build' in backend/services/$service exited non-zero; nothing was built or pushed"
  fi
else
  step "type check: backend/services/$service has no 'build:' target in a Makefile; skipped"
fi

# 2. Image: an OCI layout, whichever builder makes it.
layout_tag="latest"
if [ "$builder" = "bazel" ]; then
  step "image: bazel build //backend/services/$service:image"
  timed "image build" run bazel build "--define=STIGMER_IMAGE_REVISION=$revision" \
    "//backend/services/$service:image" >&2 || die "bazel build //backend/services/$service:image failed"
  layout="$ROOT/bazel-bin/backend/services/$service/image"
  [ "$dry_run" -eq 1 ] || layout="$(bazel info bazel-bin 2>/dev/null)/backend/services/$service/image"
else
  step "image: tools/oci (stigmer_oci) without Bazel"
  layout="$scratch/layout"
  timed "image build" run env PYTHONPATH="$ROOT/tools/oci" python3 -m stigmer_oci "$service" \
    --out "$layout" --tag "$layout_tag" --revision "$revision" >&2 || die "image build of $service failed"
fi
if [ "$dry_run" -eq 1 ]; then
  local_digest="sha256:<digest of the built manifest>"
else
  [ -f "$layout/index.json" ] || die "the build left no OCI layout at $layout"
  local_digest="$(python3 - "$layout" "$layout_tag" <<'EOF'
import json, sys
index = json.load(open(sys.argv[1] + "/index.json"))
tags = {m.get("annotations", {}).get("org.opencontainers.image.ref.name"): m["digest"] for m in index["manifests"]}
print(tags.get(sys.argv[2]) or sys.exit(f"no manifest tagged {sys.argv[2]!r} in the layout"))
EOF
)" || die "cannot read the manifest digest from $layout/index.json"
fi
step "built $service: $local_digest"

# 3. Push, preserving the digest, then read it back from the registry.
dest_opts=() read_opts=()
if [ "$insecure" -eq 1 ]; then
  dest_opts+=(--dest-tls-verify=false); read_opts+=(--tls-verify=false)
fi
if [ -n "${STIGMER_REGISTRY_CERT_DIR:-}" ]; then
  [ -d "$STIGMER_REGISTRY_CERT_DIR" ] || die "STIGMER_REGISTRY_CERT_DIR '$STIGMER_REGISTRY_CERT_DIR' is not a directory"
  dest_opts+=(--dest-cert-dir "$STIGMER_REGISTRY_CERT_DIR"); read_opts+=(--cert-dir "$STIGMER_REGISTRY_CERT_DIR")
fi
if [ -n "${STIGMER_REGISTRY_USERNAME:-}" ] || [ -n "${STIGMER_REGISTRY_PASSWORD:-}" ]; then
  [ -n "${STIGMER_REGISTRY_USERNAME:-}" ] && [ -n "${STIGMER_REGISTRY_PASSWORD:-}" ] \
    || die "set both STIGMER_REGISTRY_USERNAME and STIGMER_REGISTRY_PASSWORD, or neither"
  # The password goes into a private auth file, never into argv where `ps` would show it.
  authfile="$scratch/auth.json"
  (umask 077; printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry_host" \
    "$(printf '%s:%s' "$STIGMER_REGISTRY_USERNAME" "$STIGMER_REGISTRY_PASSWORD" | base64 -w0)" > "$authfile")
  dest_opts+=(--dest-authfile "$authfile"); read_opts+=(--authfile "$authfile")
fi

step "push: $ref"
timed "push" run skopeo copy --quiet --preserve-digests --digestfile "$scratch/pushed-digest" \
  "${dest_opts[@]}" "oci:$layout:$layout_tag" "docker://$ref" >&2 || die "skopeo copy to docker://$ref failed"
if [ "$dry_run" -eq 1 ]; then
  run skopeo inspect --format '{{.Digest}}' "${read_opts[@]}" "docker://$ref"
  printf '%s@%s\n' "$ref" "$local_digest"
  exit 0
fi
pushed_digest="$(cat "$scratch/pushed-digest")"
remote_digest="$(skopeo inspect --format '{{.Digest}}' "${read_opts[@]}" "docker://$ref")" \
  || die "skopeo inspect docker://$ref failed after the push"
if [ "$pushed_digest" != "$local_digest" ] || [ "$remote_digest" != "$local_digest" ]; then
  die "digest mismatch for $ref: built $local_digest, pushed $pushed_digest, registry reports $remote_digest"
fi
step "verified: the registry serves $remote_digest"
printf '%s@%s\n' "$ref" "$remote_digest"
