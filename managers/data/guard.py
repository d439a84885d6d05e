"""Which network addresses a worker may connect to: the SSRF guard.

A transfer is a request to fetch from anywhere she names, made from inside the
cluster; without this a URL could read the cloud's metadata service, a campus
server behind the firewall or the portal's own listeners. So the worker refuses
loopback, link-local, private, multicast, reserved and unspecified addresses (and
the IPv4 forms hidden in IPv6 ones), unless the site opened a range on purpose, and
refuses the portal's listeners even then.

Two layers, so that a DNS answer that changes between the check and the connection
(rebinding) or a library that resolves on its own cannot get round it:

- ``Guard.resolve`` / ``Guard.check`` at resolve time, where the worker knows which
  host she named, so the refusal reads well;
- ``install``: an audit hook (``sys.addaudithook``) on every ``socket.connect``,
  ``sendto`` and ``sendmsg`` of the worker process, whichever library makes it, on
  the address really connected to. Audit hooks cannot be removed, so a worker
  process is guarded until it exits. Subprocesses are not covered by it: ``git``
  is pinned to the checked address with ``http.curloptResolve`` instead.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from managers.data.spec import NetworkRules

__all__ = ["AddressRefused", "Guard", "install"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 (recognised, not bound)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
COMPATIBLE = ipaddress.ip_network("::/96")


class AddressRefused(PermissionError):
    """A connection the guard will not allow; ``message`` is for her to read.

    A PermissionError, so libraries that wrap OSErrors (asyncio, aiohttp, urllib3)
    carry it up rather than turn it into something else.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _parse(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def _embedded(address: Address) -> Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), which
    is where such a packet really goes."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or (address in COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def _why_not_public(address: Address) -> str | None:
    """Plain words for why ``address`` is not a public Internet address, or None."""
    if address in METADATA:
        return "is the cloud's metadata service"
    if address.is_unspecified:
        return "is not a real destination (an unspecified address)"
    if address.is_loopback:
        return "is this machine itself (loopback)"
    if address.is_link_local:
        return "is a link-local address"
    if address.is_multicast:
        return "is a multicast address"
    if address.is_private:
        return "is a private network address"
    if address.is_reserved:
        return "is a reserved address"
    if not address.is_global:
        return "is not a public Internet address"
    return None


@functools.cache
def _is_local(address: str) -> bool:
    """Whether ``address`` belongs to this machine: the kernel lets a socket bind only
    to its own addresses, which covers every interface without listing them."""
    parsed = _parse(address)
    if parsed is None:
        return False
    if parsed.is_loopback or parsed.is_unspecified:
        return True
    family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(parsed), 0))
    except OSError:
        return False
    return True


class Guard:
    """The rules of one transfer, ready to judge addresses."""

    def __init__(self, rules: NetworkRules) -> None:
        self.rules = rules
        # The last refusal, so a library that turned it into its own error (a
        # "cannot connect" with the reason lost) is still reported as a refusal.
        self.last_refusal: str | None = None
        self.allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(text, strict=False) for text in rules.allowed_ranges
        )
        self.schemes = frozenset(scheme.lower() for scheme in rules.schemes) - {"file"}
        # Listeners on every address: any local address with that port.
        self.wildcard_ports: set[int] = set()
        self.listeners: set[tuple[Address, int]] = set()
        for host, port in rules.portal_listeners:
            if host.strip("[]") in WILDCARDS:
                self.wildcard_ports.add(port)
                continue
            for address in self._addresses_of(host):
                self.listeners.add((address, port))

    @staticmethod
    def _addresses_of(host: str) -> set[Address]:
        parsed = _parse(host)
        if parsed is not None:
            return {parsed}
        try:
            answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return set()  # a listener name nobody can resolve cannot be reached either
        found = set()
        for *_, sockaddr in answers:
            address = _parse(str(sockaddr[0]))
            if address is not None:
                found.add(address)
        return found

    def _is_listener(self, address: Address, port: int | None) -> bool:
        if port is None:
            return False
        forms = {address} | ({inner} if (inner := _embedded(address)) else set())
        if any((form, port) in self.listeners for form in forms):
            return True
        return port in self.wildcard_ports and any(_is_local(str(form)) for form in forms)

    def _is_allowed(self, address: Address) -> bool:
        forms = [address] + ([inner] if (inner := _embedded(address)) else [])
        return any(
            form.version == network.version and form in network
            for form in forms
            for network in self.allowed
        )

    def refusal(self, host: str, port: int | None = None, named: str | None = None) -> str | None:
        """Why a connection to ``host`` (an address) and ``port`` is refused, or None.
        ``named``: the host name she gave, for the message."""
        address = _parse(host)
        shown = f"{named} ({host})" if named and named != host else host
        if address is None:
            return f"{shown} is not a network address."
        if self._is_listener(address, port):
            return f"{shown} is this portal's own address; a transfer may not connect to it."
        if self._is_allowed(address):
            return None
        # An IPv6 form of an IPv4 address goes where the IPv4 address does.
        inner = _embedded(address)
        why = _why_not_public(inner if inner is not None else address)
        if why is None:
            return None
        return (
            f"{shown} {why}, which transfers may not reach. If it is your site's own "
            "storage, an administrator can allow it."
        )

    def check(self, host: str, port: int | None = None, named: str | None = None) -> None:
        reason = self.refusal(host, port, named)
        if reason is not None:
            self.last_refusal = reason
            raise AddressRefused(reason)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` a worker may connect to, in the resolver's order;
        AddressRefused (naming the first reason) when there is none."""
        if _parse(host) is not None:
            self.check(host, port)
            return [str(_parse(host))]
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise OSError(f"The name {host} could not be found.") from error
        good: list[str] = []
        reasons: list[str] = []
        for *_, sockaddr in answers:
            address = str(sockaddr[0])
            reason = self.refusal(address, port, named=host)
            if reason is None:
                if address not in good:
                    good.append(address)
            else:
                reasons.append(reason)
        if not good:
            self.last_refusal = reasons[0] if reasons else f"{host} has no address."
            raise AddressRefused(self.last_refusal)
        return good

    def check_url(self, url: str, schemes: Iterable[str] | None = None) -> SplitResult:
        """The parts of ``url`` when its scheme is allowed and it names a host."""
        parts = urlsplit(url.strip())
        allowed = self.schemes if schemes is None else frozenset(schemes) & self.schemes
        if parts.scheme.lower() not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise AddressRefused(
                f"Addresses starting with {parts.scheme or '(nothing)'}:// are not allowed "
                f"here (allowed: {listed})."
            )
        if not parts.hostname:
            raise AddressRefused(f"{url} does not name a server.")
        return parts

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook's body: every connection this process makes."""
        if event not in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            return
        sock, address = args[0], args[1]
        if address is None:  # sendmsg on a connected socket: checked when it connected
            return
        family = getattr(sock, "family", None)
        if family == socket.AF_UNIX:
            self.last_refusal = "A transfer may not connect to a local socket."
            raise AddressRefused(self.last_refusal)
        if family not in (socket.AF_INET, socket.AF_INET6):
            return
        host, port = str(address[0]), int(address[1])
        if _parse(host) is not None:
            self.check(host, port)
            return
        # A library that hands a name to connect(): every address it may get is judged.
        self.resolve(host, port)


def install(guard: Guard) -> None:
    """Guard every later connection of this process (for good: hooks stay)."""
    sys.addaudithook(guard.audit)
