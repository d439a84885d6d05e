"""The notifications tool's live event: the bell's count, on whichever page the
viewer has open."""

from __future__ import annotations

from app.realtime.render import Event, Renderer, Viewing


def render_bell(viewing: Viewing, event: Event) -> str | None:
    if event.get("user") != viewing.viewer.unix_name:
        return None
    template = viewing.templates.get_template("partials/bell.html")
    return template.render(unseen=int(event.get("unseen", 0)), oob=True)


RENDERERS = {"notifications": Renderer(render_bell)}
