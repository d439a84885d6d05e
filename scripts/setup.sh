#!/usr/bin/env bash
# Install and start everything the portal and its tests need on a fresh Debian 12
# machine, as root: Debian packages, npm packages, the Python environment, the demo
# people, the demo Slurm cluster and the development identity provider.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

step() { printf '\n== %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
  echo "Please run this as root (it installs packages and starts the demo cluster)." >&2
  exit 1
fi

step "Debian packages"
bash scripts/install-system.sh

step "npm packages (front-end assets, identity provider, configurable-http-proxy for a benchmark)"
if ! cmp -s package-lock.json node_modules/.onestop-lock 2>/dev/null; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.onestop-lock
else
  echo "up to date"
fi

step "Python environment ($VENV)"
# Built from Debian's interpreter, world-readable, so the demo users can run it too.
stamp="$VENV/.onestop-installed"
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s pyproject.toml "$stamp" 2>/dev/null; then
  [[ -x "$VENV/bin/python" ]] || /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e '.[test]'
  cp pyproject.toml "$stamp"
else
  echo "up to date"
fi

step "Shared Jupyter environment (notebook sessions)"
bash scripts/install-jupyter.sh

step "Demo people and project groups"
bash scripts/demo-people.sh

step "The portal's service account (for the sudo-rule tests; production runs the portal as it)"
id onestop >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin onestop
echo "onestop (uid $(id -u onestop))"

step "Demo Slurm cluster"
"$VENV/bin/onestop" devcluster up

step "Development identity provider"
bash scripts/idp.sh start
