#!/usr/bin/env bash
# `make run`: start the local system, apply the examples, and run two turns of the demo agent
# in one session, shown live. The second turn refers to the first. The system stays up.
# Usage: tools/run.sh   (after `make setup`; STIGMER_HOME picks the data directory)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STIGMER="$ROOT/.venv/bin/stigmer"
[ -x "$STIGMER" ] || { echo "run: $STIGMER is missing: run 'make setup' first" >&2; exit 1; }

"$STIGMER" local up
"$STIGMER" apply -f "$ROOT/examples/"

SESSION_FILE="$(mktemp)"
trap 'rm -f "$SESSION_FILE"' EXIT

printf '\n==> turn 1: a new session on the demo instance\n'
"$STIGMER" run demo "Look around the workspace, read the hello-world skill and ask the researcher which system we run on." \
  --write-session-id "$SESSION_FILE"

printf '\n==> turn 2: the same session remembers turn 1\n'
"$STIGMER" run demo "What did you leave in the workspace during the first turn?" \
  --session "$(cat "$SESSION_FILE")"

printf '\n==> the same session in the web console (a one-time link; `stigmer local console` makes another)\n'
"$STIGMER" local console --session "$(cat "$SESSION_FILE")"

printf '\nThe local system is still running: `%s local status`; stop it with `%s local down`.\n' \
  "stigmer" "stigmer"
printf '(the stigmer command is %s; add %s to PATH or run `source .venv/bin/activate`)\n' \
  "$STIGMER" "$ROOT/.venv/bin"
