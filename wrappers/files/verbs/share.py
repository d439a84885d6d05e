"""Permission, sharing and publishing verbs.

Who may read a file is decided by the filesystem, so every change is made by the
owner's own agent (managers/files/sharing.py): the kernel lets only the owner change
a mode or an ACL, whatever the portal gets wrong. The portal database keeps what
each share changed (to undo exactly that) and the public links (only hashes of their
secrets). All of these need the ``share`` action on the path; listing shares needs
``read`` on the person's home.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.policy.roles import MEMBER, PROJECT_ADMIN
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import VerbFailed, VerbInvalid
from app.verbs.gate import agent_work
from app.verbs.services import Services
from wrappers.files.models import FileShare, PublicLink
from wrappers.files.share_store import ShareStore, decoded, link_state
from wrappers.files.verbs.basic import PathArgs
from wrappers.files.verbs.manage import home_of

NAME = r"^[a-z_][a-z0-9_.-]{0,31}$"


class AclEntry(BaseModel):
    tag: Literal["user", "group"]
    name: str
    perms: int = Field(ge=0, le=7)


class Permissions(BaseModel):
    path: str
    kind: Literal["file", "folder"]
    owner: str
    group: str
    is_owner: bool
    mode: int = Field(ge=0, le=0o7777)
    user_obj: int = Field(ge=0, le=7)
    group_obj: int = Field(ge=0, le=7)
    other: int = Field(ge=0, le=7)
    mask: int | None = None
    entries: list[AclEntry]
    default_entries: list[AclEntry]


class ChmodArgs(PathArgs):
    mode: int = Field(ge=0, le=0o777)
    recursive: bool = False


class Changed(BaseModel):
    changed: int
    skipped: int


class ShareArgs(PathArgs):
    grantee_kind: Literal["user", "group"]
    grantee: str = Field(pattern=NAME)
    access: Literal["read", "write"] = "read"


class ShareIdArgs(BaseModel):
    share_id: int = Field(ge=1, le=2**31 - 1)


class LinkIdArgs(BaseModel):
    link_id: int = Field(ge=1, le=2**31 - 1)


class PublishArgs(PathArgs):
    days: int | None = Field(default=None, ge=1, le=365)
    password: str = Field(default="", max_length=200)

    @field_validator("password")
    @classmethod
    def _long_enough(cls, password: str) -> str:
        if password and len(password) < 6:
            raise ValueError("a password needs at least 6 characters (or leave it empty)")
        return password


class ShareView(BaseModel):
    id: int
    owner: str
    path: str
    kind: Literal["file", "folder"]
    grantee_kind: Literal["user", "group"]
    grantee: str
    access: Literal["read", "write"]
    created_at: datetime
    skipped: int = 0


class LinkView(BaseModel):
    id: int
    path: str
    kind: Literal["file", "folder"]
    expires_at: datetime | None
    has_password: bool
    state: Literal["live", "expired", "revoked"]
    downloads: int
    created_at: datetime


class Published(BaseModel):
    link: LinkView
    # The secret, shown once to its owner; only its hash is stored.
    secret: str


class Unshared(BaseModel):
    done: bool
    problems: list[str] = []


class SharesView(BaseModel):
    shared_by_me: list[ShareView]
    shared_with_me: list[ShareView]
    links: list[LinkView]


def _store(services: Services) -> ShareStore:
    return services.own(ShareStore)


def _share_view(share: FileShare, skipped: int = 0) -> ShareView:
    assert share.id is not None
    kind = decoded(share)["item_kind"]
    return ShareView(
        id=share.id,
        owner=share.owner,
        path=share.path,
        kind="folder" if kind == "folder" else "file",
        grantee_kind="group" if share.grantee_kind == "group" else "user",
        grantee=share.grantee,
        access="write" if share.access == "write" else "read",
        created_at=share.created_at,
        skipped=skipped,
    )


def link_view(link: PublicLink) -> LinkView:
    assert link.id is not None
    return LinkView(
        id=link.id,
        path=link.path,
        kind="folder" if link.kind == "folder" else "file",
        expires_at=link.expires_at,
        has_password=bool(link.password_hash),
        state=link_state(link),  # type: ignore[arg-type]
        downloads=link.downloads,
        created_at=link.created_at,
    )


async def _projects(identity: Identity, services: Any) -> list[str]:
    return sorted(
        domain
        for role, domain in await services.policy.roles_of(identity.unix_name)
        if role in (MEMBER, PROJECT_ADMIN) and domain != "*"
    )


# targets: what policy is asked about


async def the_path(args: Any, identity: Identity, services: Any) -> str:
    return str(args.path)


async def her_home(args: Any, identity: Identity, services: Any) -> str:
    return home_of(identity.unix_name)


async def shared_path(args: Any, identity: Identity, services: Any) -> str:
    """The shared item; an unknown (or someone else's) share is named as her home,
    so she hears "no such share" and learns nothing of others' shares."""
    share = await _store(services).share(args.share_id)
    if share is None or share.owner != identity.unix_name:
        return home_of(identity.unix_name)
    return share.path


async def linked_path(args: Any, identity: Identity, services: Any) -> str:
    link = await _store(services).link(args.link_id)
    if link is None or link.owner != identity.unix_name:
        return home_of(identity.unix_name)
    return link.path


# handlers


async def share(args: Any, identity: Identity, services: Any) -> ShareView:
    store = _store(services)
    if args.grantee_kind == "group" and args.grantee not in await _projects(identity, services):
        raise VerbInvalid(
            "You can share with your own project groups only.",
            "invalid",
            {"grantee": "choose one of your project groups"},
        )
    others = await store.same_grantee(identity.unix_name, args.grantee_kind, args.grantee)
    # Sharing the same item with the same person again changes its access: the old
    # share is undone first, so read-write can become read-only.
    for old in [item for item in others if item.path == args.path]:
        await _unshare_one(old, identity, services, [o for o in others if o.id != old.id])
        others = [item for item in others if item.id != old.id]
    record = await agent_work(
        services,
        identity.unix_name,
        "files.share",
        path=args.path,
        kind=args.grantee_kind,
        name=args.grantee,
        access=args.access,
        keep=[decoded(item) for item in others],
    )
    saved = await store.add_share(
        owner=identity.unix_name,
        path=args.path,
        grantee_kind=args.grantee_kind,
        grantee=args.grantee,
        access=args.access,
        record=json.dumps(record),
    )
    return _share_view(saved, skipped=int(record.get("skipped", 0)))


async def _unshare_one(
    item: FileShare, identity: Identity, services: Any, keep: list[FileShare]
) -> list[str]:
    result = await agent_work(
        services,
        identity.unix_name,
        "files.unshare",
        path=item.path,
        kind=item.grantee_kind,
        name=item.grantee,
        record=decoded(item),
        keep=[decoded(other) for other in keep],
    )
    assert item.id is not None
    await _store(services).delete_share(item.id)
    return [str(problem) for problem in result.get("problems", [])]


async def unshare(args: Any, identity: Identity, services: Any) -> Unshared:
    store = _store(services)
    item = await store.share(args.share_id)
    if item is None or item.owner != identity.unix_name:
        raise VerbFailed("There is no such share.", "ENOENT")
    keep = await store.same_grantee(item.owner, item.grantee_kind, item.grantee, but=item.id)
    problems = await _unshare_one(item, identity, services, keep)
    return Unshared(done=True, problems=problems)


async def list_shares(args: Any, identity: Identity, services: Any) -> SharesView:
    store = _store(services)
    groups = await _projects(identity, services)
    return SharesView(
        shared_by_me=[_share_view(item) for item in await store.shared_by(identity.unix_name)],
        shared_with_me=[
            _share_view(item) for item in await store.shared_with(identity.unix_name, groups)
        ],
        links=[link_view(link) for link in await store.links_by(identity.unix_name)],
    )


async def publish(args: Any, identity: Identity, services: Any) -> Published:
    item = await agent_work(services, identity.unix_name, "files.owned", path=args.path)
    link, secret = await _store(services).add_link(
        identity.unix_name,
        args.path,
        "folder" if item.get("kind") == "folder" else "file",
        args.days,
        args.password,
    )
    return Published(link=link_view(link), secret=secret)


async def unpublish(args: Any, identity: Identity, services: Any) -> Unshared:
    store = _store(services)
    link = await store.link(args.link_id)
    if link is None or link.owner != identity.unix_name:
        raise VerbFailed("There is no such link.", "ENOENT")
    assert link.id is not None
    await store.revoke_link(link.id)
    return Unshared(done=True)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "files.permissions",
        PathArgs,
        Permissions,
        "file",
        "stat",
        the_path,
        op="files.permissions",
        description="Who may read and change a file or folder (mode and ACL)",
    ),
    Verb(
        "files.chmod",
        ChmodArgs,
        Changed,
        "file",
        "share",
        the_path,
        op="files.chmod",
        heavy=True,
        description="Change who may read and change a file or folder (owner only)",
    ),
    Verb(
        "files.share",
        ShareArgs,
        ShareView,
        "file",
        "share",
        the_path,
        local=share,
        heavy=True,
        description="Share a file or folder with a person or a project group (ACLs)",
    ),
    Verb(
        "files.unshare",
        ShareIdArgs,
        Unshared,
        "file",
        "share",
        shared_path,
        local=unshare,
        description="Stop a share, removing exactly the ACL entries it added",
    ),
    Verb(
        "files.shares",
        NoArgs,
        SharesView,
        "file",
        "read",
        her_home,
        local=list_shares,
        description="What she shared, what was shared with her, her public links",
    ),
    Verb(
        "files.publish",
        PublishArgs,
        Published,
        "file",
        "share",
        the_path,
        local=publish,
        description="A public read-only link to a file or folder",
    ),
    Verb(
        "files.unpublish",
        LinkIdArgs,
        Unshared,
        "file",
        "share",
        linked_path,
        local=unpublish,
        description="Revoke a public link",
    ),
)
