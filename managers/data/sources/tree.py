"""Files and folders moved through an fsspec file system (S3, SFTP, WebDAV).

The three kinds differ only in how their file system is built and which checksum
the far side offers, so the walking, the partial names and the checks are here
once. These functions block (fsspec's synchronous API, which runs its own event loop
for async file systems): the worker calls them in a thread, and cancel reaches them
between chunks.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable
from typing import Any

from fsspec import AbstractFileSystem

from managers.data.context import TransferError, Work
from managers.data.progress import Check, TransferState
from managers.data.sources import safe_name

__all__ = ["Expected", "export_tree", "import_tree", "listing"]

CHUNK = 4 << 20

# (method, expected hex digest) the far side offers for one file, or None.
Expected = Callable[[dict[str, Any]], tuple[str, str] | None]


def _is_dir(info: dict[str, Any]) -> bool:
    return str(info.get("type", "")) in ("directory", "dir", "folder")


def listing(fs: AbstractFileSystem, path: str) -> list[dict[str, Any]]:
    """One folder's entries, for her to choose from."""
    entries = []
    for info in fs.ls(path, detail=True):
        name = posixpath.basename(str(info["name"]).rstrip("/"))
        if not name or str(info["name"]).rstrip("/") == path.rstrip("/"):
            continue
        folder = _is_dir(info)
        size = info.get("size")
        entries.append(
            {
                "name": name,
                "kind": "folder" if folder else "file",
                "size": None if folder or not isinstance(size, int) else size,
            }
        )
    entries.sort(key=lambda entry: (entry["kind"] != "folder", entry["name"]))
    return entries


def _relative_parts(root: str, path: str) -> list[str]:
    """The names below ``root`` of a remote ``path``, each one made safe."""
    rest = path[len(root) :].strip("/") if path.startswith(root) else posixpath.basename(path)
    parts = [part for part in rest.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise TransferError("failed", f"The server listed a name that is not allowed: {path}")
    return [safe_name(part, "unnamed") for part in parts]


def _copy_down(
    work: Work,
    fs: AbstractFileSystem,
    path: str,
    size: int | None,
    into: str,
    label: str,
    hash_name: str | None,
    **open_options: Any,
) -> tuple[str, int, str | None]:
    """One remote file into a partial in ``into``; (partial path, size, hex digest)."""
    digest = hashlib.new(hash_name) if hash_name else None
    with work.sink(into, label) as sink:
        with fs.open(path, "rb", **open_options) as remote:
            while chunk := remote.read(CHUNK):
                if digest is not None:
                    digest.update(chunk)
                sink.write(chunk)
        sink.finish()
        if size is not None and sink.size != size:
            raise TransferError(
                "network",
                f"{posixpath.basename(path)} arrived with {sink.size:,} of {size:,} bytes.",
            )
        sink.kept = True  # the caller places it (or the clean-up removes it)
        return sink.path, sink.size, digest.hexdigest() if digest else None


def _checked(expected: tuple[str, str] | None, digest: str | None, name: str) -> str:
    if expected is None or digest is None:
        return "size"
    method, value = expected
    if digest != value:
        raise TransferError(
            "failed",
            f"{name} arrived, but its {method.upper()} checksum differs, so it was not kept.",
        )
    return method


def import_tree(
    work: Work,
    fs: AbstractFileSystem,
    root: str,
    top_name: str,
    expected: Expected,
    hash_name: str | None,
    **open_options: Any,
) -> None:
    """Bring ``root`` (a file, or a folder with all below it) into her folder: a file
    under its own name, a folder's contents directly. ``top_name`` names a file whose
    own name is unusable."""
    target = work.spec.local_path
    info = fs.info(root)
    if not _is_dir(info):
        name = safe_name(posixpath.basename(root.rstrip("/")), top_name)
        size = info.get("size") if isinstance(info.get("size"), int) else None
        work.set_totals(size, 1)
        work.ensure_room(size, target)
        work.begin(name)
        partial, got, digest = _copy_down(
            work,
            fs,
            root,
            size,
            target,
            "file",
            hash_name if expected(info) else None,
            **open_options,
        )
        work.set_state(TransferState.VERIFYING, f"Checking {name}")
        method = _checked(expected(info), digest, name)
        if work.spec.unpack:
            from managers.data import archives

            if archives.kind_of(name):
                for entry in archives.unpack(partial, name, target, work):
                    work.add_result(entry)
                os.unlink(partial)
                work.untrack(partial)
                work.finished(Check(path=name, size=got, method=method, ok=True))
                return
        final = work.place(partial, target, name)
        work.finished(Check(path=final, size=got, method=method, ok=True), final)
        return
    found = fs.find(root, detail=True, withdirs=True)
    files = {path: item for path, item in found.items() if not _is_dir(item)}
    folders = [path for path, item in found.items() if _is_dir(item)]
    total = sum(int(item.get("size") or 0) for item in files.values())
    work.set_totals(total, len(files))
    work.ensure_room(total, target)
    scratch = work.partial_name(target, "tree")
    os.mkdir(scratch, 0o700)
    work.track(scratch)
    for path in folders:
        parts = _relative_parts(root.rstrip("/"), str(path).rstrip("/"))
        if parts:
            os.makedirs(os.path.join(scratch, *parts), exist_ok=True)
    for index, (path, item) in enumerate(sorted(files.items())):
        parts = _relative_parts(root.rstrip("/"), str(path))
        if not parts:
            continue
        relative = "/".join(parts)
        work.begin(relative)
        folder = os.path.join(scratch, *parts[:-1])
        os.makedirs(folder, exist_ok=True)
        size = item.get("size") if isinstance(item.get("size"), int) else None
        want = expected(item)
        partial, got, digest = _copy_down(
            work,
            fs,
            str(path),
            size,
            folder,
            f"f{index}",
            hash_name if want else None,
            **open_options,
        )
        method = _checked(want, digest, relative)
        os.rename(partial, os.path.join(folder, parts[-1]))
        work.untrack(partial)
        work.finished(Check(path=relative, size=got, method=method, ok=True))
    work.set_state(TransferState.VERIFYING, "Checking the files")
    # Everything arrived and was checked: its entries go into her folder, as
    # ``aws s3 cp --recursive`` or ``scp -r dir/.`` would put them (a name she
    # already has gets a free variant instead).
    renamed: dict[str, str] = {}
    for entry in sorted(os.listdir(scratch)):
        final = work.place(os.path.join(scratch, entry), target, entry)
        renamed[entry] = final
        work.add_result(final)
    os.rmdir(scratch)
    work.untrack(scratch)
    if any(old != new for old, new in renamed.items()):  # the checks say where files are
        with work.lock:
            work.checks = [_moved(check, renamed) for check in work.checks]


def _moved(check: Check, renamed: dict[str, str]) -> Check:
    first, slash, rest = check.path.partition("/")
    if first not in renamed:
        return check
    return check.model_copy(update={"path": renamed[first] + slash + rest})


def export_tree(
    work: Work,
    fs: AbstractFileSystem,
    remote_folder: str,
    expected_after: Callable[[str, str | None, int], str],
    hash_name: str | None,
    rename: bool,
) -> None:
    """Send her file or folder (``local_path``) into ``remote_folder``.

    Each file is written under a hidden partial name and renamed when complete
    (``rename``; S3 objects appear whole anyway). ``expected_after(remote path, local
    digest, size)`` checks what arrived and names the method it used.
    """
    local = work.spec.local_path
    base = safe_name(os.path.basename(local.rstrip("/")), "upload")
    remote_folder = remote_folder.rstrip("/")
    plan: list[tuple[str, str]] = []  # (local path, path below the remote folder)
    if os.path.isdir(local):
        for directory, subfolders, names in os.walk(local):
            subfolders.sort()
            for name in sorted(names):
                path = os.path.join(directory, name)
                if os.path.islink(path) and not os.path.isfile(path):
                    continue
                relative = os.path.relpath(path, os.path.dirname(local.rstrip("/")))
                plan.append((path, relative.replace(os.sep, "/")))
    elif os.path.isfile(local):
        plan.append((local, base))
    else:
        raise TransferError("not_found", f"There is no file or folder at {local}.")
    sizes = [os.path.getsize(path) for path, _ in plan]
    work.set_totals(sum(sizes), len(plan))
    for path, relative in plan:
        work.begin(relative)
        destination = f"{remote_folder}/{relative}" if remote_folder else relative
        parent = posixpath.dirname(destination)
        if parent:
            fs.makedirs(parent, exist_ok=True)
        name = posixpath.basename(destination)
        writing = (
            posixpath.join(parent, f".{name}.onestop-{work.spec.id}.partial")
            if rename
            else destination
        )
        digest = hashlib.new(hash_name) if hash_name else None
        work.remote_partial = (fs, writing) if rename else None
        sent = 0
        remote = fs.open(writing, "wb")
        try:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    if digest is not None:
                        digest.update(chunk)
                    remote.write(chunk)
                    sent += len(chunk)
                    work.counted(len(chunk))
        except BaseException:
            _abandon(remote)
            raise
        remote.close()
        if rename:
            if fs.exists(destination):
                fs.rm(destination)
            fs.mv(writing, destination)
        work.remote_partial = None
        method = expected_after(destination, digest.hexdigest() if digest else None, sent)
        work.finished(Check(path=relative, size=sent, method=method, ok=True))


def _abandon(remote: Any) -> None:
    """Give up an upload without committing it (s3fs would otherwise store what it had
    on close); the partial name, where there is one, is removed by the clean-up."""
    discard = getattr(remote, "discard", None)
    try:
        if callable(discard) and "S3" in type(remote).__name__:
            discard()
            remote.closed = True
        else:
            remote.close()
    except Exception:  # the connection may be what failed; nothing more to do
        remote.closed = True
