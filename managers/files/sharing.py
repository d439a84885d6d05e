"""Permissions, shares (POSIX ACLs) and published items, done in the owner's agent.

Only the owner of a file may change its mode or ACL, so all of this runs as her; the
kernel refuses anyone else (a receiver cannot raise permissions or re-share). Every
item is reached through ``acl.open_exact`` / ``acl.walk``: no symlink swapped in
between a check and a change can redirect the change elsewhere.

A share's record says what it changed where, so revoking restores exactly that:

- ``tree``: the shared item and (for a folder) everything in it got the grantee's
  entry, folders also as a default entry (new files inherit it);
- ``before``: the few items where the grantee already had an entry, a default ACL
  already existed or the mask was set by hand, with what they had (restored);
- ``traverse``: parent folders that got ``--x`` for the grantee, with what they had.

Entries that another live share of the same owner still needs are kept (the portal
passes those shares in ``keep``).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from typing import Any

from managers.errors import OperationError
from managers.files import acl as acls
from managers.files.acl import Acl, R, W, X
from managers.files.transfer import is_part_file

MIN_UID = 1000
Kind = str  # "user" | "group"


def _grantee_id(kind: Kind, name: str) -> int:
    try:
        if kind == "user":
            uid = pwd.getpwnam(name).pw_uid
            if uid < MIN_UID:
                raise KeyError(name)
            return uid
        if kind == "group":
            return grp.getgrnam(name).gr_gid
    except KeyError:
        pass
    raise OperationError(f"There is no {kind} called {name!r} on this cluster.", "ENOENT")


def _grantee_groups(kind: Kind, ident: int, name: str) -> tuple[int, set[int]]:
    """(uid, groups) to check access for: the person, or any member of the group."""
    if kind == "user":
        entry = pwd.getpwuid(ident)
        return ident, set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return -1, {ident}


def _perms(access: str, folder: bool) -> int:
    base = R | W if access == "write" else R
    return base | X if folder else base


def _entries(acl: Acl, kind: Kind) -> dict[int, int]:
    return acl.users if kind == "user" else acl.groups


def _name_of(kind: str, ident: int) -> str:
    try:
        return pwd.getpwuid(ident).pw_name if kind == "user" else grp.getgrgid(ident).gr_name
    except KeyError:
        return str(ident)


def _listed(acl: Acl | None) -> list[dict[str, Any]]:
    if acl is None:
        return []
    rows = [{"tag": "user", "name": _name_of("user", i), "perms": p} for i, p in acl.users.items()]
    rows += [
        {"tag": "group", "name": _name_of("group", i), "perms": p} for i, p in acl.groups.items()
    ]
    return rows


def permissions(path: str) -> dict[str, Any]:
    """Mode, owner, group and ACL entries of one item, for the permissions page."""
    fd = acls.open_exact(path)
    try:
        info = os.fstat(fd)
        access = acls.read_acl(fd, info)
        default = acls.read_default(fd) if stat.S_ISDIR(info.st_mode) else None
    except OSError as error:
        raise acls.describe_error(error, path) from error
    finally:
        os.close(fd)
    return {
        "path": path,
        "kind": "folder" if stat.S_ISDIR(info.st_mode) else "file",
        "owner": _name_of("user", info.st_uid),
        "group": _name_of("group", info.st_gid),
        "is_owner": info.st_uid == os.getuid(),
        "mode": stat.S_IMODE(info.st_mode),
        "user_obj": access.user_obj,
        "group_obj": access.group_obj,
        "other": access.other,
        "mask": access.mask,
        "entries": _listed(access),
        "default_entries": _listed(default) if default and default.named() else [],
    }


def _set_mode(fd: int, info: os.stat_result, mode: int) -> None:
    """Owner, group and others as asked; shares (named entries) are left alone, so
    "only me" never silently breaks a share the page lists separately."""
    current = acls.read_acl(fd, info)
    if not current.named():
        os.chmod(acls.proc(fd), (stat.S_IMODE(info.st_mode) & 0o7000) | mode)
        return
    current.user_obj, current.group_obj, current.other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
    current.fit_mask()
    acls.write_acl(fd, current)


def _file_mode(mode: int, info: os.stat_result) -> int:
    """Inside a folder changed as a whole, files keep execute only if they had it
    (chmod's ``X``): a data file does not become a program."""
    return (mode & 0o666) | (mode & 0o111 if info.st_mode & 0o100 else 0)


def set_mode(path: str, mode: int, recursive: bool = False) -> dict[str, Any]:
    if not 0 <= mode <= 0o777:
        raise OperationError("That is not a permission setting.", "EINVAL")
    fd = acls.open_exact(path)
    changed = skipped = 0
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise OperationError(f"Only the owner may change who can use {path}", "EPERM")
        _set_mode(fd, info, mode)
        changed += 1
        if recursive and stat.S_ISDIR(info.st_mode):
            for _relative, child, child_info in acls.walk(fd):
                if child_info.st_uid != os.getuid():
                    skipped += 1
                    continue
                wanted = mode if stat.S_ISDIR(child_info.st_mode) else _file_mode(mode, child_info)
                try:
                    _set_mode(child, child_info, wanted)
                    changed += 1
                except OSError:
                    skipped += 1
    except OSError as error:
        raise acls.describe_error(error, path) from error
    finally:
        os.close(fd)
    return {"changed": changed, "skipped": skipped}


def owned(path: str) -> dict[str, Any]:
    """The item's kind if the agent's person owns it (what may be published)."""
    fd = acls.open_exact(path)
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if info.st_uid != os.getuid():
        raise OperationError(f"Only the owner may share {path}", "EPERM")
    kind = "folder" if stat.S_ISDIR(info.st_mode) else "file"
    if kind == "file" and not stat.S_ISREG(info.st_mode):
        raise OperationError(f"Only files and folders can be shared: {path}", "EINVAL")
    return {"path": path, "kind": kind}


# --- granting -----------------------------------------------------------------


def _covers(share: dict[str, Any], target: str) -> str | None:
    """``target``'s key in ``share``'s record ("" for its own item) if it shares it."""
    root = share["path"].rstrip("/")
    if target == root:
        return ""
    if share.get("item_kind") == "folder" and target.startswith(root + "/"):
        return target[len(root) + 1 :]
    return None


def _baseline(target: str, keep: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What ``target`` had before any live share touched it, as recorded by the
    first share that did; None when no live share touches it (then: what it has now)."""
    for share in keep:
        key = _covers(share, target)
        if key is not None:
            return dict(share.get("before", {}).get(key, {}))
        for step in share.get("traverse", []):
            if step["path"] == target:
                return {"a": step.get("had")} if step.get("had") is not None else {}
    return None


def _grant_item(
    fd: int,
    info: os.stat_result,
    target: str,
    grantee: tuple[Kind, int],
    need_access: str,
    keep: list[dict[str, Any]],
) -> dict[str, Any]:
    """Add the grantee's entries to one item; returns what it had before (empty when
    it had nothing of the grantee's)."""
    kind, ident = grantee
    folder = stat.S_ISDIR(info.st_mode)
    need = _perms(need_access, folder)
    current = acls.read_acl(fd, info)
    entries = _entries(current, kind)
    had = entries.get(ident)
    saved: dict[str, Any] = {}
    if had is not None:
        saved["a"] = had
    if current.mask is not None:
        fitted = current.copy()
        fitted.fit_mask()
        if fitted.mask != current.mask:
            saved["m"] = current.mask
    entries[ident] = (had or 0) | need
    current.fit_mask()
    acls.write_acl(fd, current)
    if folder:
        default = acls.read_default(fd)
        if default is None:
            default = Acl.from_mode(info.st_mode)
        else:
            saved["hd"] = True
            dhad = _entries(default, kind).get(ident)
            if dhad is not None:
                saved["d"] = dhad
        dentries = _entries(default, kind)
        dentries[ident] = (dentries.get(ident) or 0) | need
        default.fit_mask()
        acls.write_default(fd, default)
    earlier = _baseline(target, keep)
    return saved if earlier is None else earlier


def grant(
    path: str, kind: Kind, name: str, access: str, keep: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Give ``name`` read (or read-write) access to ``path`` and, for a folder,
    everything in it and everything made in it later; add ``--x`` on parent folders
    of the owner's that the grantee could not pass through. ``keep``: the owner's
    other live shares with the same grantee (their records hold the true "before").
    Returns this share's record."""
    if access not in ("read", "write"):
        raise OperationError("Choose read-only or read-write.", "EINVAL")
    keep = keep or []
    ident = _grantee_id(kind, name)
    uid, gids = _grantee_groups(kind, ident, name)
    if kind == "user" and ident == os.getuid():
        raise OperationError("You already have access to your own files.", "EINVAL")
    fd = acls.open_exact(path)
    before: dict[str, Any] = {}
    skipped = 0
    root = path.rstrip("/")
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise OperationError(f"Only the owner may share {path}", "EPERM")
        if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            raise OperationError(f"Only files and folders can be shared: {path}", "EINVAL")
        saved = _grant_item(fd, info, root, (kind, ident), access, keep)
        if saved:
            before[""] = saved
        if stat.S_ISDIR(info.st_mode):
            for relative, child, child_info in acls.walk(fd):
                if child_info.st_uid != os.getuid():
                    skipped += 1
                    continue
                try:
                    saved = _grant_item(
                        child, child_info, f"{root}/{relative}", (kind, ident), access, keep
                    )
                except OSError:
                    skipped += 1
                    continue
                if saved:
                    before[relative] = saved
    except OSError as error:
        raise acls.describe_error(error, path) from error
    finally:
        os.close(fd)
    traverse = _open_parents(root, (kind, ident), uid, gids, keep)
    return {
        "item_kind": "folder" if stat.S_ISDIR(info.st_mode) else "file",
        "before": before,
        "traverse": traverse,
        "skipped": skipped,
    }


def _open_parents(
    path: str, grantee: tuple[Kind, int], uid: int, gids: set[int], keep: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``--x`` for the grantee on each parent of the owner's that it cannot pass
    through without its own entry, from the nearest up to the first one the owner
    does not own. Each such parent is recorded, with the entry it had before."""
    kind, ident = grantee
    steps: list[dict[str, Any]] = []
    parent = os.path.dirname(path)
    while parent and parent != "/":
        try:
            fd = acls.open_exact(parent)
        except OperationError:
            break
        try:
            info = os.fstat(fd)
            if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
                break
            current = acls.read_acl(fd, info)
            # Shares come and go: only owner, group and others' bits count as a way
            # through, so each share carries the entry it needs.
            bare = Acl(current.user_obj, current.group_obj, current.other)
            if not acls.allows(bare, info, uid, gids, X):
                entries = _entries(current, kind)
                had = entries.get(ident)
                earlier = _baseline(parent, keep)
                if earlier is not None:
                    had = earlier.get("a")
                entries[ident] = (entries.get(ident) or 0) | X
                current.fit_mask()
                acls.write_acl(fd, current)
                steps.append({"path": parent, "had": had})
        finally:
            os.close(fd)
        parent = os.path.dirname(parent)
    return steps


# --- revoking -----------------------------------------------------------------


def _kept_perms(
    target: str, folder: bool, keep: list[dict[str, Any]]
) -> tuple[int | None, int | None]:
    """(access, default) perms that other live shares still need on ``target``: all
    of it where they share it, ``--x`` where it is a parent on their way."""
    access: int | None = None
    default: int | None = None
    for share in keep:
        if _covers(share, target) is not None:
            need = _perms(share["access"], folder)
            access = (access or 0) | need
            if folder:
                default = (default or 0) | need
        elif any(step["path"] == target for step in share.get("traverse", [])):
            access = (access or 0) | X
    return access, default


def _join(*perms: int | None) -> int | None:
    present = [p for p in perms if p is not None]
    if not present:
        return None
    result = 0
    for p in present:
        result |= p
    return result


def _restore_item(
    fd: int,
    info: os.stat_result,
    target: str,
    grantee: tuple[Kind, int],
    saved: dict[str, Any],
    keep: list[dict[str, Any]],
) -> None:
    kind, ident = grantee
    folder = stat.S_ISDIR(info.st_mode)
    kept_access, kept_default = _kept_perms(target, folder, keep)
    current = acls.read_acl(fd, info)
    entries = _entries(current, kind)
    wanted = _join(saved.get("a"), kept_access)
    if wanted is None:
        entries.pop(ident, None)
    else:
        entries[ident] = wanted
    current.fit_mask()
    if "m" in saved and kept_access is None and current.named():
        current.mask = saved["m"]
    acls.write_acl(fd, current)
    if not folder:
        return
    default = acls.read_default(fd)
    if default is None:
        return
    dentries = _entries(default, kind)
    dwanted = _join(saved.get("d"), kept_default)
    if dwanted is None:
        dentries.pop(ident, None)
    else:
        dentries[ident] = dwanted
    if not default.named() and not saved.get("hd") and kept_default is None:
        acls.write_default(fd, None)  # a share made it and nothing else is in it
        return
    default.fit_mask()
    acls.write_default(fd, default)


def revoke(
    path: str, kind: Kind, name: str, record: dict[str, Any], keep: list[dict[str, Any]]
) -> dict[str, Any]:
    """Undo ``grant``'s ``record`` (see the module's docstring); entries that the
    shares in ``keep`` (same owner and grantee) still need stay. A path that is gone
    or has become a symlink is left alone and reported, never followed."""
    ident = _grantee_id(kind, name)
    before: dict[str, Any] = record.get("before", {})
    problems: list[str] = []
    restored = 0
    root = path.rstrip("/")
    try:
        fd = acls.open_exact(path)
    except OperationError as error:
        problems.append(error.message)
        fd = -1
    if fd >= 0:
        try:
            info = os.fstat(fd)
            if info.st_uid == os.getuid():
                _restore_item(fd, info, root, (kind, ident), before.get("", {}), keep)
                restored += 1
                if stat.S_ISDIR(info.st_mode):
                    for relative, child, child_info in acls.walk(fd):
                        if child_info.st_uid != os.getuid():
                            continue
                        try:
                            _restore_item(
                                child,
                                child_info,
                                f"{root}/{relative}",
                                (kind, ident),
                                before.get(relative, {}),
                                keep,
                            )
                            restored += 1
                        except OSError:
                            problems.append(f"{root}/{relative}")
        except OSError as error:
            problems.append(acls.describe_error(error, path).message)
        finally:
            os.close(fd)
    for step in record.get("traverse", []):
        try:
            pfd = acls.open_exact(step["path"])
        except OperationError as error:
            problems.append(error.message)
            continue
        try:
            pinfo = os.fstat(pfd)
            if pinfo.st_uid != os.getuid():
                continue
            kept, _ = _kept_perms(step["path"], True, keep)
            current = acls.read_acl(pfd, pinfo)
            entries = _entries(current, kind)
            wanted = _join(step.get("had"), kept)
            if wanted is None:
                entries.pop(ident, None)
            else:
                entries[ident] = wanted
            current.fit_mask()
            acls.write_acl(pfd, current)
        except OSError as error:
            problems.append(acls.describe_error(error, step["path"]).message)
        finally:
            os.close(pfd)
    return {"restored": restored, "problems": problems[:20]}


# --- published items -------------------------------------------------------------


def _published_root(root: str) -> int:
    fd = acls.open_exact(root)
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise OperationError("This item is no longer available.", "ENOENT")
    return fd


def public_open(root: str, relative: str = "") -> int:
    """A read-only descriptor of a published file, or of a file inside a published
    folder: every step below the root refuses symlinks and ``..``, and only files of
    the publisher's own are handed out."""
    top = _published_root(root)
    try:
        target = acls.open_below(top, relative) if relative else os.dup(top)
    finally:
        os.close(top)
    try:
        info = os.fstat(target)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise OperationError("There is no such file here.", "ENOENT")
        try:
            fd = os.open(
                acls.proc(target), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
            )
        except OSError as error:
            raise OperationError("This file cannot be read.", "EACCES") from error
    finally:
        os.close(target)
    if os.fstat(fd).st_ino != info.st_ino:
        os.close(fd)
        raise OperationError("There is no such file here.", "ENOENT")
    os.set_blocking(fd, True)
    return fd


def public_list(root: str, relative: str = "") -> dict[str, Any]:
    """A published folder's (or subfolder's) files and folders of the publisher's
    own; symlinks and others' files are left out."""
    top = _published_root(root)
    try:
        folder = acls.open_below(top, relative) if relative else os.dup(top)
    finally:
        os.close(top)
    items: list[dict[str, Any]] = []
    try:
        info = os.fstat(folder)
        if not stat.S_ISDIR(info.st_mode):
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                raise OperationError("There is no such file here.", "ENOENT")
            return {"kind": "file", "size": info.st_size, "items": []}
        reader = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
        try:
            names = sorted(name for name in os.listdir(reader) if not is_part_file(name))[:5000]
        finally:
            os.close(reader)
        for name in names:
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid != os.getuid():
                continue
            if stat.S_ISDIR(info.st_mode):
                items.append({"name": name, "kind": "folder", "size": 0})
            elif stat.S_ISREG(info.st_mode):
                items.append({"name": name, "kind": "file", "size": info.st_size})
    except OSError as error:
        raise OperationError("This folder cannot be read.", "EACCES") from error
    finally:
        os.close(folder)
    return {"kind": "folder", "items": items}
