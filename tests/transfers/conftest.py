"""The outside world for every test here: ``transfer_hosts`` (see hosts.py).

Tests elsewhere (the portal's Data tool) use it the same way: import the fixture into
their own conftest or module namespace, ``from tests.transfers.hosts import
transfer_hosts``.
"""

from tests.transfers.hosts import transfer_hosts

__all__ = ["transfer_hosts"]
