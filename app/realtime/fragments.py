"""Turns a bus event into the HTML fragment one particular viewer may see.

Rendering happens per subscriber, so whatever a viewer may not see never leaves
the server: a user's job event is only ever rendered on that user's channel.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from starlette.templating import Jinja2Templates

from app.realtime.render import Event, Renderer, Viewing
from app.security.sessions import Identity
from managers.cluster_watcher import cluster_event
from managers.scheduler import ClusterSnapshot

__all__ = ["CORE_RENDERERS", "FragmentCache", "cluster_event", "render_event"]


def render_event(
    templates: Jinja2Templates,
    viewer: Identity,
    event: Event,
    csrf: str = "",
    projects: Mapping[str, bool] | None = None,
    *,
    renderers: Mapping[str, Renderer],
) -> str | None:
    """The out-of-band swaps for ``event``, or None when it is not for this viewer:
    the renderer of the event's kind decides (the core's, or the tool's that owns it)."""
    renderer = renderers.get(str(event.get("kind", "")))
    if renderer is None:
        return None
    return renderer.render(Viewing(templates, viewer, csrf, projects), event)


def render_cluster(viewing: Viewing, event: Event) -> str | None:
    """The dashboard's cluster card: the same for everyone."""
    snapshot = ClusterSnapshot.model_validate(event["snapshot"])
    template = viewing.templates.get_template("partials/cluster.html")
    return template.render(snapshot=snapshot, oob=True)


# The core's own kind; every other one is a tool's (Tool.renderers).
CORE_RENDERERS: dict[str, Renderer] = {"cluster": Renderer(render_cluster, same_for_all=True)}


class FragmentCache:
    """Renderings shared between sockets that would produce the same HTML.

    Rendering depends only on the event and, for job events, on who is looking (name,
    form token, project rights); a person with many tabs, or everyone for a cluster
    event, then costs one rendering instead of one per socket. Bounded, oldest out.
    """

    def __init__(self, renderers: Mapping[str, Renderer], size: int = 256) -> None:
        self.renderers = renderers
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], str | None] = OrderedDict()

    def render(
        self,
        templates: Jinja2Templates,
        viewer: Identity,
        event: dict[str, Any],
        csrf: str = "",
        projects: Mapping[str, bool] | None = None,
    ) -> str | None:
        digest = event.get("digest")
        if not digest:
            return render_event(templates, viewer, event, csrf, projects, renderers=self.renderers)
        key: tuple[Any, ...] = (digest,)
        renderer = self.renderers.get(str(event.get("kind", "")))
        if renderer is None or not renderer.same_for_all:
            key += (viewer.unix_name, csrf, tuple(sorted((projects or {}).items())))
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        fragment = render_event(templates, viewer, event, csrf, projects, renderers=self.renderers)
        self._items[key] = fragment
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return fragment
