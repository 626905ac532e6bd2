#!/usr/bin/env bash
# Installs everything the project needs, idempotently: each step checks before it acts.
# Usage: tools/setup.sh            (called by `make setup`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
UV_VERSION="0.13.9"
TEMPORAL_CLI_VERSION="1.5.1"
# Debian packages the project uses, as "command:package".
APT_NEEDS=(
  "bazel:bazel-bootstrap"
  "bwrap:bubblewrap"
  # OCI images without a Docker daemon (tools/oci, tools/ci)
  "mmdebstrap:mmdebstrap"
  "skopeo:skopeo"
  "umoci:umoci"
  "docker-registry:docker-registry"
  "htpasswd:apache2-utils"
  "openssl:openssl"
  # The console's browser tests (Playwright drives Debian's Chromium; no browser download)
  "chromium:chromium"
)

step() { printf '==> %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }

mkdir -p "$TOOLS/bin"

ensure_uv() {
  if command -v uv >/dev/null 2>&1 && [ "$(uv --version | awk '{print $2}')" = "$UV_VERSION" ]; then
    ln -sf "$(command -v uv)" "$TOOLS/bin/uv"
  elif [ -x "$TOOLS/uv/bin/uv" ] && [ "$("$TOOLS/uv/bin/uv" --version | awk '{print $2}')" = "$UV_VERSION" ]; then
    ln -sf "$TOOLS/uv/bin/uv" "$TOOLS/bin/uv"
  else
    step "installing uv $UV_VERSION from PyPI into .tools/uv"
    command -v python3 >/dev/null || fail "python3 is missing: install Python 3.11 (apt-get install python3)"
    python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS/uv" "uv==$UV_VERSION" \
      || fail "could not install uv from PyPI: check that pip can reach the package index"
    ln -sf "$TOOLS/uv/bin/uv" "$TOOLS/bin/uv"
  fi
  step "uv $("$TOOLS/bin/uv" --version | awk '{print $2}')"
}

ensure_python_env() {
  step "syncing the workspace environment from uv.lock (.venv)"
  (cd "$ROOT" && "$TOOLS/bin/uv" sync --frozen --all-packages --quiet) \
    || fail "uv sync failed: if uv.lock is stale, run 'uv lock' and commit it"
}

ensure_apt_packages() {
  local missing=() entry
  for entry in "${APT_NEEDS[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
  done
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
  [ ${#missing[@]} -eq 0 ] && { step "Debian packages present"; return; }
  step "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null || fail "apt-get not found: install ${missing[*]} with your package manager"
  $sudo apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
}

ensure_buf() {
  local dir="$ROOT/tools/buf"
  if [ -x "$dir/node_modules/.bin/buf" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    step "buf $("$dir/node_modules/.bin/buf" --version)"
    return
  fi
  command -v npm >/dev/null || fail "npm is missing: install Node.js (apt-get install nodejs npm)"
  step "installing buf from npm (tools/buf/package-lock.json)"
  # npm ci rejects this lock: the registry here lists only the Linux builds among buf's optional
  # platform packages. `install --no-save` still installs the locked versions and integrity hashes.
  (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error) || fail "npm install in tools/buf failed"
}

# The console: npm deps from its lock, then a Vite build when a source is newer than dist/.
ensure_console() {
  local dir="$ROOT/client-apps/console"
  if ! [ -x "$dir/node_modules/.bin/vite" ] || ! [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    command -v npm >/dev/null || fail "npm is missing: install Node.js >= 20.19 (apt-get install nodejs npm)"
    step "installing the console's npm packages (client-apps/console/package-lock.json)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in client-apps/console failed"
  fi
  if [ -f "$dir/dist/index.html" ] && [ -z "$(find "$dir/src" "$dir/index.html" "$dir/vite.config.ts" \
      "$dir/package-lock.json" -newer "$dir/dist/index.html" -print -quit)" ]; then
    step "console built (client-apps/console/dist)"
    return
  fi
  step "building the console (client-apps/console/dist)"
  (cd "$dir" && npm run --silent build >/dev/null) || fail "the console build failed: cd client-apps/console && npm run build"
}

# Release builds print their version; a `go install` build prints 0.0.0-DEV, so read its module version.
temporal_version_of() {
  local v
  v="$("$1" --version 2>/dev/null | awk '{print $3}')"
  if [ "$v" = "0.0.0-DEV" ] && command -v go >/dev/null; then
    v="$(go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/temporalio/cli" {sub(/^v/, "", $3); print $3}')"
  fi
  printf '%s' "$v"
}

ensure_temporal() {
  local bin="$TOOLS/bin/temporal"
  if [ -x "$bin" ] && [ "$(temporal_version_of "$bin")" = "$TEMPORAL_CLI_VERSION" ]; then
    step "temporal CLI $TEMPORAL_CLI_VERSION"
    return
  fi
  local on_path
  on_path="$(command -v temporal || true)"
  if [ -n "$on_path" ] && [ "$(temporal_version_of "$on_path")" = "$TEMPORAL_CLI_VERSION" ]; then
    step "using temporal $TEMPORAL_CLI_VERSION from $on_path"
    ln -sf "$on_path" "$bin"
    return
  fi
  command -v go >/dev/null || fail "go is missing: the Temporal CLI is built with 'go install' (Go >= 1.25 from go.dev or apt)"
  step "building the Temporal CLI $TEMPORAL_CLI_VERSION with go install (a few minutes the first time)"
  GOBIN="$TOOLS/bin" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" \
    || fail "go install of the Temporal CLI failed: check that the Go module proxy is reachable"
}

ensure_uv
ensure_apt_packages
ensure_python_env
ensure_buf
ensure_console
ensure_temporal
step "setup complete"
