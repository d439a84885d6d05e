"""The external data manager: bringing data in from outside and sending results out.

The paper's third manager. It moves bytes between a person's files and a source
outside the cluster (a URL, S3-compatible object storage, SFTP, WebDAV, a public Git
repository), always as the person, so the kernel decides where she may write.

The layers, one job each:

- ``spec.py``: what the portal asks for (``TransferSpec``), the one document that
  crosses from the portal to the worker, and its ``Endpoint`` kinds.
- ``progress.py``: what the worker reports back (``Progress``) and the states.
- ``folders.py``: each transfer's private folder (``~/.onestop/transfers/<id>``) where
  the spec is handed over and the progress is read.
- ``guard.py``: which network addresses a worker may connect to (SSRF), enforced on
  every connection the worker process makes, whatever library makes it.
- ``sources/``: one module per kind, built on fsspec (s3fs, sshfs, webdav4), aiohttp
  for URLs and the ``git`` command for Git.
- ``archives.py``: unpacking .zip and .tar(.gz/.bz2/.xz) safely.
- ``worker.py`` (``python -m managers.data.worker``): the process that does one
  transfer, started by the agent (detached) or inside a Slurm job on the transfer
  partition; and short "browse" and "host key" questions, answered on stdout.
- ``operations.py`` / ``agent_operations.py``: what the person's agent does for the
  portal's ``data.*`` verbs (start, progress, cancel, forget, browse).

The portal side (records, verbs, pages, live progress) is the Data tool,
``wrappers/data``.
"""
