"""Onestop's cluster in a box: munge, MariaDB, slurmdbd, slurmctld and two slurmd
nodes on one machine, started by the project's own code for development and tests.

``main(["up"])`` is what ``onestop devcluster up`` calls; ``python -m devcluster``
does the same from a checkout.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run ``up``, ``down`` or ``status``; return the process exit code."""
    from devcluster import cluster
    from devcluster.errors import DevclusterError

    parser = argparse.ArgumentParser(
        prog="devcluster", description="Start, stop or inspect the dev Slurm cluster."
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help or a usage error: a return code, not an exit
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        if args.action == "up":
            cluster.up()
        elif args.action == "down":
            cluster.down()
        else:
            return 0 if cluster.status() else 1
    except DevclusterError as error:
        print(f"devcluster {args.action}: error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0
