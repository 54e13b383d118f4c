"""Certificate facts and the client's view of them, from the chain a server presented.

The probe completes the TLS handshake without verification, so that it can
describe every certificate, even a bad one. This module then judges the chain
the way a client would, one concern at a time: dates, host name, and trust
(with cryptography's X.509 path validation against the system store plus an
optional CA file), so the report can name each problem on its own.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import warnings
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from toolkit.probe.results import CertificateFacts, Reason

logger = logging.getLogger(__name__)

SYSTEM_STORE = "system store"


def peer_chain(tls_object: ssl.SSLObject) -> list[bytes]:
    """Return the DER certificates the server sent, leaf first.

    Python 3.13 has `SSLObject.get_unverified_chain`; Python 3.11 and 3.12 have the
    same call on the private `_sslobj`. Where neither exists, only the leaf is known.
    """
    getter = getattr(tls_object, "get_unverified_chain", None)
    if getter is None:
        inner = getattr(tls_object, "_sslobj", None)
        getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [
            item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
            for item in chain
        ]
    # NOTE: with only the leaf, a missing intermediate looks the same as an untrusted CA.
    leaf = tls_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def analyse(
    chain_der: list[bytes], host: str, ca_file: str | None, now: datetime | None = None
) -> tuple[CertificateFacts, Reason | None]:
    """Describe the leaf certificate and return the first problem a client would reject it for.

    The order is: expired, not yet valid, host name mismatch, untrusted chain.
    Returns None as the problem when a client would accept the chain.
    """
    moment = now or datetime.now(UTC)
    certificates = [x509.load_der_x509_certificate(der) for der in chain_der]
    leaf = certificates[0]
    san_dns, san_ip = _subject_alt_names(leaf)
    not_before = leaf.not_valid_before_utc
    not_after = leaf.not_valid_after_utc
    hostname_matches = _hostname_matches(host, san_dns, san_ip)
    self_signed = _is_self_signed(leaf)
    verified, verify_error, anchors = _verify_trust(
        leaf, certificates[1:], san_dns, san_ip, ca_file, moment
    )
    missing_intermediate: bool | None = None
    if verified:
        missing_intermediate = False
    elif not self_signed and len(certificates) == 1 and leaf.issuer not in anchors:
        # Public CAs point to their intermediate with Authority Information Access; a
        # private CA usually does not. Without that hint the two cases look the same.
        if _has_ca_issuers_pointer(leaf):
            missing_intermediate = True

    facts = CertificateFacts(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        san_dns=san_dns,
        san_ip=san_ip,
        not_before=not_before,
        not_after=not_after,
        days_left=(not_after - moment) // timedelta(days=1),
        hostname_matches=hostname_matches,
        chain_verified=verified,
        verified_against=f"{SYSTEM_STORE} + {ca_file}" if ca_file else SYSTEM_STORE,
        verify_error=verify_error,
        self_signed=self_signed,
        missing_intermediate=missing_intermediate,
        chain_length=len(certificates),
        key_type=_key_type(leaf),
        signature_algorithm=_signature_algorithm(leaf),
    )
    if moment > not_after:
        return facts, Reason.CERTIFICATE_EXPIRED
    if moment < not_before:
        return facts, Reason.CERTIFICATE_NOT_YET_VALID
    if not hostname_matches:
        return facts, Reason.CERTIFICATE_HOSTNAME_MISMATCH
    if not verified:
        return facts, Reason.CERTIFICATE_UNTRUSTED
    return facts, None


def _subject_alt_names(leaf: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        extension = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return (), ()
    names = extension.value
    dns = tuple(name.lower() for name in names.get_values_for_type(x509.DNSName))
    ips = tuple(str(address) for address in names.get_values_for_type(x509.IPAddress))
    return dns, ips


def _hostname_matches(host: str, san_dns: tuple[str, ...], san_ip: tuple[str, ...]) -> bool:
    """Match names as RFC 6125 section 6.4 does: SANs only, a wildcard only as a whole label."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return any(ipaddress.ip_address(ip) == address for ip in san_ip)
    name = host.lower().rstrip(".")
    for pattern in san_dns:
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name:
            first, rest = name.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def _is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _verify_trust(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    san_dns: tuple[str, ...],
    san_ip: tuple[str, ...],
    ca_file: str | None,
    moment: datetime,
) -> tuple[bool | None, str, frozenset[x509.Name]]:
    """Check the chain up to a trust anchor, apart from dates and host name."""
    try:
        trust = _trust_store(ca_file, _mtime(ca_file) if ca_file else 0.0)
    except (OSError, ValueError) as error:
        return False, f"the CA file {ca_file} could not be read: {error}", frozenset()
    if trust is None:
        return None, "no trust anchors found", frozenset()
    store, anchor_names = trust
    # The name and time are taken from the certificate itself, so that only trust is judged.
    subject: DNSName | IPAddress
    if san_dns:
        first = san_dns[0]
        subject = DNSName("probe." + first[2:] if first.startswith("*.") else first)
    elif san_ip:
        subject = IPAddress(ipaddress.ip_address(san_ip[0]))
    else:
        return False, "the certificate has no subject alternative name", anchor_names
    inside = moment
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        inside = leaf.not_valid_before_utc + lifetime / 2
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(inside)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy())
        .build_server_verifier(subject)
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as error:
        return False, str(error), anchor_names
    return True, "", anchor_names


@cache
def _ee_policy() -> ExtensionPolicy:
    """Return the leaf policy of OpenSSL-based mail clients rather than the stricter Web PKI one.

    The Web PKI profile rejects, for example, a critical subjectAltName beside a
    non-empty subject, which OpenSSL (and so most mail clients) accepts.
    """
    return ExtensionPolicy.permit_all().require_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@cache
def _load_pem_file(path: str, mtime: float) -> list[x509.Certificate]:
    """Load every certificate of a PEM file, skipping any that cryptography cannot parse.

    System bundles hold a few old roots that newer cryptography releases warn about
    or reject; one of them must not make the whole store unusable.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    marker = b"-----END CERTIFICATE-----"
    certificates: list[x509.Certificate] = []
    for block in data.split(marker):
        start = block.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                certificates.append(x509.load_pem_x509_certificate(block[start:] + marker))
            except ValueError as error:
                logger.debug("skipped a certificate in %s: %s", path, error)
    if not certificates:
        raise ValueError(f"no PEM certificate found in {path}")
    return certificates


@cache
def _trust_store(ca_file: str | None, mtime: float) -> tuple[Store, frozenset[x509.Name]] | None:
    """Build the store of trust anchors once per CA file version; building it costs about 1 ms."""
    anchors = list(_system_anchors())
    if ca_file:
        anchors += _load_pem_file(ca_file, mtime)
    if not anchors:
        return None
    return Store(anchors), frozenset(anchor.subject for anchor in anchors)


def _system_anchors() -> list[x509.Certificate]:
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            try:
                return _load_pem_file(candidate, _mtime(candidate))
            except ValueError as error:
                logger.warning("system CA file %s could not be read: %s", candidate, error)
    return []


def _has_ca_issuers_pointer(leaf: x509.Certificate) -> bool:
    try:
        access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return False
    return any(
        description.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        for description in access.value
    )


def _key_type(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def _signature_algorithm(certificate: x509.Certificate) -> str:
    oid = certificate.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string
