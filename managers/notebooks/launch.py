"""The bash script a notebook session's job runs: Jupyter, reachable only through the portal.

``batch_script`` is called by ``managers/notebooks/operations.start`` in her agent; the
result goes to ``sbatch`` on standard input. Resources, job name, output file and
``--chdir`` are sbatch arguments, so the script has no ``#SBATCH`` lines.

How the pieces fit (the Jupyter side is scripts/onestop_jupyter.py, installed into the
shared environment by scripts/install-jupyter.sh):

- Jupyter listens on the address Slurm knows the node by (``NodeAddr``), because that
  is the one address the portal will connect to: the monitor checks server.json's
  host against it. ``port=0`` lets the kernel pick a free port, ``port_retries=0``
  keeps Jupyter from wandering off to another one.
- Authentication is the session's secret in a header the proxy adds
  (``SecretHeaderIdentityProvider``, reading ``<session_dir>/secret``). Jupyter's own
  token is empty, so nothing secret is ever put into a page, a URL or the
  environment; its XSRF and Origin checks stay on.
- ``allow_remote_access``: requests arrive with the portal's Host header (the proxy
  keeps it, so Jupyter's Origin check compares the browser's Origin with the host the
  browser used). The secret header is what keeps anyone else out, DNS rebinding too.
- The server extension writes ``server.json`` once the socket is listening.
- Kernel WebSockets send each message at once (``NoDelayKernelConnection``), so a
  cell's answer does not wait 40 ms on Nagle's algorithm.
- The environment is read-only for her, so JupyterLab's extension manager is the
  read-only one; compute nodes often cannot reach the internet, so JupyterLab does
  not fetch news or look for updates (no prompts that lead nowhere).
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

__all__ = ["batch_script"]

SESSION_ID = re.compile(r"^[0-9a-f]{16}$")

_TEMPLATE = r"""#!/bin/bash
# Onestop notebook session @ID@: Jupyter@INTERFACE@, reachable only through the portal.
set -euo pipefail
umask 077
session_dir=@SESSION_DIR@
jupyter_env=@JUPYTER_ENV@
folder=@FOLDER@

home=$(getent passwd "$(id -u)" | cut -d: -f6)
export HOME="$home"
# Kernels and terminals find Jupyter's python first; pip falls back to --user there.
export PATH="$jupyter_env/bin:$PATH"
# Nothing of an earlier run may be taken for this one's server.
rm -f "$session_dir/server.json"

# The address Slurm has for this node (NodeAddr): the portal connects there and
# nowhere else. A name that is only in /etc/hosts is resolved as a fallback.
node="${SLURMD_NODENAME:-$(hostname -s)}"
addr=$(scontrol show node -o "$node" 2>/dev/null | tr ' ' '\n' \
    | sed -n 's/^NodeAddr=//p' | head -n 1 || true)
if [[ -z $addr ]]; then
    addr=$(getent hosts "$node" | awk '{print $1; exit}' || true)
fi
if [[ -z $addr ]]; then
    echo "onestop: cannot find the address of node $node; the session cannot start." >&2
    exit 1
fi

# Open in the folder asked for (a path inside her home; otherwise her home itself).
relative=""
case "$folder" in
    "$home" | "$home/") ;;
    "$home"/*) relative="${folder#"$home"/}" ;;
    *) echo "onestop: $folder is not inside $home; opening $home instead." >&2 ;;
esac
relative="${relative%/}"
if [[ -n $relative && ! -d "$home/$relative" ]]; then
    echo "onestop: $folder is not a folder; opening $home instead." >&2
    relative=""
fi
default_url=@HOME_PAGE@
if [[ -n $relative ]]; then
    default_url=@TREE_PAGE@$("$jupyter_env/bin/python" -c \
        'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$relative")
fi

echo "onestop: starting Jupyter@INTERFACE@ on $addr (node $node)"
exec "$jupyter_env/bin/jupyter" @COMMAND@ \
    --no-browser \
    --ServerApp.ip="$addr" \
    --ServerApp.port=0 \
    --ServerApp.port_retries=0 \
    --ServerApp.allow_remote_access=True \
    --ServerApp.base_url=@BASE_URL@ \
    --ServerApp.root_dir="$home" \
    --FileContentsManager.preferred_dir="$relative" \
    --@APP@.default_url="$default_url" \
    --LabApp.extension_manager=readonly \
    --LabApp.news_url=None \
    --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
    --ServerApp.identity_provider_class=onestop_jupyter.SecretHeaderIdentityProvider \
    --ServerApp.kernel_websocket_connection_class=onestop_jupyter.NoDelayKernelConnection \
    --SecretHeaderIdentityProvider.secret_file="$session_dir/secret" \
    --ServerApp.jpserver_extensions=onestop_jupyter=True
"""


def batch_script(
    session_id: str,
    session_dir: str,
    interface: Literal["lab", "notebook"],
    folder: str,
    jupyter_env: str,
) -> str:
    """The whole script, every value quoted for bash.

    ``folder`` is a full path inside her home (the operation has checked it); the
    script falls back to her home if it is not a folder any more when the job starts.
    Raises ``ValueError`` for an id or interface the portal never makes.
    """
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"{session_id!r} is not a notebook session id")
    if interface not in ("lab", "notebook"):
        raise ValueError(f"{interface!r} is not a Jupyter interface")
    for name, path in (("session_dir", session_dir), ("jupyter_env", jupyter_env)):
        if not path.startswith("/") or "\x00" in path or "\n" in path:
            raise ValueError(f"{name} must be a full path, got {path!r}")
    values = {
        "@ID@": session_id,
        "@INTERFACE@": "Lab" if interface == "lab" else " Notebook",
        "@COMMAND@": "lab" if interface == "lab" else "notebook",
        "@SESSION_DIR@": shlex.quote(session_dir),
        "@JUPYTER_ENV@": shlex.quote(jupyter_env),
        "@FOLDER@": shlex.quote(folder),
        "@BASE_URL@": f"/notebooks/{session_id}/",
        # The interface's own default page wins over ServerApp's, so it is set there.
        "@APP@": "LabApp" if interface == "lab" else "JupyterNotebookApp",
        "@HOME_PAGE@": "/lab" if interface == "lab" else "/tree",
        "@TREE_PAGE@": "/lab/tree/" if interface == "lab" else "/tree/",
    }
    script = _TEMPLATE
    for marker, value in values.items():
        script = script.replace(marker, value)
    return script
