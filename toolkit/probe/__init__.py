"""Network probes of IMAP and SMTP endpoints: TLS, STARTTLS, greeting, capabilities, certificate."""

from toolkit.probe.core import probe
from toolkit.probe.results import CertificateFacts, Endpoint, ProbeResult, Reason, Timeouts

__all__ = ["CertificateFacts", "Endpoint", "ProbeResult", "Reason", "Timeouts", "probe"]
