"""Public Git repositories: a shallow clone with the ``git`` command.

``git`` is a subprocess, which the worker's audit hook does not see, so it is held
to the same rules another way: the address the guard checked is pinned with
``http.curloptResolve`` (a name that resolves differently a moment later changes
nothing), redirects are off, only http(s) as the site allows them, no prompt for a
password (public repositories only), and none of her Git configuration (an
``insteadOf`` could send it elsewhere) or proxies. Git's own hashes are the
integrity check: ``git fsck`` after the clone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from managers.data.context import TransferError, Work
from managers.data.guard import Guard
from managers.data.progress import Check, TransferState
from managers.data.sources import safe_name
from managers.data.spec import GitEndpoint

__all__ = ["browse", "clone_command", "fetch"]

FAILURES = (
    ("not found", "not_found", "There is no such repository, or it is not public."),
    ("could not find remote branch", "not_found", "The repository has no branch or tag {ref}."),
    (
        "terminal prompts disabled",
        "auth",
        "This repository asks for a password: only public repositories can be cloned.",
    ),
    (
        "authentication failed",
        "auth",
        "This repository asks for a password: only public repositories can be cloned.",
    ),
    ("redirect", "network", "The server redirected the clone elsewhere, which is not followed."),
)


def _environment() -> dict[str, str]:
    """Only what git needs; nothing of hers that could change where it connects."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_LFS_SKIP_SMUDGE": "1",
    }


def clone_command(
    endpoint: GitEndpoint, guard: Guard, address: str, into: str, ca_file: str | None
) -> list[str]:
    """The argument list of the clone, pinned to the checked ``address``."""
    parts = guard.check_url(endpoint.url, ("http", "https"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned = f"[{address}]" if ":" in address else address
    options = [
        "protocol.allow=never",
        *(
            f"protocol.{scheme}.allow=always"
            for scheme in ("http", "https")
            if scheme in guard.schemes
        ),
        "http.followRedirects=false",
        f"http.curloptResolve={parts.hostname}:{port}:{pinned}",
        "core.hooksPath=/dev/null",
        "transfer.fsckObjects=true",
        "credential.helper=",
    ]
    if ca_file:
        options.append(f"http.sslCAInfo={ca_file}")
    argv = ["git"]
    for option in options:
        argv += ["-c", option]
    argv += ["clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet"]
    if endpoint.ref:
        argv += ["--branch", endpoint.ref]
    return [*argv, "--", endpoint.url, into]


def _size_of(folder: str) -> tuple[int, int]:
    """(bytes, files outside .git) under ``folder``."""
    total = files = 0
    for directory, subfolders, names in os.walk(folder):
        inside_git = ".git" in os.path.relpath(directory, folder).split(os.sep)
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
                if not inside_git:
                    files += 1
        del subfolders
    return total, files


def _failure(stderr: str, endpoint: GitEndpoint) -> TransferError:
    lowered = stderr.lower()
    for needle, code, message in FAILURES:
        if needle in lowered:
            return TransferError(code, message.format(ref=endpoint.ref or ""))
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    detail = last.removeprefix("fatal: ").strip()[:300]
    return TransferError("network", f"The clone failed: {detail or 'git gave no reason'}.")


async def _run(argv: list[str], work: Work, watch: str | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(),
    )
    try:
        assert process.stderr is not None
        reading = asyncio.ensure_future(process.stderr.read(1 << 20))
        while process.returncode is None:
            work.check_cancel()
            if watch is not None:
                done, _files = await asyncio.to_thread(_size_of, watch)
                with work.lock:
                    work.bytes_done = done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), 0.5)
        stderr = (await reading).decode(errors="replace")
        return process.returncode, stderr
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def fetch(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, GitEndpoint)
    parts = work.guard.check_url(endpoint.url, ("http", "https"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = (await asyncio.to_thread(work.guard.resolve, parts.hostname or "", port))[0]
    target = work.spec.local_path
    name = safe_name(
        (parts.path.rstrip("/").rpartition("/")[2]).removesuffix(".git"), parts.hostname or "repo"
    )
    scratch = work.partial_name(target, "git")
    work.track(scratch)
    work.set_totals(None, None)
    work.set_state(TransferState.RUNNING)
    work.begin(name)
    argv = clone_command(endpoint, work.guard, address, scratch, work.spec.network.ca_file)
    status, stderr = await _run(argv, work, watch=scratch)
    if status != 0:
        raise _failure(stderr, endpoint)
    work.set_state(TransferState.VERIFYING, "Checking the repository (git fsck)")
    status, stderr = await _run(["git", "-C", scratch, "fsck", "--no-progress", "--full"], work)
    if status != 0:
        raise TransferError(
            "failed", "The cloned repository failed git's own check, so it was not kept."
        )
    size, files = await asyncio.to_thread(_size_of, scratch)
    with work.lock:
        work.bytes_done = size
        work.bytes_total = size
        work.files_total = files
        work.files_done = files - 1
    final = work.place(scratch, target, name)
    work.finished(Check(path=final, size=size, method="git", ok=True), final)


async def browse(request: dict[str, Any], guard: Guard) -> dict[str, Any]:
    raise TransferError("failed", "Git repositories cannot be browsed.")
