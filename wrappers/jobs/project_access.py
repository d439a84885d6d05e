"""Which projects' jobs a viewer may look at, and whether they may act on them.

Asked of policy once per page or socket: with ``project_job_view`` members read
their projects' jobs; project admins read and cancel them. The jobs pages show the
lists, and ``/ws`` subscribes the socket to those projects' channels.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from app.auth.profile import viewer_profile
from app.policy import PolicyInputError, canonical_object
from app.security.sessions import Identity
from wrappers.jobs.verbs.jobs import EVERY_OWNER


async def project_access(connection: HTTPConnection, identity: Identity) -> dict[str, bool]:
    """project -> may cancel its jobs, for each of the viewer's projects whose jobs
    policy lets them read."""
    policy = connection.app.state.policy
    access: dict[str, bool] = {}
    obj = canonical_object("job", f"{EVERY_OWNER}/all")
    for project in (await viewer_profile(connection)).projects:
        try:
            if await policy.enforce(identity.unix_name, project, obj, "read"):
                access[project] = await policy.enforce(identity.unix_name, project, obj, "cancel")
        except PolicyInputError:
            continue  # a group name policy cannot take as a domain: not a project here
    return access
