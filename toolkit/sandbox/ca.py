"""A throwaway certificate authority and the server certificates of one sandbox.

trustme makes a new CA at every start, so no sandbox certificate is trusted
outside the sandbox's own clients. Three leaf certificates are issued:

- the server certificate, valid for 127.0.0.1, ::1, localhost and the sandbox
  host names, used by every normal listener and by the OAuth2 authority;
- an expired certificate with the same names;
- a certificate that names only another host, for the host-name mismatch case.

Only the CA certificate is written to disk, as PEM, so that clients outside the
process (openssl, a second kernel) can trust the sandbox.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

# The names every normal sandbox certificate is valid for.
SERVER_NAMES = ("127.0.0.1", "::1", "localhost", "imap.sandbox.test", "smtp.sandbox.test")
# The only name in the mismatched certificate. A client that connects to
# 127.0.0.1 must fail the host-name check (RFC 6125 section 6).
OTHER_HOST_NAME = "mail.other-host.test"
ORGANIZATION = "maildiag sandbox"


@dataclass(frozen=True)
class SandboxCertificates:
    """The sandbox CA and its three leaf certificates, with the path of the CA PEM file."""

    ca: trustme.CA
    server: trustme.LeafCert
    expired: trustme.LeafCert
    wrong_host: trustme.LeafCert
    ca_file: Path

    @classmethod
    def create(cls, folder: Path) -> SandboxCertificates:
        """Make a CA and the leaf certificates, and write the CA PEM into `folder`."""
        ca = trustme.CA(organization_name=ORGANIZATION)
        now = datetime.now(UTC)
        server = ca.issue_cert(*SERVER_NAMES, organization_name=ORGANIZATION)
        expired = ca.issue_cert(
            *SERVER_NAMES,
            organization_name=ORGANIZATION,
            not_before=now - timedelta(days=90),
            not_after=now - timedelta(days=30),
        )
        wrong_host = ca.issue_cert(OTHER_HOST_NAME, organization_name=ORGANIZATION)
        ca_file = folder / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca, server, expired, wrong_host, ca_file)

    def server_context(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        """Return a server-side TLS context that presents `leaf`, else the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.server).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a client-side TLS context that trusts the sandbox CA and nothing else."""
        # PROTOCOL_TLS_CLIENT verifies the chain and the host name, like
        # create_default_context, but loads none of the system's CAs.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(context)
        return context
