"""Telling her a transfer ended: a notification (the bell, kept until seen) and, if
she asked, an e-mail, through the portal's shared notifier (app/notify)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.logs import get_logger
from app.notify.mailer import MailError
from app.notify.store import NewNotification
from managers.data.progress import TransferState
from wrappers.data.views import TransferView

log = get_logger("onestop.data")

_sending: set[asyncio.Task[None]] = set()


def words(view: TransferView) -> tuple[str, str]:
    """(title, sentence) for the bell and the e-mail."""
    what = "import" if view.direction == "import" else "export"
    where = f"from {view.summary}" if view.direction == "import" else f"to {view.summary}"
    if view.state is TransferState.DONE:
        checked = " Every file was checked." if view.verified else ""
        place = f" into {view.local_path}" if view.direction == "import" else ""
        return f"Your {what} is done", f"The {what} {where}{place} finished.{checked}"
    if view.state is TransferState.CANCELLED:
        return f"Your {what} was cancelled", f"The {what} {where} was cancelled."
    reason = view.message or "it stopped with an error"
    return (
        f"Your {what} failed",
        f"The {what} {where} did not finish: {reason} You can retry it on the Data page.",
    )


async def tell_the_end(services: Any, view: TransferView, email: str) -> None:
    """Once per transfer and ending (a retried transfer's new end is told again)."""
    notifier = services.notifier
    if notifier is None or view.state is TransferState.CANCELLED:
        return  # she cancelled it herself
    title, sentence = words(view)
    subject = f"transfer:{view.id}:{view.retries}"
    recorded = await notifier.store.record(
        NewNotification(view.owner, "transfer-ended", subject, title, sentence, "/data")
    )
    if recorded is None:
        return
    await notifier.announce(view.owner)
    if email and notifier.mailer.enabled:
        link = f"{notifier.public_url}/data"
        text = (
            f"Hello,\n\n{sentence}\n\nYour transfers:\n{link}\n\n"
            "You get this message because you asked the cluster portal to e-mail\n"
            f"{email} when this transfer ends.\n"
        )
        task = asyncio.ensure_future(_mail(notifier.mailer, email, title, text, view.id))
        _sending.add(task)
        task.add_done_callback(_sending.discard)


async def _mail(mailer: Any, to: str, subject: str, text: str, transfer_id: str) -> None:
    try:
        await mailer.send(to, subject, text)
    except MailError as error:
        log.warning("data_mail_failed", transfer=transfer_id, detail=error.detail)
