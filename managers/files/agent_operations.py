"""The file manager's agent operations: what the files tool's verbs ask a person's
agent to do (registered under the ``onestop.agent_operations`` entry point)."""

from __future__ import annotations

from managers.agent.operations import Operation
from managers.files import listing, manage, sharing, transfer, watch
from managers.files import operations as files

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
    "files.watch": Operation(watch.watch_folder, long_wait=True),
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
}
