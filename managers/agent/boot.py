"""Entry point of a freshly exec'd agent: ``python -m managers.agent.boot ...``.

Everything is imported here, while still root, before privileges are dropped: the
code may live where the person cannot read it.
"""

from __future__ import annotations

import sys

from managers.agent.launcher import become_user_and_serve
from managers.agent.server import log

if __name__ == "__main__":
    try:
        become_user_and_serve(sys.argv[1:])
    except BaseException as error:
        log("agent.crashed", error=repr(error))
        raise SystemExit(1) from None
