"""The demo Unix people, and who belongs to which project group.

``scripts/demo-people.sh`` is the one definition of the demo users and groups
(it also runs on its own, e.g. in CI before Python is set up); ``up`` runs it so
the users exist before Slurm associations are made for them.  Slurm accounts are
then derived from the Unix groups, so the two cannot drift apart.
"""

from __future__ import annotations

import grp
import pwd
import subprocess
from pathlib import Path

from devcluster import layout
from devcluster.errors import DevclusterError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "demo-people.sh"


def ensure_people() -> str:
    """Run demo-people.sh from the checkout; without a checkout, require the groups to exist."""
    if SCRIPT.exists():
        result = subprocess.run(
            ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise DevclusterError(f"{SCRIPT} failed:\n{result.stdout}{result.stderr}")
        return "people: demo users and groups in place"
    missing = [group for group in layout.ACCOUNT_GROUPS.values() if not _group_exists(group)]
    if missing:
        raise DevclusterError(
            f"groups {', '.join(missing)} do not exist and {SCRIPT} is not here to create them; "
            "run scripts/demo-people.sh from an Onestop checkout"
        )
    return "people: demo groups exist (no checkout, demo-people.sh not run)"


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def members(group: str) -> list[str]:
    """Users in ``group``, whether listed as members or having it as primary group."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return []
    names = set(entry.gr_mem)
    names.update(user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid)
    return sorted(names)
