"""TLS for agent traffic between login nodes: mutual certificates from one private CA.

Both ends trust only the CA they are given (never the system's public CAs), so a
certificate bought anywhere else opens nothing. Both ends present a certificate:
the gateway refuses a portal without one at the handshake, and the portal refuses
a gateway whose certificate does not name the host it dialled.

``make_dev_certificates`` builds a throwaway CA with server and client certificates
for development and tests; production certificates come from the site's own CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DevCertificates", "client_context", "make_dev_certificates", "server_context"]


def server_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """The gateway's context: TLS 1.2 or newer, and a client certificate signed by
    ``ca`` is required (a client without one fails the handshake)."""
    _exist(cert=cert, key=key, ca=ca)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=ca)
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


def client_context(cert: str | None, key: str | None, ca: str) -> ssl.SSLContext:
    """The portal's context for dialling a gateway: the gateway's certificate must
    come from ``ca`` and name the host dialled. ``cert`` may be None only to show,
    in tests, that a client without a certificate gets nowhere."""
    _exist(cert=cert, key=key, ca=ca)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca)
    if cert is not None:
        context.load_cert_chain(certfile=cert, keyfile=key)
    return context


def _exist(**paths: str | None) -> None:
    """OpenSSL's own error for a missing file names no file; this one does."""
    for role, path in paths.items():
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"The {role} file {path} does not exist.")


@dataclass(frozen=True)
class DevCertificates:
    """Paths of a throwaway PKI; ``clients`` maps a common name to (cert, key)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]] = field(default_factory=dict)


def make_dev_certificates(
    folder: Path,
    *,
    server_names: tuple[str, ...] = ("127.0.0.1", "localhost"),
    client_names: tuple[str, ...] = ("portal",),
    days: int = 30,
) -> DevCertificates:
    """A new CA, a server certificate for ``server_names`` (IP addresses become IP
    SANs, anything else DNS SANs) and one client certificate per ``client_names``,
    written as PEM files into ``folder``. Keys are 0600. Never use these in production:
    the CA key sits next to the certificates."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Onestop development"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def builder(
        subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"Onestop development CA {folder.name}")
    ca_cert = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        issued = (
            builder(name(common_name), ca_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            issued = issued.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return issued.sign(ca_key, hashes.SHA256()), key

    sans: list[x509.GeneralName] = []
    for host in server_names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    server_cert, server_key = leaf(server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)

    paths = DevCertificates(
        ca_cert=folder / "ca.pem",
        ca_key=folder / "ca.key",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        clients={cn: (folder / f"{cn}.pem", folder / f"{cn}.key") for cn in client_names},
    )
    _write_cert(paths.ca_cert, ca_cert)
    _write_key(paths.ca_key, ca_key)
    _write_cert(paths.server_cert, server_cert)
    _write_key(paths.server_key, server_key)
    for common_name, (cert_path, key_path) in paths.clients.items():
        client_cert, client_key = leaf(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
        _write_cert(cert_path, client_cert)
        _write_key(key_path, client_key)
    return paths


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Created 0600 from the start, so the key is never readable by others, even briefly."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an older file of that name keeps its mode
        handle.write(data)


if __name__ == "__main__":  # python -m managers.agent.tls FOLDER: a development PKI
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m managers.agent.tls FOLDER")
    made = make_dev_certificates(Path(sys.argv[1]))
    print(f"CA {made.ca_cert}, server {made.server_cert}, clients {sorted(made.clients)}")
