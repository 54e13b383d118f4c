"""Certificates that trustme cannot make: other key types, long chains, no SAN, bad dates.

Every certificate is built with cryptography's X.509 builder. `server_context`
turns a leaf and the certificates a server should send with it into a TLS
server context, so a scripted server can present exactly that chain.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
# Key kinds by the name `key_type` reports for them in CertificateFacts.
KEY_KINDS = ("RSA 2048", "RSA 4096", "ECDSA secp256r1", "ECDSA secp384r1", "Ed25519")


def new_key(kind: str) -> PrivateKey:
    """Return a fresh private key of one of `KEY_KINDS`."""
    if kind.startswith("RSA "):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    if kind == "ECDSA secp256r1":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ECDSA secp384r1":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key kind {kind!r}; use one of {KEY_KINDS}")


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        """The certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _digest(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs without a separate digest; cryptography wants None for it.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    ca: bool = False,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    valid_from: datetime | None = None,
    valid_days: int = 30,
    ca_issuers_url: str | None = None,
) -> Issued:
    """Issue a certificate, self-signed when `issuer` is None.

    A leaf gets the server-auth extended key usage; `dns` and `ips` become its
    subject alternative names, and none are added when both are empty.
    """
    key = key or new_key("ECDSA secp256r1")
    now = datetime.now(UTC)
    start = valid_from or now - timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    names: list[x509.GeneralName] = [x509.DNSName(item) for item in dns]
    names += [x509.IPAddress(ipaddress.ip_address(item)) for item in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca_issuers_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
    return Issued(builder.sign(signer, _digest(signer)), key)


@dataclass(frozen=True)
class Chain:
    """A root, the intermediates below it from the top down, and the leaf."""

    root: Issued
    intermediates: tuple[Issued, ...]
    leaf: Issued


def chain(
    depth: int,
    *,
    leaf_key: str = "ECDSA secp256r1",
    expired_intermediate: bool = False,
    ca_issuers_url: str | None = None,
) -> Chain:
    """Build a root, `depth` intermediates and a leaf for 127.0.0.1.

    With `expired_intermediate` the lowest intermediate expired 10 days ago.
    """
    root = issue("Reliability Root CA", ca=True, valid_days=3650)
    parent = root
    intermediates: list[Issued] = []
    for level in range(1, depth + 1):
        expired = expired_intermediate and level == depth
        start = datetime.now(UTC) - timedelta(days=100) if expired else None
        intermediate = issue(
            f"Reliability Intermediate {level}",
            issuer=parent,
            ca=True,
            valid_from=start,
            valid_days=90 if expired else 3650,
        )
        intermediates.append(intermediate)
        parent = intermediate
    leaf = issue(
        "reliability leaf",
        issuer=parent,
        key=new_key(leaf_key),
        ips=("127.0.0.1",),
        ca_issuers_url=ca_issuers_url,
    )
    return Chain(root, tuple(intermediates), leaf)


def server_context(
    leaf: Issued, sent: Sequence[Issued], folder: Path, *, name: str = "server"
) -> ssl.SSLContext:
    """Return a TLS server context that presents `leaf` followed by the `sent` certificates."""
    cert_file = folder / f"{name}.pem"
    key_file = folder / f"{name}.key"
    cert_file.write_bytes(b"".join(item.pem for item in (leaf, *sent)))
    key_file.write_bytes(
        leaf.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def write_ca(root: Issued, path: Path) -> str:
    """Write a root certificate as a CA file and return its path as text."""
    path.write_bytes(root.pem)
    return str(path)
