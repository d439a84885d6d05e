"""The notebooks tool's live events: her sessions, as the monitor sees them
(wrappers/notebooks/monitor.py), rendered for her alone."""

from __future__ import annotations

from app.realtime.render import Event, Renderer, Viewing
from wrappers.notebooks.verbs import SessionView


def render_sessions(viewing: Viewing, event: Event) -> str | None:
    """The list, each session's own page and the dashboard card, whichever the
    viewer's page has."""
    if event.get("user") != viewing.viewer.unix_name:
        return None
    templates, csrf = viewing.templates, viewing.csrf
    sessions = [SessionView.model_validate(item) for item in event.get("sessions", [])]
    return "".join(
        [
            templates.get_template("notebooks/_sessions.html").render(
                sessions=sessions, oob=True, csrf=csrf
            ),
            templates.get_template("notebooks/_card.html").render(
                notebook_sessions=sessions, oob=True
            ),
            *(
                templates.get_template("notebooks/_session.html").render(
                    s=session, oob=True, csrf=csrf
                )
                for session in sessions
            ),
        ]
    )


RENDERERS = {"notebooks": Renderer(render_sessions)}
