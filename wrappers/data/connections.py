"""Saved connections, browsing the other side, and accepting an SFTP host key.

A connection is the Casbin object ``dataconn:<owner>/<id>``; the site's are
``dataconn:@site/<id>``, which people may "use" and nothing else, so their
secrets never reach a page. Secrets are sealed with the row's owner and id as the
associated data (vault.py), never shown back (the forms say "saved, hidden"), and a
blank secret field on an edit keeps what was saved.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from app.logs import get_logger
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import VerbFailed, VerbInvalid
from app.verbs.gate import agent_work
from wrappers.data import specs
from wrappers.data.models import DataConnection
from wrappers.data.service import Data
from wrappers.data.store import HEX_ID, new_id
from wrappers.data.verbs import connection_for
from wrappers.data.views import BrowseResult, ConnectionList, ConnectionView, Entry, HostKey

log = get_logger("onestop.data")

NAME = r"^[^\x00-\x1f<>\"'`;&|$]{1,64}$"


class SaveArgs(specs.RemoteFields):
    kind: Literal["s3", "sftp", "webdav"]
    name: str = Field(min_length=1, max_length=64, pattern=NAME)


class ConnectionArgs(BaseModel):
    connection_id: str = Field(pattern=HEX_ID.pattern)


class BrowseArgs(specs.RemoteFields):
    kind: Literal["s3", "sftp", "webdav"]


class AcceptArgs(BaseModel):
    """The key she accepts ("ssh-ed25519 AAAA..."), for her saved connection or for
    a transfer that stopped to ask."""

    key: str = Field(min_length=16, max_length=4096, pattern=r"^[a-z0-9@.-]+ [A-Za-z0-9+/=]+$")
    connection_id: str = Field(default="", pattern=r"^$|^[0-9a-f]{16}$")
    transfer_id: str = Field(default="", pattern=r"^$|^[0-9a-f]{16}$")


class Accepted(BaseModel):
    accepted: bool


def _data(services: Any) -> Data:
    data: Data = services.own(Data)
    return data


async def her_connections(args: Any, identity: Identity, services: Any) -> str:
    return identity.unix_name


async def saved_or_new(args: Any, identity: Identity, services: Any) -> str:
    """The connection she names (by its real owner), or a new one of hers."""
    connection_id = getattr(args, "connection_id", "")
    if connection_id.startswith("site-"):
        return f"@site/{connection_id}"
    if not connection_id:
        transfer_id = getattr(args, "transfer_id", "")
        if transfer_id:
            row = await _data(services).store.get(transfer_id)
            owner = row.owner if row is not None else identity.unix_name
            return f"{owner}/new"
        return f"{identity.unix_name}/new"
    saved = await _data(services).store.connection(connection_id)
    owner = saved.owner if saved is not None else identity.unix_name
    return f"{owner}/{connection_id}"


def view_of(row: DataConnection, data: Data) -> ConnectionView:
    fields, secrets = data.connection_values(row)
    return ConnectionView(
        id=row.id, name=row.name, kind=row.kind, fields=fields, secrets_saved=sorted(secrets)
    )


async def list_connections(args: NoArgs, identity: Identity, services: Any) -> ConnectionList:
    data = _data(services)
    own = [view_of(row, data) for row in await data.store.connections_of(identity.unix_name)]
    site = [
        ConnectionView(
            id=c.id,
            name=c.name,
            kind=c.kind,
            fields=dict(c.fields),
            secrets_saved=sorted(c.secrets),
            site=True,
        )
        for c in data.settings.connections
    ]
    return ConnectionList(connections=[*site, *own], can_save=data.vault.ready)


async def save_connection(args: SaveArgs, identity: Identity, services: Any) -> ConnectionView:
    """Save (or change) one of hers. Its own fields and secrets only: a blank secret
    keeps the one saved, so the form never needs to show it."""
    data = _data(services)
    if not data.vault.ready:
        raise VerbFailed(
            "This portal cannot keep passwords or keys: its administrator has not set "
            "a secret key for the Data tool. You can still type them in for each transfer.",
            "conflict",
        )
    if args.connection_id.startswith("site-"):
        raise VerbFailed("The site's connections cannot be changed here.", "EACCES")
    existing = await data.store.connection(args.connection_id) if args.connection_id else None
    if args.connection_id and (existing is None or existing.owner != identity.unix_name):
        raise VerbFailed("There is no such saved connection.", "ENOENT")
    connection_id = existing.id if existing is not None else new_id()
    fields = {
        key: args.plain(key)
        for key in (*specs.CONNECTION_FIELDS[args.kind], *specs.TRANSFER_FIELDS[args.kind])
        if args.plain(key) not in ("", None)
    }
    kept = data.connection_values(existing)[1] if existing is not None else {}
    secrets = {
        key: args.secret(key) or kept.get(key, "")
        for key in specs.SECRET_FIELDS[args.kind]
        if args.secret(key) or kept.get(key)
    }
    # The fields must make an endpoint, so a mistake is said now, not at first use.
    specs.build_endpoint(args.kind, args, None, (fields, secrets))
    row = DataConnection(
        id=connection_id,
        owner=identity.unix_name,
        name=args.name.strip(),
        kind=args.kind,
        fields=specs.dumps(fields),
        secret_blob=data.vault.seal(secrets, f"connection:{identity.unix_name}/{connection_id}"),
    )
    try:
        saved = await data.store.save_connection(row)
    except IntegrityError:
        raise VerbInvalid(
            "You already have a connection of that name.", fields={"name": "Choose another name."}
        ) from None
    log.info("data_connection_saved", user=identity.unix_name, connection=connection_id)
    return view_of(saved, data)


async def _own_row(args: ConnectionArgs, services: Any) -> DataConnection:
    row = await _data(services).store.connection(args.connection_id)
    if row is None:
        raise VerbFailed("There is no such saved connection.", "ENOENT")
    return row


async def delete_connection(
    args: ConnectionArgs, identity: Identity, services: Any
) -> ConnectionView:
    """The row goes, and its sealed secrets with it."""
    data = _data(services)
    row = await _own_row(args, services)
    view = view_of(row, data)
    await data.store.delete_connection(row.id)
    log.info("data_connection_deleted", user=row.owner, connection=row.id)
    return view


async def browse(args: BrowseArgs, identity: Identity, services: Any) -> BrowseResult:
    """One folder of the other side (a bucket's prefix, a remote folder), listed by her
    agent through the same address rules as a transfer; or the host key an SFTP
    server offered, for her to accept first."""
    from wrappers.data.specs import network_rules

    data = _data(services)
    connection = await connection_for(services, identity, args.connection_id, args.kind)
    endpoint = specs.build_endpoint(args.kind, args, None, connection)
    where = args.prefix if args.kind == "s3" else args.path
    plain, secrets = specs.split_endpoint(endpoint)
    wire = {**plain, **secrets}
    answer = await agent_work(
        services,
        identity.unix_name,
        "data.browse",
        request={
            "endpoint": wire,
            "path": where,
            "network": network_rules(services.settings, data.settings).model_dump(mode="json"),
        },
    )
    if isinstance(answer.get("host_key_unknown"), dict):
        offered = answer["host_key_unknown"]
        return BrowseResult(
            path=where,
            host_key_unknown=HostKey(
                key=str(offered.get("key", "")), fingerprint=str(offered.get("fingerprint", ""))
            ),
        )
    if isinstance(answer.get("error"), dict):
        problem = answer["error"]
        return BrowseResult(
            path=where, error=str(problem.get("message", "")), code=str(problem.get("code", ""))
        )
    entries = [
        Entry(
            name=str(item.get("name", "")),
            kind="folder" if item.get("kind") in ("folder", "directory") else "file",
            size=item.get("size") if isinstance(item.get("size"), int) else None,
        )
        for item in answer.get("entries", [])
        if isinstance(item, dict)
    ]
    return BrowseResult(path=where, entries=entries)


async def accept_host_key(args: AcceptArgs, identity: Identity, services: Any) -> Accepted:
    """Remember the key she accepted: with her saved connection, and with the
    transfer that stopped to ask (its Retry then connects to that key only)."""
    data = _data(services)
    if not args.connection_id and not args.transfer_id:
        raise VerbInvalid("Say which connection or transfer this key is for.")
    if args.transfer_id:
        row = await data.store.get(args.transfer_id)
        if row is None or row.kind != "sftp":
            raise VerbFailed("There is no such transfer.", "ENOENT")
        plain = json.loads(row.endpoint)
        plain["host_key"] = args.key
        await data.store.update(row.id, reopen=True, endpoint=specs.dumps(plain))
        if row.connection_id and not args.connection_id and HEX_ID.match(row.connection_id):
            args = args.model_copy(update={"connection_id": row.connection_id})
    if args.connection_id:
        saved = await data.store.connection(args.connection_id)
        if saved is None or saved.kind != "sftp" or saved.owner != identity.unix_name:
            raise VerbFailed("There is no such saved connection.", "ENOENT")
        fields = json.loads(saved.fields)
        fields["host_key"] = args.key
        saved.fields = specs.dumps(fields)
        await data.store.save_connection(saved)
    log.info("data_host_key_accepted", user=identity.unix_name)
    return Accepted(accepted=True)


VERBS = (
    Verb(
        "data.connections.list",
        NoArgs,
        ConnectionList,
        "dataconn",
        "read",
        her_connections,
        local=list_connections,
        description="Her saved connections and the site's, without their secrets.",
    ),
    Verb(
        "data.connections.save",
        SaveArgs,
        ConnectionView,
        "dataconn",
        "write",
        saved_or_new,
        local=save_connection,
    ),
    Verb(
        "data.connections.delete",
        ConnectionArgs,
        ConnectionView,
        "dataconn",
        "write",
        saved_or_new,
        local=delete_connection,
    ),
    Verb(
        "data.browse",
        BrowseArgs,
        BrowseResult,
        "dataconn",
        "use",
        saved_or_new,
        local=browse,
        description="List a bucket's or a server's folder before choosing.",
    ),
    Verb(
        "data.accept_host_key",
        AcceptArgs,
        Accepted,
        "dataconn",
        "write",
        saved_or_new,
        local=accept_host_key,
    ),
)
