"""The files tool's verbs: reading and writing, the file manager, sharing and public
links, transfers."""

from wrappers.files.verbs import basic, manage, share, transfer

VERBS = (*basic.VERBS, *manage.VERBS, *share.VERBS, *transfer.VERBS)

__all__ = ["VERBS"]
