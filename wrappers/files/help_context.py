"""What a file or folder page shows, for someone helping (``Tool.page_context``): the
path and who may do what with it (owner, group, mode and ACL entries), read as the
viewer through ``files.permissions`` (her agent asks the kernel)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from app.tools import ContextSection
from wrappers.files.common import home
from wrappers.request import verb_gate, viewer

FILE_PAGES = ("/files", "/files/view", "/files/edit", "/files/permissions", "/files/share")


def _rwx(bits: int) -> str:
    return "".join(
        letter if bits & mask else "-" for letter, mask in zip("rwx", (4, 2, 1), strict=True)
    )


async def page_context(request: Request, page: str) -> list[ContextSection]:
    parts = urlsplit(page)
    if parts.path not in FILE_PAGES:
        return []
    path = (parse_qs(parts.query).get("path") or [""])[0] or home(request)
    info = await verb_gate(request).call(viewer(request), "files.permissions", path=path)
    entries = [f"{e.tag} {e.name}: {_rwx(e.perms)}" for e in info.entries]
    text = (
        f"Path: {info.path} ({info.kind})\nOwner: {info.owner}, group: {info.group}\n"
        f"Mode: {info.mode:04o} (owner {_rwx(info.user_obj)}, group {_rwx(info.group_obj)}, "
        f"others {_rwx(info.other)})\nShared with: {', '.join(entries) or 'nobody'}"
    )
    return [ContextSection("file", f"The {info.kind} {info.path}", text)]
