"""Throwaway certificates that reproduce the certificate facts a triage recorded.

Each replayed TLS listener gets its own new CA and leaf certificate, made with
cryptography's X.509 builder rather than trustme, because the replay must copy
the recorded subject and issuer names, which trustme does not let a caller
choose. The leaf copies the recorded validity window (so an expired certificate
is expired again), the recorded names, and a self-signed leaf stays
self-signed. The extensions are those trustme gives its certificates, which
the toolkit's own path validation accepts.

A leaf that matched the host name during the triage also names the replay's
address, so it matches again. A leaf that did not match names only the
recorded names, without any loopback name. The CA file goes into the replay's settings
only when the original chain was trusted (`CertificateSpec.trusted`).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = ("localhost",)
# A pointer to an issuer certificate that is never fetched: the .invalid top-level
# domain never resolves (RFC 6761 section 6.4). It only marks a leaf from a public CA.
_CA_ISSUERS_URL = "http://ca.replay.invalid/issuer.crt"


@dataclass(frozen=True)
class CertificateSpec:
    """The recorded facts of a server certificate that a replayed leaf must repeat."""

    subject: str
    issuer: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    hostname_matched: bool
    trusted: bool
    self_signed: bool
    chain_length: int
    missing_intermediate: bool

    @classmethod
    def from_facts(cls, facts: dict[str, object]) -> CertificateSpec:
        """Build the spec from the ``certificate`` object of a recorded probe result."""
        return cls(
            subject=str(facts.get("subject", "")),
            issuer=str(facts.get("issuer", "")),
            san_dns=tuple(str(name) for name in _list(facts.get("san_dns"))),
            san_ip=tuple(str(address) for address in _list(facts.get("san_ip"))),
            not_before=datetime.fromisoformat(str(facts["not_before"])),
            not_after=datetime.fromisoformat(str(facts["not_after"])),
            hostname_matched=bool(facts.get("hostname_matches", True)),
            trusted=facts.get("chain_verified") is True,
            self_signed=bool(facts.get("self_signed", False)),
            chain_length=int(str(facts.get("chain_length", 1))),
            missing_intermediate=facts.get("missing_intermediate") is True,
        )


@dataclass(frozen=True)
class IssuedCertificate:
    """The PEM files of one replayed listener: its chain, its key and the CA that issued it."""

    chain_file: Path
    key_file: Path
    ca_file: Path
    trusted: bool


def issue_certificate(
    spec: CertificateSpec, host: str, folder: Path, stem: str
) -> IssuedCertificate:
    """Make a CA and a leaf that repeat `spec` for a listener on `host`, and write the PEM files."""
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(spec.subject, f"{stem} replay")
    if spec.self_signed:
        ca_key = leaf_key
        issuer = subject
        ca_certificate = None
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        issuer = _name(spec.issuer, "maildiag replay CA")
        ca_certificate = _ca_certificate(issuer, ca_key, spec)
    leaf = _leaf_certificate(spec, host, subject, issuer, leaf_key, ca_key)

    chain = [leaf]
    if ca_certificate is not None and spec.chain_length > 1:
        chain.append(ca_certificate)
    chain_file = folder / f"{stem}-chain.pem"
    key_file = folder / f"{stem}-key.pem"
    ca_file = folder / f"{stem}-ca.pem"
    chain_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    anchor = ca_certificate if ca_certificate is not None else leaf
    ca_file.write_bytes(anchor.public_bytes(serialization.Encoding.PEM))
    return IssuedCertificate(chain_file, key_file, ca_file, spec.trusted)


def _ca_certificate(
    name: x509.Name, key: ec.EllipticCurvePrivateKey, spec: CertificateSpec
) -> x509.Certificate:
    now = datetime.now(UTC)
    # The CA is valid now and around the leaf's window, so that only the leaf's own
    # dates decide whether a client accepts it.
    not_before = min(spec.not_before, now - timedelta(days=1))
    not_after = max(spec.not_after, now + timedelta(days=365))
    return (
        _builder(name, name, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=9), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    spec: CertificateSpec,
    host: str,
    subject: x509.Name,
    issuer: x509.Name,
    leaf_key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    builder = _builder(subject, issuer, leaf_key.public_key(), spec.not_before, spec.not_after)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=spec.self_signed, path_length=None), critical=True
    )
    if not spec.self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    names = _alt_names(spec, host)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=True)
    if spec.missing_intermediate:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(_CA_ISSUERS_URL),
                    )
                ]
            ),
            critical=False,
        )
    return (
        builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=spec.self_signed,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _alt_names(spec: CertificateSpec, host: str) -> list[x509.GeneralName]:
    dns = list(spec.san_dns)
    ips = list(spec.san_ip)
    if spec.hostname_matched:
        ips.append(host)
    else:
        # The names must still not match the replay's address, whatever was recorded.
        dns = [name for name in dns if name not in _LOOPBACK_NAMES]
        ips = [address for address in ips if not ipaddress.ip_address(address).is_loopback]
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dict.fromkeys(dns)]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(ips)]
    return names


def _name(text: str, fallback: str) -> x509.Name:
    """Parse a recorded RFC 4514 name, or use `fallback` as the common name."""
    if text:
        try:
            return x509.Name.from_rfc4514_string(text)
        except ValueError as error:
            logger.info("recorded name %r cannot be parsed (%s); using %r", text, error, fallback)
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fallback)])


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []
