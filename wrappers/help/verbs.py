"""The help verbs: ask, list her own, show one, reply, note, assign, change the state,
give or take back consent, the staff queue and the canned answers.

A ticket is the Casbin object ``ticket:<author>/<id>``, named by the row's real
author (never the asker), so the default rule lets each person reach only her own;
when she shares it with one of her projects the object is asked about in that
project's domain, where its members' rule lets them read it. Staff (and admins) reach
every ticket through their own rule; the queue is ``helpdesk:queue``, which only
they may read. An id that is not there is named as the asker's own and answers "no
such question". Every call is audited by the gate.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.models import utcnow
from app.notify.store import NewNotification
from app.policy.roles import MEMBER, PROJECT_ADMIN
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.descriptors import OpenFile
from app.verbs.errors import VerbFailed, VerbInvalid
from app.verbs.gate import agent_file, agent_work
from app.verbs.services import Services
from wrappers.help.mail import copy_to_desk
from wrappers.help.models import HelpImage, HelpMessage, HelpTicket
from wrappers.help.service import Help
from wrappers.help.store import HEX_ID, new_id
from wrappers.help.text import redact
from wrappers.help.views import (
    Canned,
    CannedList,
    ImageView,
    Section,
    TicketList,
    TicketView,
)

__all__ = ["VERBS"]

NAME = r"^([a-z_][a-z0-9_-]{0,31})?$"


class AskArgs(BaseModel):
    title: str = Field(default="", max_length=100_000)
    text: str = Field(default="", max_length=1_000_000)
    project: str = Field(default="", pattern=NAME)
    sections: list[Section] = Field(default_factory=list, max_length=50)
    attachments: list[str] = Field(default_factory=list, max_length=1000)
    consent: bool = False
    page: str = Field(default="", max_length=2048)


class TicketArgs(BaseModel):
    ticket_id: str = Field(pattern=HEX_ID.pattern)


class AttachmentArgs(TicketArgs):
    # Which of the question's files (its place in the list she sent).
    index: int = Field(ge=0, lt=1000)


class ScreenshotArgs(TicketArgs):
    data: bytes = Field(max_length=50 * 1024 * 1024)


class ImageArgs(TicketArgs):
    image_id: int = Field(ge=1)


class Image(BaseModel):
    media_type: str
    data: bytes


class ViewArgs(TicketArgs):
    # The page the looker opens in her view ("" for a live or partial request).
    page: str = Field(default="", max_length=2048)


class ReplyArgs(TicketArgs):
    text: str = Field(default="", max_length=1_000_000)


class StateArgs(TicketArgs):
    state: Literal["open", "waiting", "solved"]


class ConsentArgs(TicketArgs):
    consent: bool


class MailReplyArgs(BaseModel):
    token: str = Field(pattern=r"^[0-9a-f]{32}$")
    sender: str = Field(max_length=320)
    text: str = Field(default="", max_length=1_000_000)


class QueueArgs(BaseModel):
    state: Literal["", "open", "waiting", "solved"] = ""
    person: str = Field(default="", pattern=NAME)
    project: str = Field(default="", pattern=NAME)
    # Only tickets asked at least this many days ago (0: any age).
    older_than_days: int = Field(default=0, ge=0, le=3650)


def _help(services: Services) -> Help:
    return services.own(Help)


# -- targets ---------------------------------------------------------------------------


async def new_ticket(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/new"


async def her_tickets(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/all"


async def existing_ticket(args: Any, identity: Identity, services: Any) -> str | tuple[str, str]:
    """The ticket by its real author; in its project's domain when she shared it."""
    row = await _help(services).store.get(args.ticket_id)
    if row is None:
        return f"{identity.unix_name}/{args.ticket_id}"
    value = f"{row.author}/{row.id}"
    return (row.project, value) if row.project else value


async def ticket_by_token(args: Any, identity: Identity, services: Any) -> str:
    row = await _help(services).store.by_token(args.token)
    return f"{row.author}/{row.id}" if row is not None else f"{identity.unix_name}/no-such"


async def the_queue(args: Any, identity: Identity, services: Any) -> str:
    return "queue"


# -- helpers ---------------------------------------------------------------------------


def _limit(text: str, most: int, field: str, what: str) -> str:
    if len(text) > most:
        message = (
            f"{what} is {len(text):,} characters long; the help desk takes at most "
            f"{most:,}. Shorten it, or attach the rest as a file from your folders."
        )
        raise VerbInvalid(message, fields={field: message})
    return text


async def _is_staff(services: Any, identity: Identity) -> bool:
    return bool(await services.policy.enforce(identity.unix_name, "*", "helpdesk:queue", "read"))


async def _admin_may_look(services: Any, identity: Identity) -> bool:
    """The site's rule (``admins_view_without_consent``) and an admin asking."""
    if not _help(services).settings.admins_view_without_consent:
        return False
    return ("admin", "*") in await services.policy.roles_of(identity.unix_name)


async def _row(services: Any, ticket_id: str) -> HelpTicket:
    row = await _help(services).store.get(ticket_id)
    if row is None:
        raise VerbFailed("There is no such question.", "ENOENT")
    return row


async def _view(services: Any, identity: Identity, row: HelpTicket) -> TicketView:
    """The ticket with the thread the viewer may see: notes for staff only."""
    staff = await _is_staff(services, identity)
    messages = await _help(services).store.messages(row.id)
    if not staff:
        messages = [m for m in messages if m.kind != "note"]
    view = TicketView.of(row, messages)
    view.images = [
        ImageView(id=i, author=a, media_type=m, at=at)
        for i, a, m, at in await _help(services).store.images(row.id)
    ]
    view.staff_view = staff
    return view


async def _announce(services: Any, row: HelpTicket, what: str) -> None:
    await _help(services).announcer.ticket_changed(row, what)


async def _tell_her(services: Any, row: HelpTicket, message: HelpMessage) -> None:
    """A staff reply reaches her bell too (kept until she opens it)."""
    notifier = services.notifier
    if notifier is None:
        return
    recorded = await notifier.store.record(
        NewNotification(
            row.author,
            "help-reply",
            f"help:{row.id}:{message.id}",
            f"{message.author} answered your question",
            f"“{row.title[:120]}”",
            f"/help/{row.id}",
        )
    )
    if recorded is not None:
        await notifier.announce(row.author)


# -- handlers --------------------------------------------------------------------------


async def ask(args: AskArgs, identity: Identity, services: Any) -> TicketView:
    """A new question, with the sections of context she kept (secrets taken out here,
    whatever a page put in them) and references to her files."""
    help_ = _help(services)
    limits = help_.settings
    title = _limit(args.title.strip(), limits.max_title_chars, "title", "The title")
    text = _limit(args.text.strip(), limits.max_text_chars, "text", "Your question")
    if not text:
        raise VerbInvalid(
            "Say what you were trying to do and what happened.",
            fields={"text": "Say what you were trying to do and what happened."},
        )
    if not title:
        title = text.splitlines()[0][:80]
    sections = []
    for section in args.sections:
        kept = _limit(section.text, limits.max_section_chars, "sections", f"“{section.title}”")
        sections.append(Section(key=section.key, title=section.title, text=redact(kept)))
    if len(args.attachments) > limits.max_attachments:
        message = (
            f"A question takes at most {limits.max_attachments} files; "
            f"you chose {len(args.attachments)}."
        )
        raise VerbInvalid(message, fields={"attachments": message})
    attachments = []
    for path in args.attachments:
        if not path.startswith("/") or "\x00" in path or len(path) > 4096:
            raise VerbInvalid(
                f"{path[:80]!r} is not a full path to one of your files.",
                fields={"attachments": "Give full paths, starting with /."},
            )
        try:  # as her: a file she cannot reach is refused here, in the kernel's words
            await agent_work(services, identity.unix_name, "files.stat", path=path)
        except VerbFailed as error:
            message = f"{path}: {error.message}"
            raise VerbInvalid(message, fields={"attachments": message}) from error
        attachments.append(path)
    project = args.project or None
    if project is not None:
        roles = await services.policy.roles_of(identity.unix_name)
        if not any(domain == project and role in (MEMBER, PROJECT_ADMIN) for role, domain in roles):
            message = f"You are not a member of the project {project}, so you cannot share with it."
            raise VerbInvalid(message, fields={"project": message})
    row = HelpTicket(
        id=new_id(),
        author=identity.unix_name,
        title=title,
        project=project,
        consent=args.consent,
        page=args.page[:2048],
        context=json.dumps([s.model_dump() for s in sections]),
        attachments=json.dumps(attachments),
        token=new_id() + new_id(),
    )
    first = HelpMessage(ticket_id=row.id, author=identity.unix_name, kind="user", body=text)
    await help_.store.create(row, first)
    await _announce(services, row, "asked")
    await copy_to_desk(services, help_.settings, row, first, first=True)
    return await _view(services, identity, row)


async def mine(args: NoArgs, identity: Identity, services: Any) -> TicketList:
    rows = await _help(services).store.of_author(identity.unix_name)
    return TicketList(tickets=[TicketView.of(row) for row in rows])


async def show(args: TicketArgs, identity: Identity, services: Any) -> TicketView:
    return await _view(services, identity, await _row(services, args.ticket_id))


async def reply(args: ReplyArgs, identity: Identity, services: Any) -> TicketView:
    """Her answer reopens the question; a staff reply leaves it waiting for her."""
    help_ = _help(services)
    row = await _row(services, args.ticket_id)
    text = _limit(args.text.strip(), help_.settings.max_text_chars, "text", "Your reply")
    if not text:
        raise VerbInvalid("The reply is empty.", fields={"text": "Write your reply first."})
    hers = identity.unix_name == row.author
    kind = "user" if hers or not await _is_staff(services, identity) else "staff"
    state = "open" if kind == "user" else "waiting"
    message = HelpMessage(ticket_id=row.id, author=identity.unix_name, kind=kind, body=text)
    updated = await help_.store.add_message(message, state=state) or row
    await _announce(services, updated, "replied")
    await copy_to_desk(services, help_.settings, updated, message, first=False)
    if kind == "staff":
        await _tell_her(services, updated, message)
    return await _view(services, identity, updated)


async def note(args: ReplyArgs, identity: Identity, services: Any) -> TicketView:
    """A note for staff alone: she never sees it, on the page, live or by e-mail."""
    help_ = _help(services)
    row = await _row(services, args.ticket_id)
    text = _limit(args.text.strip(), help_.settings.max_text_chars, "text", "The note")
    if not text:
        raise VerbInvalid("The note is empty.", fields={"text": "Write the note first."})
    message = HelpMessage(ticket_id=row.id, author=identity.unix_name, kind="note", body=text)
    updated = await help_.store.add_message(message) or row
    await _announce(services, updated, "noted")
    return await _view(services, identity, updated)


async def mail_reply(args: MailReplyArgs, identity: Identity, services: Any) -> TicketView:
    """The help desk's e-mailed reply (the listener, as service:help-mail): taken only
    from the help desk's own address, as a staff reply she sees and is told of."""
    help_ = _help(services)
    desk = help_.settings.helpdesk_address.lower()
    if not desk or args.sender.lower() != desk:
        raise VerbFailed("Replies are taken from the help desk's address only.", "EACCES")
    row = await help_.store.by_token(args.token)
    if row is None:
        raise VerbFailed("There is no such question.", "ENOENT")
    text = _limit(args.text.strip(), help_.settings.max_text_chars, "text", "The reply")
    if not text:
        raise VerbInvalid("The reply is empty.", fields={"text": "The e-mail had no text."})
    message = HelpMessage(ticket_id=row.id, author="helpdesk", kind="staff", body=text)
    updated = await help_.store.add_message(message, state="waiting") or row
    await _announce(services, updated, "replied")
    await _tell_her(services, updated, message)
    return TicketView.of(updated)


async def _change(services: Any, identity: Identity, ticket_id: str, **changes: Any) -> TicketView:
    row = await _row(services, ticket_id)
    updated = await _help(services).store.update(row.id, **changes) or row
    await _announce(services, updated, ",".join(changes))
    return await _view(services, identity, updated)


async def assign(args: TicketArgs, identity: Identity, services: Any) -> TicketView:
    """Take the question: the asker is its assignee from now on."""
    return await _change(services, identity, args.ticket_id, assignee=identity.unix_name)


async def set_state(args: StateArgs, identity: Identity, services: Any) -> TicketView:
    return await _change(services, identity, args.ticket_id, state=args.state)


async def consent(args: ConsentArgs, identity: Identity, services: Any) -> TicketView:
    """She lets staff see what she sees, or takes it back (audited by the gate)."""
    return await _change(services, identity, args.ticket_id, consent=args.consent)


async def view(args: ViewArgs, identity: Identity, services: Any) -> TicketView:
    """Whether staff may still see what she sees, asked on every request of their
    read-only view of her portal (app/security/view_as.py): only while she consents
    and the question is not solved. Each whole page they open goes into her thread,
    so she reads who looked at what, and when, live."""
    help_ = _help(services)
    row = await _row(services, args.ticket_id)
    if not row.consent and not await _admin_may_look(services, identity):
        raise VerbFailed(
            f"{row.author} has not let the HPC team see what she sees on this question, "
            "or has taken it back.",
            "conflict",  # as things are: the staff member may, her choice says no
        )
    if row.state == "solved":
        raise VerbFailed("This question is solved: seeing what she sees has ended.", "conflict")
    if args.page:
        message = HelpMessage(
            ticket_id=row.id, author=identity.unix_name, kind="looked", body=args.page
        )
        row = await help_.store.add_message(message) or row
        await _announce(services, row, "looked")
    return TicketView.of(row)


async def attachment(args: AttachmentArgs, identity: Identity, services: Any) -> OpenFile:
    """One of the files she pointed to, opened as her: staff reach her files only
    through her question, and only those she attached (the kernel still decides as
    her, so a file she can no longer read is refused in its words)."""
    row = await _row(services, args.ticket_id)
    paths = list(json.loads(row.attachments or "[]"))
    if args.index >= len(paths):
        raise VerbFailed("The question has no such file.", "ENOENT")
    return await agent_file(services, row.author, "files.read", path=paths[args.index])


# What a screenshot's first bytes must be: it is shown back as an image on the
# portal's own origin, so only these two types, judged by content, never by name.
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


async def screenshot(args: ScreenshotArgs, identity: Identity, services: Any) -> TicketView:
    """A screenshot added to the question by her (or staff): PNG or JPEG by content,
    within the site's size and count, kept in the portal's database."""
    help_ = _help(services)
    limits = help_.settings
    row = await _row(services, args.ticket_id)
    media = next((m for magic, m in IMAGE_MAGIC.items() if args.data.startswith(magic)), None)
    if not args.data:
        raise VerbInvalid("Choose a picture first.", fields={"screenshot": "No file was chosen."})
    if media is None:
        message = "A screenshot must be a PNG or JPEG picture."
        raise VerbInvalid(message, fields={"screenshot": message})
    if len(args.data) > limits.max_screenshot_bytes:
        message = (
            f"The picture is {len(args.data):,} bytes; the help desk takes at most "
            f"{limits.max_screenshot_bytes:,}. A smaller window or a JPEG will do."
        )
        raise VerbInvalid(message, fields={"screenshot": message})
    if len(await help_.store.images(row.id)) >= limits.max_screenshots:
        message = f"A question takes at most {limits.max_screenshots} screenshots."
        raise VerbInvalid(message, fields={"screenshot": message})
    image = HelpImage(ticket_id=row.id, author=identity.unix_name, media_type=media, data=args.data)
    await help_.store.add_image(image)
    await _announce(services, row, "image")
    return await _view(services, identity, row)


async def image(args: ImageArgs, identity: Identity, services: Any) -> Image:
    found = await _help(services).store.image(args.ticket_id, args.image_id)
    if found is None:
        raise VerbFailed("The question has no such picture.", "ENOENT")
    return Image(media_type=found.media_type, data=found.data)


async def queue(args: QueueArgs, identity: Identity, services: Any) -> TicketList:
    before = utcnow() - timedelta(days=args.older_than_days) if args.older_than_days else None
    rows = await _help(services).store.queue(args.state, args.person, args.project, before)
    return TicketList(tickets=[TicketView.of(row) for row in rows])


async def canned(args: NoArgs, identity: Identity, services: Any) -> CannedList:
    answers = _help(services).settings.canned_answers
    return CannedList(answers=[Canned(title=a.title, text=a.text) for a in answers])


def _verb(
    name: str, args: Any, result: Any, kind: str, action: str, target: Any, local: Any
) -> Any:
    return Verb(name, args, result, kind, action, target, local=local)


VERBS: tuple[Verb[Any, Any], ...] = (
    _verb("help.ask", AskArgs, TicketView, "ticket", "ask", new_ticket, ask),
    _verb("help.mine", NoArgs, TicketList, "ticket", "read", her_tickets, mine),
    _verb("help.show", TicketArgs, TicketView, "ticket", "read", existing_ticket, show),
    _verb("help.reply", ReplyArgs, TicketView, "ticket", "reply", existing_ticket, reply),
    _verb("help.note", ReplyArgs, TicketView, "ticket", "note", existing_ticket, note),
    _verb("help.assign", TicketArgs, TicketView, "ticket", "assign", existing_ticket, assign),
    _verb("help.state", StateArgs, TicketView, "ticket", "state", existing_ticket, set_state),
    _verb("help.consent", ConsentArgs, TicketView, "ticket", "consent", existing_ticket, consent),
    _verb("help.view", ViewArgs, TicketView, "ticket", "view", existing_ticket, view),
    # A picture is her words too: whoever may reply may add one.
    _verb(
        "help.screenshot",
        ScreenshotArgs,
        TicketView,
        "ticket",
        "reply",
        existing_ticket,
        screenshot,
    ),
    _verb("help.image", ImageArgs, Image, "ticket", "read", existing_ticket, image),
    Verb(
        "help.attachment",
        AttachmentArgs,
        OpenFile,
        "ticket",
        "attachment",
        existing_ticket,
        local=attachment,
        returns_fd=True,
    ),
    _verb(
        "help.mail_reply",
        MailReplyArgs,
        TicketView,
        "ticket",
        "mailreply",
        ticket_by_token,
        mail_reply,
    ),
    _verb("help.queue", QueueArgs, TicketList, "helpdesk", "read", the_queue, queue),
    _verb("help.canned", NoArgs, CannedList, "helpdesk", "read", the_queue, canned),
)
