"""What an agent can be asked to do: a fixed table of named operations.

``heavy`` operations count against the per-user cap; ``returns_fd`` ones hand an
open file back over the Unix socket instead of bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from managers.execution import operations as execution
from managers.files import listing, manage, sharing, transfer, watch
from managers.files import operations as files
from managers.notebooks import operations as notebooks


@dataclass(frozen=True)
class Operation:
    run: Callable[..., Any]
    heavy: bool = False
    returns_fd: bool = False
    # Offered to other login nodes through the TLS gateway.
    remote: bool = True


def _sleep(seconds: float) -> dict[str, Any]:
    """A stand-in heavy operation for tests of the per-user cap (bounded to 10 s)."""
    time.sleep(min(float(seconds), 10.0))
    return {"slept": seconds}


OPERATIONS: dict[str, Operation] = {
    "files.stat": Operation(files.stat_path),
    "files.list": Operation(files.list_folder),
    "files.read": Operation(files.open_for_reading, returns_fd=True),
    "files.write": Operation(files.write_file),
    "files.copy": Operation(manage.copy_item, heavy=True),
    # The file manager (managers/files/listing.py, manage.py).
    "files.page": Operation(listing.list_page),
    "files.mkdir": Operation(manage.make_folder),
    "files.create": Operation(manage.create_file),
    "files.move": Operation(manage.move),
    "files.trash": Operation(manage.trash),
    "files.trash_list": Operation(manage.list_trash),
    "files.restore": Operation(manage.restore),
    "files.purge": Operation(manage.purge),
    "files.trash_empty": Operation(manage.empty_trash, heavy=True),
    "files.save": Operation(manage.save_text),
    "files.usage": Operation(manage.usage),
    # Blocks until the folder changes or its timeout; capped per agent (files/watch.py).
    "files.watch": Operation(watch.watch_folder),
    # Permissions, ACL shares and published items (managers/files/sharing.py).
    "files.permissions": Operation(sharing.permissions),
    "files.chmod": Operation(sharing.set_mode, heavy=True),
    "files.owned": Operation(sharing.owned),
    "files.share": Operation(sharing.grant, heavy=True),
    "files.unshare": Operation(sharing.revoke, heavy=True),
    "files.public_open": Operation(sharing.public_open, returns_fd=True),
    "files.public_list": Operation(sharing.public_list),
    # Uploads write through a descriptor and zips stream from a pipe on this node;
    # not offered to other login nodes (the gateway streams reads only).
    "files.upload_start": Operation(transfer.upload_start, remote=False),
    "files.upload_open": Operation(transfer.upload_open, returns_fd=True, remote=False),
    "files.upload_finish": Operation(transfer.upload_finish, remote=False),
    "files.upload_cancel": Operation(transfer.upload_cancel, remote=False),
    "files.zip": Operation(transfer.zip_stream, returns_fd=True),
    "jobs.submit": Operation(execution.submit),
    "jobs.cancel": Operation(execution.cancel),
    "jobs.hold": Operation(execution.hold),
    "jobs.release": Operation(execution.release),
    "jobs.script": Operation(execution.batch_script),
    # Notebook sessions: the session folder and its secret, then sbatch / scancel.
    "notebooks.start": Operation(notebooks.start),
    "notebooks.stop": Operation(notebooks.stop),
    "notebooks.forget": Operation(notebooks.forget),
    # Exists for the tests of the per-person cap; not a verb, not offered remotely.
    "agent.sleep": Operation(_sleep, heavy=True, remote=False),
}

REMOTE_OPERATIONS = frozenset(name for name, op in OPERATIONS.items() if op.remote)
