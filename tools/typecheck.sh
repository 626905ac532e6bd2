#!/usr/bin/env bash
# mypy --strict (root pyproject config) over each package in its own run, the services
# through their own `make build`: packages share
# module names such as tests' conftest.py, which one run would report as duplicates.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The chaos suite imports its helper modules by name (its conftest puts its directory on
# sys.path, as pytest runs it); mypy finds them the same way.
export MYPYPATH=tools/chaos
GROUPS_=(
  "apis/stubs/python/ai apis/tests"
  "backend/libs/python/contracts"
  "backend/libs/python/status"
  "backend/libs/python/telemetry"
  "backend/libs/python/testing"
  "client-apps/cli"
  "client-apps/console/tests"
  "tools/bench tools/ci tools/tests"
  "tools/chaos"
  "tools/oci"
  "tools/bazel"
)
failed=()
for group in "${GROUPS_[@]}"; do
  # shellcheck disable=SC2086
  if ! "$ROOT/.venv/bin/mypy" $group; then failed+=("$group"); fi
done
# The services' own build gate (`make build`: mypy strict over the service and the stubs).
for service in backend/services/stigmer-server backend/services/agent-runner; do
  if ! make --no-print-directory -C "$service" build; then failed+=("$service (make build)"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'typecheck: mypy failed for: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "typecheck: mypy --strict clean"
