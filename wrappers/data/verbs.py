"""The transfer verbs: import, export, list, show, cancel, retry, forget, and the
monitor's follow.

A transfer is the Casbin object ``transfer:<owner>/<id>``, named by the row's real
owner (never by the asker), so the default rule lets each person reach only her
own; an id that is not there is named as the asker's own and answers "no such
transfer". The work is done by her agent, as her (``data.start`` and the others,
managers/data): the verb builds the whole ``TransferSpec`` (the site's address
rules and limits, a saved connection's secrets opened here and nowhere else) and
decides whether the transfer runs in her agent or as a Slurm job of hers.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.logs import get_logger
from app.models import utcnow
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import ErrorKind, VerbError, VerbFailed, VerbInvalid
from app.verbs.gate import agent_work
from app.verbs.services import Services
from managers.data.progress import STALE_SECONDS, Progress, TransferState
from managers.data.spec import Direction, TransferSpec, to_wire
from wrappers.data import specs
from wrappers.data.models import Transfer
from wrappers.data.notices import tell_the_end
from wrappers.data.service import Data
from wrappers.data.store import HEX_ID, new_id
from wrappers.data.vault import VaultError
from wrappers.data.views import TransferList, TransferView, aware
from wrappers.files.verbs.manage import home_of

log = get_logger("onestop.data")

MONITOR = "service:data-monitor"
# A job that the queue does not show this long after it was submitted is gone.
JOB_GRACE_SECONDS = 90.0


class ImportArgs(specs.RemoteFields):
    source: Literal["url", "s3", "sftp", "webdav", "git"]
    # URL imports: one address a line, optionally followed by its SHA-256.
    urls: str = Field(default="", max_length=200_000)
    # The folder she picked ("" : her home).
    target: str = Field(default="", max_length=4096)
    unpack: bool = False
    email: bool = False
    # How large it is, when browsing told (decides agent or job).
    size_hint: int | None = Field(default=None, ge=0)
    token: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")

    @field_validator("target")
    @classmethod
    def _absolute(cls, folder: str) -> str:
        if folder and (not folder.startswith("/") or "\x00" in folder):
            raise ValueError("the folder must be a full path, starting with /")
        return posixpath.normpath(folder) if folder else folder


class ExportArgs(specs.RemoteFields):
    destination: Literal["s3", "sftp", "webdav"]
    # The file or folder she sends.
    source_path: str = Field(min_length=1, max_length=4096)
    email: bool = False
    token: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")

    @field_validator("source_path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/") or "\x00" in path:
            raise ValueError("the file must be a full path, starting with /")
        return posixpath.normpath(path)


class TransferArgs(BaseModel):
    transfer_id: str = Field(pattern=HEX_ID.pattern)


def _data(services: Services) -> Data:
    return services.own(Data)


# -- targets: what policy is asked about -------------------------------------------


async def new_transfer(args: Any, identity: Identity, services: Any) -> str:
    return f"{identity.unix_name}/new"


async def her_transfers(args: Any, identity: Identity, services: Any) -> str:
    return identity.unix_name


async def existing_transfer(args: Any, identity: Identity, services: Any) -> str:
    row = await _data(services).store.get(args.transfer_id)
    owner = row.owner if row is not None else identity.unix_name
    return f"{owner}/{args.transfer_id}"


# -- helpers -------------------------------------------------------------------------


async def connection_for(
    services: Any, identity: Identity, connection_id: str, kind: str
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A named connection's (fields, secrets), after policy says she may use it (hers,
    or the site's); None when none is named. Someone else's reads as not found."""
    if not connection_id:
        return None
    data = _data(services)
    if connection_id.startswith("site-"):
        site = data.site(connection_id)
        obj, values = f"dataconn:@site/{connection_id}", None
        if site is not None and site.kind == kind:
            values = data.site_values(site)
    else:
        row = await data.store.connection(connection_id)
        owner = row.owner if row is not None else identity.unix_name
        obj, values = f"dataconn:{owner}/{connection_id}", None
        if row is not None and row.kind == kind:
            values = data.connection_values(row)
    if not await services.policy.enforce(identity.unix_name, "*", obj, "use"):
        raise VerbFailed("There is no such saved connection.", "ENOENT")
    if values is None:
        raise VerbFailed("There is no such saved connection.", "ENOENT")
    return values


async def _room_for_one_more(data: Data, owner: str) -> None:
    active = await data.store.active(owner)
    cap = data.settings.max_concurrent_per_person
    if len(active) >= cap:
        raise VerbFailed(
            f"You already have {len(active)} transfers under way, the most this portal "
            "runs at once for one person. Wait for one to finish, or cancel one, then "
            "try again.",
            "conflict",
        )


def _seal_own_secrets(data: Data, row: Transfer, secrets: dict[str, str]) -> str:
    """Secrets she typed for this transfer alone, kept (sealed) only for Retry; when
    the portal has no key they are not kept, and Retry asks for them again."""
    if not secrets or not data.vault.ready:
        return ""
    return data.vault.seal(secrets, f"transfer:{row.owner}/{row.id}")


async def _create(
    services: Any,
    identity: Identity,
    direction: Direction,
    endpoint: Any,
    local_path: str,
    connection_id: str,
    args: Any,
    unpack: bool = False,
) -> tuple[Transfer, bool]:
    data = _data(services)
    plain, secrets = specs.split_endpoint(endpoint)
    transfer_id = new_id()
    row = Transfer(
        id=transfer_id,
        owner=identity.unix_name,
        direction=direction.value,
        kind=endpoint.kind,
        summary=specs.summary_of(endpoint)[:1024],
        endpoint=specs.dumps(plain),
        connection_id=connection_id or None,
        local_path=local_path,
        unpack=unpack,
        state=TransferState.WAITING,
        notify_email=identity.email if args.email and identity.email else "",
        token=args.token or transfer_id,
    )
    if not connection_id:
        row.secret_blob = _seal_own_secrets(data, row, secrets)
    return await data.store.create(row)


async def _start(services: Any, row: Transfer, endpoint: Any, size: int | None) -> Transfer:
    """Hand the spec to her agent; the row says where the worker runs. A failure to
    start leaves the row failed with the reason (Retry offered) and is raised."""
    data = _data(services)
    spec = TransferSpec(
        id=row.id,
        owner=row.owner,
        direction=Direction(row.direction),
        source=endpoint,
        local_path=row.local_path,
        unpack=row.unpack,
        network=specs.network_rules(services.settings, data.settings),
        limits=specs.limits(data.settings),
    )
    job = specs.job_for(data.settings, size)
    try:
        started = await agent_work(services, row.owner, "data.start", spec=to_wire(spec), job=job)
    except VerbError as error:
        await data.store.update(
            row.id,
            state=TransferState.FAILED,
            message=f"Not started: {error.message}",
            error="failed",
        )
        raise
    changes: dict[str, Any] = {"runs_as": "job" if job is not None else "agent"}
    if started.get("job_id"):
        changes["job_id"] = str(started["job_id"])
    if isinstance(started.get("pid"), int):
        changes.update(pid=started["pid"], host=str(started.get("host") or ""))
    updated = await data.store.update(row.id, **changes)
    log.info(
        "data_transfer_started",
        transfer=row.id,
        user=row.owner,
        direction=row.direction,
        kind=row.kind,
        runs_as=changes["runs_as"],
        job=changes.get("job_id"),
    )
    return updated or row


async def _forget_old(services: Any, owner: str) -> None:
    """Her oldest ended transfers beyond ``ended_kept`` go, with their folders."""
    data = _data(services)
    for transfer_id in await data.store.ended_beyond(owner, data.settings.ended_kept):
        try:
            await agent_work(services, owner, "data.forget", id=transfer_id)
        except VerbError:
            log.warning("data_forget_failed", transfer=transfer_id, user=owner)
            continue
        await data.store.delete(transfer_id)


# -- handlers ------------------------------------------------------------------------


async def import_data(args: ImportArgs, identity: Identity, services: Any) -> TransferView:
    data = _data(services)
    await _room_for_one_more(data, identity.unix_name)
    urls = (
        specs.parse_urls(args.urls, tuple(data.settings.schemes)) if args.source == "url" else None
    )
    if args.source in ("url", "git") and args.connection_id:
        raise VerbInvalid("Web addresses and Git need no saved connection.")
    connection = await connection_for(services, identity, args.connection_id, args.source)
    endpoint = specs.build_endpoint(args.source, args, urls, connection)
    folder = args.target or home_of(identity.unix_name).rstrip("/") or "/"
    row, created = await _create(
        services,
        identity,
        Direction.IMPORT,
        endpoint,
        folder,
        args.connection_id,
        args,
        unpack=args.unpack,
    )
    if created:
        row = await _start(services, row, endpoint, args.size_hint)
        await _forget_old(services, identity.unix_name)
    return TransferView.of(row)


async def export_data(args: ExportArgs, identity: Identity, services: Any) -> TransferView:
    data = _data(services)
    await _room_for_one_more(data, identity.unix_name)
    connection = await connection_for(services, identity, args.connection_id, args.destination)
    endpoint = specs.build_endpoint(args.destination, args, None, connection)
    size: int | None = None
    try:  # as her: a file she cannot read is refused here, in the kernel's words
        stat = await agent_work(services, identity.unix_name, "files.stat", path=args.source_path)
    except VerbFailed as error:
        raise VerbInvalid(error.message, fields={"source_path": error.message}) from error
    if stat.get("kind") == "file" and isinstance(stat.get("size"), int):
        size = stat["size"]
    row, created = await _create(
        services, identity, Direction.EXPORT, endpoint, args.source_path, args.connection_id, args
    )
    if created:
        row = await _start(services, row, endpoint, size)
        await _forget_old(services, identity.unix_name)
    return TransferView.of(row)


async def list_transfers(args: NoArgs, identity: Identity, services: Any) -> TransferList:
    data = _data(services)
    rows = await data.store.of_owner(identity.unix_name)
    return TransferList(
        transfers=[TransferView.of(row) for row in rows],
        limit=data.settings.max_concurrent_per_person,
    )


async def _row(args: TransferArgs, services: Any) -> Transfer:
    row = await _data(services).store.get(args.transfer_id)
    if row is None:
        raise VerbFailed("There is no such transfer.", "ENOENT")
    return row


async def show_transfer(args: TransferArgs, identity: Identity, services: Any) -> TransferView:
    return TransferView.of(await _row(args, services))


async def cancel_transfer(args: TransferArgs, identity: Identity, services: Any) -> TransferView:
    """Stop its worker (or its job) as its owner; the worker removes what it had not
    finished. Cancelling an ended transfer changes nothing."""
    data = _data(services)
    row = await _row(args, services)
    if TransferState(row.state).is_final:
        return TransferView.of(row)
    await agent_work(services, row.owner, "data.cancel", id=row.id, job_id=row.job_id)
    updated = await data.store.update(
        row.id, state=TransferState.CANCELLED, message="Cancelled.", error="cancelled", rate=0.0
    )
    log.info("data_transfer_cancelled", transfer=row.id, user=row.owner, by=identity.unix_name)
    return TransferView.of(updated or row)


async def retry_transfer(args: TransferArgs, identity: Identity, services: Any) -> TransferView:
    """Start a failed or cancelled transfer again, under the same id (so what was
    already there is resumed where the source allows), with the secrets of its
    connection or the ones kept for it."""
    data = _data(services)
    row = await _row(args, services)
    if not TransferState(row.state).is_final or row.state == TransferState.DONE:
        raise VerbFailed("Only a failed or cancelled transfer can be tried again.", "conflict")
    await _room_for_one_more(data, row.owner)
    plain = json.loads(row.endpoint)
    if row.connection_id:
        connection = await connection_for(services, identity, row.connection_id, row.kind)
        assert connection is not None
        fields, secrets = connection
        for key in specs.CONNECTION_FIELDS.get(row.kind, ()):
            if key in fields:
                plain[key] = fields[key]
    else:
        secrets = data.transfer_secrets(row)
        wanted = [key for key in specs.SECRET_FIELDS.get(row.kind, ()) if key in plain]
        if wanted and not secrets:
            raise VerbFailed(
                "The password or key this transfer used was not kept. Start it again "
                "from the form and type it in.",
                "conflict",
            )
    try:
        endpoint = specs.rebuild(plain, secrets)
    except ValueError as error:
        raise VerbFailed("This transfer cannot be started again as it was.", "conflict") from error
    reopened = await data.store.update(
        row.id,
        reopen=True,
        state=TransferState.WAITING,
        message="",
        error="",
        rate=0.0,
        verified=False,
        offered_host_key="",
        offered_fingerprint="",
        ended_at=None,
        job_id=None,
        pid=None,
        host=None,
        retries=row.retries + 1,
    )
    started = await _start(services, reopened or row, endpoint, row.bytes_total)
    return TransferView.of(started)


async def forget_transfer(args: TransferArgs, identity: Identity, services: Any) -> TransferView:
    """Take an ended transfer off her list (and its folder of spec and progress);
    what it brought into her folder stays."""
    data = _data(services)
    row = await _row(args, services)
    if not TransferState(row.state).is_final:
        raise VerbFailed("This transfer is still under way: cancel it first.", "conflict")
    await agent_work(services, row.owner, "data.forget", id=row.id)
    await data.store.delete(row.id)
    return TransferView.of(row)


# -- the monitor's ---------------------------------------------------------------------


def _job_gone(row: Transfer, services: Any) -> bool:
    snapshot = services.watcher.latest
    if snapshot is None or not snapshot.reachable or not row.job_id:
        return False
    if any(job.job_id == row.job_id for job in snapshot.jobs):
        return False
    created = aware(row.created_at) or utcnow()
    return (utcnow() - created).total_seconds() > JOB_GRACE_SECONDS


def changes_from(row: Transfer, report: dict[str, Any], services: Any) -> dict[str, Any]:
    """What one progress report (and whether its worker lives) changes on the row."""
    raw, alive = report.get("progress"), report.get("alive")
    progress = Progress.model_validate(raw) if isinstance(raw, dict) else None
    changes: dict[str, Any] = {}
    if progress is not None:
        changes.update(
            state=progress.state,
            bytes_done=progress.bytes_done,
            bytes_total=progress.bytes_total,
            files_done=progress.files_done,
            files_total=progress.files_total,
            rate=progress.rate if not progress.state.is_final else 0.0,
            current=(progress.current or "")[:1024],
            message=(progress.message or "")[:1024],
            error=(progress.error or "")[:32],
            verified=progress.verified,
            offered_host_key=(progress.offered_host_key or "")[:4096],
            offered_fingerprint=(progress.offered_fingerprint or "")[:128],
            results=json.dumps(list(progress.results[:100])),
        )
        if progress.started_at and row.started_at is None:
            changes["started_at"] = _moment(progress.started_at)
        if progress.pid and not row.pid and row.runs_as == "agent":
            changes.update(pid=progress.pid, host=progress.host)
    final = progress is not None and progress.state.is_final
    # A job transfer still waiting in the queue has no worker to beat yet: whether it
    # is gone is the queue's to say (_job_gone), not its heartbeat's.
    queued = row.runs_as == "job" and progress is not None and progress.state == "waiting"
    stale = progress is not None and not final and not queued and _stale(progress)
    gone = alive is False or (row.runs_as == "job" and _job_gone(row, services)) or stale
    if not final and gone and not (progress is None and alive is None):
        changes.update(
            state=TransferState.FAILED,
            error="failed",
            rate=0.0,
            message="The transfer stopped unexpectedly: its worker is gone. "
            "Press Retry to continue where it stopped.",
        )
    return changes


def _stale(progress: Progress) -> bool:
    import time

    return bool(progress.heartbeat) and time.time() - progress.heartbeat > STALE_SECONDS


def _moment(seconds: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


async def _audit_refusal(data: Data, row: Transfer) -> None:
    """An address the worker's guard refused (loopback, metadata, the portal's own
    port...) is a security event of hers: in the audit trail, with the plain reason
    and where it was going (``summary`` holds no password or query string)."""
    if row.error != "refused_address" or data.auditor is None:
        return
    await data.auditor.record(
        actor=row.owner,
        action="data.refused_address",
        object=f"transfer:{row.owner}/{row.id}",
        outcome="refused",
        reason=row.message,
        source=row.summary,
    )


async def follow_transfers(args: NoArgs, identity: Identity, services: Any) -> TransferList:
    """Ask her agent how her unfinished transfers are doing, record it, and tell her
    when one ended; her whole list. The monitor's verb, for each owner in turn."""
    data = _data(services)
    owner = identity.unix_name
    active = await data.store.active(owner)
    if active:
        try:
            reports = await agent_work(
                services, owner, "data.progress", ids=[row.id for row in active]
            )
        except VerbError as error:
            if error.kind is not ErrorKind.UNAVAILABLE:
                raise
            reports = {}  # her agent is not answering: nothing is decided this round
        for row in active:
            report = reports.get(row.id)
            if not isinstance(report, dict):
                continue
            changes = changes_from(row, report, services)
            if not changes:
                continue
            updated = await data.store.update(row.id, **changes)
            if updated is not None and TransferState(updated.state).is_final:
                log.info(
                    "data_transfer_ended",
                    transfer=row.id,
                    user=owner,
                    state=updated.state,
                    error=updated.error,
                    verified=updated.verified,
                )
                await _audit_refusal(data, updated)
                await tell_the_end(services, TransferView.of(updated), updated.notify_email)
    return await list_transfers(NoArgs(), identity, services)


VERBS = (
    Verb(
        "data.import",
        ImportArgs,
        TransferView,
        "transfer",
        "start",
        new_transfer,
        local=import_data,
        description="Bring data in from a URL, S3, SFTP, WebDAV or Git into her folder.",
    ),
    Verb(
        "data.export",
        ExportArgs,
        TransferView,
        "transfer",
        "start",
        new_transfer,
        local=export_data,
        description="Send a file or folder of hers out to S3, SFTP or WebDAV.",
    ),
    Verb(
        "data.list",
        NoArgs,
        TransferList,
        "transfer",
        "read",
        her_transfers,
        local=list_transfers,
        description="Her transfers, newest first.",
    ),
    Verb(
        "data.show",
        TransferArgs,
        TransferView,
        "transfer",
        "read",
        existing_transfer,
        local=show_transfer,
    ),
    Verb(
        "data.cancel",
        TransferArgs,
        TransferView,
        "transfer",
        "cancel",
        existing_transfer,
        local=cancel_transfer,
    ),
    Verb(
        "data.retry",
        TransferArgs,
        TransferView,
        "transfer",
        "retry",
        existing_transfer,
        local=retry_transfer,
    ),
    Verb(
        "data.forget",
        TransferArgs,
        TransferView,
        "transfer",
        "forget",
        existing_transfer,
        local=forget_transfer,
    ),
    # The monitor's, as service:data-monitor (monitor.py); no person's rule has it.
    Verb(
        "data.follow",
        NoArgs,
        TransferList,
        "transfer",
        "follow",
        her_transfers,
        local=follow_transfers,
        description="Read her unfinished transfers' progress and record it.",
    ),
)

__all__ = ["MONITOR", "VERBS", "VaultError", "changes_from"]
