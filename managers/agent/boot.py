"""Entry point of a freshly exec'd agent: ``python -m managers.agent.boot ...``.

Everything is imported here, while still root, before privileges are dropped: the
code may live where the person cannot read it.
"""

from __future__ import annotations

import os
import sys

from managers.agent.launcher import become_user_and_serve
from managers.agent.server import log
from managers.logs import configure_logging

if __name__ == "__main__":
    configure_logging()  # JSON lines on stderr: the agent's log file
    try:
        become_user_and_serve(sys.argv[1:])
    except BaseException as error:
        log.error("agent.crashed", agent_uid=os.getuid(), error=repr(error))
        raise SystemExit(1) from None
