"""The probe against servers whose certificates are unusual or wrong, one kind per case.

Each server speaks IMAP over implicit TLS and presents a chain built in
tests/reliability/certs.py. The probe must finish the handshake, describe the
leaf, and name the first problem a client would reject it for.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.probe.scripted import scripted_server, wait_for_close
from tests.reliability import certs
from tests.reliability.measure import FAST, MEMORY_LIMIT, budget, measured
from toolkit.probe import Endpoint, ProbeResult, Reason, probe
from toolkit.probe.certificates import analyse
from toolkit.settings import Protocol, Security

GREETING = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"
STAGES = ("connect", "handshake", "greeting", "read")


@dataclass(frozen=True)
class Presented:
    """A server context, the CA file that a client should trust, and the leaf."""

    context: ssl.SSLContext
    ca_file: str
    leaf: certs.Issued
    sent: tuple[certs.Issued, ...]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability-certs")


def present(
    folder: Path, name: str, chain: certs.Chain, *, send_intermediates: bool = True
) -> Presented:
    sent = tuple(reversed(chain.intermediates)) if send_intermediates else ()
    context = certs.server_context(chain.leaf, sent, folder, name=name)
    ca_file = certs.write_ca(chain.root, folder / f"{name}-ca.pem")
    return Presented(context, ca_file, chain.leaf, sent)


def single(folder: Path, name: str, **leaf_options: object) -> Presented:
    """A root and one leaf signed by it directly."""
    root = certs.issue(f"{name} root", ca=True, valid_days=3650)
    leaf = certs.issue(f"{name} leaf", issuer=root, **leaf_options)  # type: ignore[arg-type]
    return present(folder, name, certs.Chain(root, (), leaf))


def probe_presented(presented: Presented) -> tuple[ProbeResult, float, int]:
    def behaviour(connection: socket.socket) -> None:
        with presented.context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(GREETING)
            wait_for_close(tls, 5)

    with scripted_server(behaviour) as port:
        endpoint = Endpoint(
            "127.0.0.1", port, Protocol.IMAP, Security.IMPLICIT_TLS, presented.ca_file
        )
        outcome = measured(lambda: probe(endpoint, FAST))
    return outcome.value, outcome.seconds, outcome.peak_bytes


def checked(presented: Presented, reason: Reason) -> ProbeResult:
    """Probe, and check the reason, the time budget and the memory bound."""
    result, seconds, peak = probe_presented(presented)
    assert result.reason is reason, result.certificate
    assert seconds < budget(FAST, *STAGES)
    assert peak < MEMORY_LIMIT
    assert result.certificate is not None
    return result


@pytest.mark.parametrize("kind", certs.KEY_KINDS)
def test_key_type(folder: Path, kind: str) -> None:
    try:
        presented = single(folder, kind.replace(" ", "-"), key=certs.new_key(kind),
                           ips=("127.0.0.1",))
    except ssl.SSLError as error:
        pytest.skip(f"OpenSSL cannot serve a {kind} certificate here: {error}")
    result = checked(presented, Reason.OK)
    assert result.certificate is not None
    assert result.certificate.key_type == kind
    assert result.certificate.chain_verified


def test_ip_san(folder: Path) -> None:
    result = checked(single(folder, "ip-san", ips=("127.0.0.1",)), Reason.OK)
    assert result.certificate is not None
    assert result.certificate.san_ip == ("127.0.0.1",)
    assert result.certificate.hostname_matches


def test_no_san(folder: Path) -> None:
    result = checked(single(folder, "no-san"), Reason.CERTIFICATE_HOSTNAME_MISMATCH)
    facts = result.certificate
    assert facts is not None
    assert facts.san_dns == ()
    assert facts.san_ip == ()
    assert "no subject alternative name" in facts.verify_error


def test_wildcard_on_address(folder: Path) -> None:
    presented = single(folder, "wildcard", dns=("*.example.test",))
    result = checked(presented, Reason.CERTIFICATE_HOSTNAME_MISMATCH)
    assert result.certificate is not None
    assert result.certificate.san_dns == ("*.example.test",)
    # The chain is fine; only the name does not fit the address probed.
    assert result.certificate.chain_verified


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("imap.example.test", None),
        ("IMAP.Example.Test.", None),
        ("a.b.example.test", Reason.CERTIFICATE_HOSTNAME_MISMATCH),
        ("example.test", Reason.CERTIFICATE_HOSTNAME_MISMATCH),
    ],
)
def test_wildcard_names(folder: Path, host: str, problem: Reason | None) -> None:
    # Names other than loopback cannot be resolved here, so the chain is judged directly.
    presented = single(folder, "wildcard-names", dns=("*.example.test",))
    der = [presented.leaf.certificate.public_bytes(Encoding.DER)]
    _facts, found = analyse(der, host, presented.ca_file)
    assert found is problem


@pytest.fixture(scope="module")
def long_chain() -> certs.Chain:
    return certs.chain(3, ca_issuers_url="http://ca.example.test/intermediate-3.der")


def test_long_chain_sent_whole(folder: Path, long_chain: certs.Chain) -> None:
    result = checked(present(folder, "long-all", long_chain), Reason.OK)
    facts = result.certificate
    assert facts is not None
    assert facts.chain_length == 4
    assert facts.chain_verified
    assert facts.missing_intermediate is False


def test_long_chain_without_intermediates(folder: Path, long_chain: certs.Chain) -> None:
    presented = present(folder, "long-none", long_chain, send_intermediates=False)
    result = checked(presented, Reason.CERTIFICATE_UNTRUSTED)
    facts = result.certificate
    assert facts is not None
    assert facts.chain_length == 1
    assert facts.chain_verified is False
    # The leaf points to its issuer with Authority Information Access, which marks the gap.
    assert facts.missing_intermediate is True


def test_expired_intermediate(folder: Path) -> None:
    presented = present(folder, "expired-intermediate", certs.chain(1, expired_intermediate=True))
    result = checked(presented, Reason.CERTIFICATE_UNTRUSTED)
    facts = result.certificate
    assert facts is not None
    assert facts.days_left > 0
    assert facts.chain_verified is False
    assert facts.verify_error


def test_self_signed_leaf(folder: Path) -> None:
    leaf = certs.issue("self-signed leaf", ips=("127.0.0.1",))
    context = certs.server_context(leaf, (), folder, name="self-signed")
    other_root = certs.issue("unrelated root", ca=True)
    ca_file = certs.write_ca(other_root, folder / "self-signed-ca.pem")
    result = checked(Presented(context, ca_file, leaf, ()), Reason.CERTIFICATE_UNTRUSTED)
    assert result.certificate is not None
    assert result.certificate.self_signed


def test_not_yet_valid_leaf(folder: Path) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    presented = single(folder, "future", ips=("127.0.0.1",), valid_from=tomorrow)
    result = checked(presented, Reason.CERTIFICATE_NOT_YET_VALID)
    assert result.certificate is not None
    assert result.certificate.not_before > datetime.now(UTC)

