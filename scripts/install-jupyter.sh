#!/usr/bin/env bash
# Builds the shared Jupyter environment that notebook sessions run from: a venv made
# from Debian's /usr/bin/python3 at the notebooks.jupyter_env path (default
# /opt/onestop/jupyter, or ONESTOP_NOTEBOOKS__JUPYTER_ENV, or the first argument),
# with every package pinned in scripts/jupyter-requirements.txt, plus the portal's
# own Jupyter module (scripts/onestop_jupyter.py: the identity provider that takes
# the proxy's secret header, and the server extension that writes server.json).
# World-readable, so every user's job can run it; nobody but root can change it.
#
# Idempotent and quick when done: a stamp holds the checksums of the input files and
# of this script, and nothing is installed while they match.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
ENV_DIR="${1:-${ONESTOP_NOTEBOOKS__JUPYTER_ENV:-/opt/onestop/jupyter}}"
REQUIREMENTS="$ROOT/scripts/jupyter-requirements.txt"
MODULE="$ROOT/scripts/onestop_jupyter.py"
STAMP="$ENV_DIR/.onestop-installed"

if [[ $EUID -ne 0 ]]; then
    echo "install-jupyter.sh: run as root" >&2
    exit 1
fi

wanted="$(sha256sum "$REQUIREMENTS" "$MODULE" "${BASH_SOURCE[0]}" | awk '{print $1}' | tr '\n' ' ')"
if [[ -x "$ENV_DIR/bin/jupyter-lab" ]] && [[ "$(cat "$STAMP" 2>/dev/null)" == "$wanted" ]]; then
    echo "install-jupyter.sh: $ENV_DIR up to date"
    exit 0
fi

umask 022
echo "install-jupyter.sh: building $ENV_DIR"
[[ -x "$ENV_DIR/bin/python" ]] || /usr/bin/python3 -m venv "$ENV_DIR"
"$ENV_DIR/bin/pip" install --quiet --upgrade pip
"$ENV_DIR/bin/pip" install --quiet -r "$REQUIREMENTS"
site="$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
install -m 0644 "$MODULE" "$site/onestop_jupyter.py"
# Site defaults for JupyterLab (each person can still change them): compute nodes
# often cannot reach the internet, so no news feed and no update check, and no
# question about them on every first start.
mkdir -p "$ENV_DIR/share/jupyter/lab/settings"
cat >"$ENV_DIR/share/jupyter/lab/settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false",
    "checkForUpdates": false
  }
}
JSON
# Prove the pieces the launch script relies on import together.
"$ENV_DIR/bin/python" -c 'import onestop_jupyter, jupyterlab, notebook, ipykernel'
chmod -R a+rX "$ENV_DIR"
printf '%s' "$wanted" >"$STAMP"
echo "install-jupyter.sh: done ($("$ENV_DIR/bin/jupyter-lab" --version))"
