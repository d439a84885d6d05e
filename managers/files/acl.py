"""POSIX ACLs read and written as the kernel stores them, on descriptors, never on
names that could be swapped for a symlink between a check and its use.

An ACL is the extended attribute ``system.posix_acl_access`` (and, on folders,
``system.posix_acl_default``, which new files inherit): a little-endian version
word (2) followed by (tag u16, perms u16, id u32) entries, ordered by tag then id
(linux/posix_acl_xattr.h). Writing it through ``/proc/self/fd/N`` of an ``O_PATH``
descriptor reaches exactly the inode that was opened and checked, without needing
read permission on it; the kernel still lets only the owner change it. Doing the
format here, rather than running ``setfacl``, keeps every change on a descriptor
and needs no extra library.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from managers.errors import OperationError

ACCESS = "system.posix_acl_access"
DEFAULT = "system.posix_acl_default"
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
UNDEFINED_ID = 0xFFFFFFFF
VERSION = 2
_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<HHI")
R, W, X = 4, 2, 1
MAX_DEPTH = 200
MAX_ITEMS = 200_000


@dataclass
class Acl:
    """One ACL; ``mask`` is None for a minimal ACL (owner, group, others only)."""

    user_obj: int
    group_obj: int
    other: int
    mask: int | None = None
    users: dict[int, int] = field(default_factory=dict)
    groups: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_mode(cls, mode: int) -> Acl:
        return cls((mode >> 6) & 7, (mode >> 3) & 7, mode & 7)

    @classmethod
    def decode(cls, data: bytes) -> Acl:
        if len(data) < _HEADER.size or (len(data) - _HEADER.size) % _ENTRY.size:
            raise OperationError("This item's access list is unreadable.", "EINVAL")
        (version,) = _HEADER.unpack_from(data)
        if version != VERSION:
            raise OperationError("This item's access list is of an unknown kind.", "EINVAL")
        acl = cls(0, 0, 0)
        for offset in range(_HEADER.size, len(data), _ENTRY.size):
            tag, perms, ident = _ENTRY.unpack_from(data, offset)
            perms &= 7
            if tag == USER_OBJ:
                acl.user_obj = perms
            elif tag == GROUP_OBJ:
                acl.group_obj = perms
            elif tag == OTHER:
                acl.other = perms
            elif tag == MASK:
                acl.mask = perms
            elif tag == USER:
                acl.users[ident] = perms
            elif tag == GROUP:
                acl.groups[ident] = perms
        return acl

    def encode(self) -> bytes:
        entries = [(USER_OBJ, self.user_obj, UNDEFINED_ID)]
        entries += [(USER, perms, ident) for ident, perms in sorted(self.users.items())]
        entries.append((GROUP_OBJ, self.group_obj, UNDEFINED_ID))
        entries += [(GROUP, perms, ident) for ident, perms in sorted(self.groups.items())]
        if self.mask is not None:
            entries.append((MASK, self.mask, UNDEFINED_ID))
        entries.append((OTHER, self.other, UNDEFINED_ID))
        return _HEADER.pack(VERSION) + b"".join(_ENTRY.pack(*entry) for entry in entries)

    def named(self) -> bool:
        return bool(self.users or self.groups)

    def fit_mask(self) -> None:
        """As setfacl does: the mask lets through every group-class entry; none
        without named entries (the ACL is then just the mode)."""
        if not self.named():
            self.mask = None
            return
        union = self.group_obj
        for perms in (*self.users.values(), *self.groups.values()):
            union |= perms
        self.mask = union

    def copy(self) -> Acl:
        return Acl(
            self.user_obj,
            self.group_obj,
            self.other,
            self.mask,
            dict(self.users),
            dict(self.groups),
        )


def proc(fd: int) -> str:
    """The name of exactly the opened inode, usable by chmod and xattr calls."""
    return f"/proc/self/fd/{fd}"


def read_acl(fd: int, info: os.stat_result) -> Acl:
    try:
        return Acl.decode(os.getxattr(proc(fd), ACCESS))
    except OSError as error:
        if error.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return Acl.from_mode(info.st_mode)
        raise


def read_default(fd: int) -> Acl | None:
    try:
        return Acl.decode(os.getxattr(proc(fd), DEFAULT))
    except OSError as error:
        if error.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return None
        raise


def write_acl(fd: int, acl: Acl) -> None:
    """The kernel turns a minimal ACL back into plain mode bits (no xattr left)."""
    try:
        os.setxattr(proc(fd), ACCESS, acl.encode())
    except OSError as error:
        if error.errno == errno.EOPNOTSUPP:
            raise OperationError(
                "This filesystem does not support sharing with people (no ACL support). "
                "Ask your HPC team.",
                "EOPNOTSUPP",
            ) from error
        raise


def write_default(fd: int, acl: Acl | None) -> None:
    if acl is None:
        try:
            os.removexattr(proc(fd), DEFAULT)
        except OSError as error:
            if error.errno != errno.ENODATA:
                raise
        return
    os.setxattr(proc(fd), DEFAULT, acl.encode())


def allows(acl: Acl, info: os.stat_result, uid: int, gids: set[int], bit: int) -> bool:
    """The kernel's access check (acl_permission_check) for someone who is not root."""
    if uid == info.st_uid:
        return bool(acl.user_obj & bit)
    mask = acl.mask if acl.mask is not None else 7
    if uid in acl.users:
        return bool(acl.users[uid] & mask & bit)
    matched = False
    group_mask = mask if acl.mask is not None else 7
    if info.st_gid in gids:
        matched = True
        if acl.group_obj & group_mask & bit:
            return True
    for gid, perms in acl.groups.items():
        if gid in gids:
            matched = True
            if perms & mask & bit:
                return True
    return False if matched else bool(acl.other & bit)


def describe_error(error: OSError, path: str) -> OperationError:
    words = {
        errno.EACCES: "You do not have permission to do that with",
        errno.EPERM: "Only the owner may change who can use",
        errno.ENOENT: "There is no file or folder at",
        errno.ENOTDIR: "A part of this path is not a folder:",
        errno.ELOOP: "This path goes through a shortcut (symbolic link):",
    }
    kind = errno.errorcode.get(error.errno or 0, "EIO")
    return OperationError(f"{words.get(error.errno or 0, 'Could not use')} {path}", kind)


def open_exact(path: str, _hops: int = 0) -> int:
    """An ``O_PATH`` descriptor of ``path``, reached one component at a time without
    following symlinks, so nothing swapped in meanwhile can redirect it.

    A symlink owned by root (a site's ``/home -> /data/home``) is trusted and
    resolved; any other symlink on the way is refused with ``ELOOP``: a link that
    someone else could have planted must not decide what gets shared.
    """
    if not path.startswith("/") or _hops > 8:
        raise OperationError(f"This path goes through too many shortcuts: {path}", "ELOOP")
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise OperationError(f"This path is not allowed: {path}", "EINVAL")
    current = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, name in enumerate(parts):
            try:
                child = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            except OSError as error:
                raise describe_error(error, path) from error
            info = os.fstat(child)
            if stat.S_ISLNK(info.st_mode):
                os.close(child)
                if info.st_uid != 0:
                    raise OperationError(
                        "This path goes through a shortcut (symbolic link); open the real "
                        f"folder instead: {path}",
                        "ELOOP",
                    )
                target = os.readlink(name, dir_fd=current)
                base = "/" + "/".join(parts[:index])
                rest = "/".join(parts[index + 1 :])
                resolved = os.path.normpath(os.path.join(base, target, rest))
                os.close(current)
                current = -1
                return open_exact(resolved, _hops + 1)
            if index < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
                os.close(child)
                raise OperationError(f"A part of this path is not a folder: {path}", "ENOTDIR")
            os.close(current)
            current = child
        result, current = current, -1
        return result
    finally:
        if current >= 0:
            os.close(current)


def open_below(folder_fd: int, relative: str) -> int:
    """An ``O_PATH`` descriptor of ``relative`` inside an open folder, refusing every
    symlink and every ``..``: nothing below a published folder may lead out of it."""
    parts = [part for part in relative.split("/") if part]
    if any(part in (".", "..") or "\x00" in part for part in parts):
        raise OperationError("This address is not allowed.", "EINVAL")
    current = os.dup(folder_fd)
    try:
        for name in parts:
            child = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            os.close(current)
            current = child
            if stat.S_ISLNK(os.fstat(current).st_mode):
                raise OperationError("Shortcuts (symbolic links) are not shared.", "ELOOP")
        result, current = current, -1
        return result
    except OSError as error:
        raise OperationError("There is no such file here.", "ENOENT") from error
    finally:
        if current >= 0:
            os.close(current)


def walk(top_fd: int) -> Iterator[tuple[str, int, os.stat_result]]:
    """Everything below an open folder as (relative path, ``O_PATH`` fd, stat),
    parents before children; symlinks are skipped, never followed. The fd is closed
    once the consumer moves on. Unreadable folders are passed over."""
    count = 0

    def below(folder: int, prefix: str, depth: int) -> Iterator[tuple[str, int, os.stat_result]]:
        nonlocal count
        if depth > MAX_DEPTH:
            raise OperationError("This folder is nested too deeply to change at once.", "E2BIG")
        try:
            reader = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
        except OSError:
            return
        try:
            names = sorted(os.listdir(reader))
        finally:
            os.close(reader)
        for name in names:
            count += 1
            if count > MAX_ITEMS:
                raise OperationError(
                    f"This folder holds more than {MAX_ITEMS} items; change smaller parts.",
                    "E2BIG",
                )
            try:
                child = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError:
                continue
            try:
                info = os.fstat(child)
                if stat.S_ISLNK(info.st_mode):
                    continue
                relative = f"{prefix}{name}"
                yield relative, child, info
                if stat.S_ISDIR(info.st_mode):
                    yield from below(child, relative + "/", depth + 1)
            finally:
                os.close(child)

    yield from below(top_fd, "", 0)
