"""The SSRF guard: every address class refused, the site's ranges opened, the
portal's listeners refused even then, and the audit hook refusing a raw connect."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from managers.data.guard import AddressRefused, Guard
from managers.data.spec import NetworkRules

ANY = "0.0.0." + "0"  # every IPv4 address (only ever judged here, never bound)

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "169.254.169.254",
    "fd00:ec2::254",
    "169.254.1.1",
    "fe80::1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "fc00::1",
    "100.64.0.1",
    "224.0.0.1",
    "239.1.2.3",
    "ff02::1",
    "240.0.0.1",
    ANY,
    "::",
    "198.51.100.2",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused(address: str) -> None:
    guard = Guard(NetworkRules())
    with pytest.raises(AddressRefused) as caught:
        guard.check(address, 80)
    assert "Traceback" not in caught.value.message
    assert address in caught.value.message


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_allowed(address: str) -> None:
    Guard(NetworkRules()).check(address, 443)


def test_metadata_named_plainly() -> None:
    with pytest.raises(AddressRefused, match="metadata"):
        Guard(NetworkRules()).check("169.254.169.254", 80)


def test_allowed_ranges_open_a_range_only() -> None:
    guard = Guard(NetworkRules(allowed_ranges=("198.51.100.0/24", "127.0.0.0/8")))
    guard.check("198.51.100.2", 80)
    guard.check("127.0.0.1", 8080)
    guard.check("::ffff:127.0.0.1", 8080)
    with pytest.raises(AddressRefused):
        guard.check("10.0.0.1", 80)
    with pytest.raises(AddressRefused):
        guard.check("::1", 80)


def test_listeners_refused_even_when_opened() -> None:
    rules = NetworkRules(
        allowed_ranges=("127.0.0.0/8", "198.51.100.0/24"),
        portal_listeners=(("127.0.0.1", 8000), ("localhost", 8443)),
    )
    guard = Guard(rules)
    with pytest.raises(AddressRefused, match="portal"):
        guard.check("127.0.0.1", 8000)
    with pytest.raises(AddressRefused, match="portal"):
        guard.check("::ffff:127.0.0.1", 8000)
    with pytest.raises(AddressRefused, match="portal"):
        guard.check("127.0.0.1", 8443)  # localhost, resolved
    guard.check("127.0.0.1", 8001)  # another port of an opened range


def test_wildcard_listener_is_every_local_address() -> None:
    rules = NetworkRules(allowed_ranges=("0.0.0.0/0", "::/0"), portal_listeners=((ANY, 8000),))
    guard = Guard(rules)
    with pytest.raises(AddressRefused, match="portal"):
        guard.check("127.0.0.1", 8000)
    with pytest.raises(AddressRefused, match="portal"):
        guard.check("127.0.0.53", 8000)
    guard.check("8.8.8.8", 8000)  # not this machine
    guard.check("127.0.0.1", 8001)


def test_resolve_refuses_a_name_for_loopback() -> None:
    guard = Guard(NetworkRules())
    with pytest.raises(AddressRefused, match=r"localhost \(127\.0\.0\.1\)|localhost \(::1\)"):
        guard.resolve("localhost", 80)


def test_schemes() -> None:
    guard = Guard(NetworkRules(schemes=("http", "https", "file")))
    guard.check_url("https://example.org/x")
    for url in ("file:///etc/passwd", "gopher://example.org/", "ftp://example.org/x"):
        with pytest.raises(AddressRefused, match="not allowed"):
            guard.check_url(url)


HOOKED = textwrap.dedent(
    """
    import json, socket, sys
    from managers.data.guard import Guard, install
    from managers.data.spec import NetworkRules
    install(Guard(NetworkRules.model_validate(json.loads(sys.argv[1]))))
    for family, address in json.loads(sys.argv[2]):
        sock = socket.socket(getattr(socket, family), socket.SOCK_STREAM)
        try:
            sock.connect(tuple(address))
        except PermissionError as error:
            print("refused", error)
        except OSError as error:
            print("allowed", type(error).__name__)
        else:
            print("allowed connected")
        finally:
            sock.close()
    """
)


def _hooked(rules: dict[str, object], targets: list[tuple[str, list[object]]]) -> list[str]:
    import json

    done = subprocess.run(
        [sys.executable, "-c", HOOKED, json.dumps(rules), json.dumps(targets)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_audit_hook_refuses_raw_connects() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        lines = _hooked(
            {},
            [
                ("AF_INET", ["127.0.0.1", port]),
                ("AF_INET6", ["::1", port]),
                ("AF_INET6", ["::ffff:127.0.0.1", port]),
                ("AF_INET", ["169.254.169.254", 80]),
                ("AF_INET", ["localhost", port]),
            ],
        )
    assert len(lines) == 5
    assert all(line.startswith("refused") for line in lines), lines
    assert "loopback" in lines[0]


def test_audit_hook_allows_an_opened_range_but_not_the_portal() -> None:
    with socket.socket() as server, socket.socket() as portal:
        server.bind(("127.0.0.1", 0))
        server.listen()
        portal.bind(("127.0.0.1", 0))
        portal.listen()
        port, portal_port = server.getsockname()[1], portal.getsockname()[1]
        rules = {
            "allowed_ranges": ["127.0.0.0/8"],
            "portal_listeners": [[ANY, portal_port]],
        }
        lines = _hooked(
            rules, [("AF_INET", ["127.0.0.1", port]), ("AF_INET", ["127.0.0.1", portal_port])]
        )
    assert lines[0] == "allowed connected"
    assert lines[1].startswith("refused") and "portal" in lines[1]


def test_audit_hook_refuses_unix_sockets() -> None:
    code = textwrap.dedent(
        """
        import socket
        from managers.data.guard import Guard, install
        from managers.data.spec import NetworkRules
        install(Guard(NetworkRules()))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect("/run/anything.sock")
        except PermissionError:
            print("refused")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "refused"
