"""The Data tool's live events: her transfers, as the monitor last read them
(monitor.py), rendered for her alone."""

from __future__ import annotations

from app.realtime.render import Event, Renderer, Viewing
from wrappers.data.views import TransferView


def render_transfers(viewing: Viewing, event: Event) -> str | None:
    """The transfer list of the Data page and the dashboard card, whichever her page
    has; nothing for anyone else."""
    if event.get("user") != viewing.viewer.unix_name:
        return None
    transfers = [TransferView.model_validate(item) for item in event.get("transfers", [])]
    templates = viewing.templates
    return "".join(
        [
            templates.get_template("data/_transfers.html").render(
                transfers=transfers, oob=True, csrf=viewing.csrf
            ),
            templates.get_template("data/_card.html").render(transfers=transfers, oob=True),
        ]
    )


RENDERERS = {"data": Renderer(render_transfers)}
