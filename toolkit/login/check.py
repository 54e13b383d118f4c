"""Run a login test and analyse it in one call: `check_login` returns the result and findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.findings import Finding, ranked
from toolkit.login.diagnosis import login_findings
from toolkit.login.results import LoginResult
from toolkit.login.sasl import Mechanism
from toolkit.login.session import attempt_login
from toolkit.probe.results import Timeouts
from toolkit.settings import ServerSettings


@dataclass(frozen=True)
class LoginCheck:
    """A login test's result and its findings, errors first."""

    result: LoginResult
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the result and the findings as JSON-ready data, without any secret."""
        return {
            "result": self.result.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


def check_login(
    server: ServerSettings,
    *,
    allow_plaintext: bool = False,
    mechanism: Mechanism | None = None,
    timeouts: Timeouts | None = None,
    check_mailbox: bool = True,
) -> LoginCheck:
    """Test the login of `server` and explain the outcome; see `attempt_login` for the options.

    Raises ValueError when `mechanism` does not fit the entry.
    """
    result = attempt_login(
        server,
        allow_plaintext=allow_plaintext,
        mechanism=mechanism,
        timeouts=timeouts,
        check_mailbox=check_mailbox,
    )
    return LoginCheck(result, tuple(ranked(login_findings(result, server))))
