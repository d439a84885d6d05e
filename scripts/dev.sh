#!/usr/bin/env bash
# `make dev`: set everything up, then run the portal in the foreground.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export ONESTOP_LOG_JSON="${ONESTOP_LOG_JSON:-false}"
# The demo cluster's Slurm hook tells the portal at once when a job starts or ends.
export ONESTOP_SLURM__HOOK_EVENTS="${ONESTOP_SLURM__HOOK_EVENTS:-/run/onestop-slurm/events}"
# The Data tool seals saved passwords and keys with this; generated once for the demo
# and kept (a new key would make the saved ones unreadable). Production sets its own.
DATA_KEY_FILE="${DATA_KEY_FILE:-/var/lib/onestop-dev/data-secret-key}"
if [[ ! -s "$DATA_KEY_FILE" ]]; then
  mkdir -p "$(dirname "$DATA_KEY_FILE")"
  (umask 077 && openssl rand -hex 32 >"$DATA_KEY_FILE")
fi
export ONESTOP_DATA__SECRET_KEY="${ONESTOP_DATA__SECRET_KEY:-$(cat "$DATA_KEY_FILE")}"
.venv/bin/onestop db upgrade
cat <<'MSG'

  Onestop is starting at  http://127.0.0.1:8000

  Demo sign-in names (password: demo)
    alice   Alice Anderson, project chem
    bob     Bob Brown, project chem
    carol   Carol Chen, project physics
    erin    Erin Evans, portal admin
    mallory has a campus account but no cluster account

  Stop with Ctrl-C. The demo cluster keeps running: `.venv/bin/onestop devcluster down`.

MSG
exec .venv/bin/onestop serve
