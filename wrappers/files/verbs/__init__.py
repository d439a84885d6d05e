"""The files tool's verbs: reading and writing, the file manager, sharing and public
links (and what a link opens, ``public``), transfers."""

from wrappers.files.verbs import basic, manage, public, share, transfer

VERBS = (*basic.VERBS, *manage.VERBS, *share.VERBS, *public.VERBS, *transfer.VERBS)

__all__ = ["VERBS"]
