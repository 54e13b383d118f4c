"""Login decisions shared by the IMAP and the SMTP server.

A decision follows the personality of the login name: which password logs in,
whether basic authentication is off, whether Exchange Online's SMTP AUTH switch
is off, and whether the OAuth2 authority accepts a token. The servers turn the
`AuthOutcome` into the provider's reply text with the personality's profile.

Every failed login is logged at INFO with the login name and the outcome, never
with the password or token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from toolkit.sandbox.personalities import (
    M365_TOKEN_REJECTED_IMAP,
    M365_TOKEN_REJECTED_SMTP,
    UNKNOWN_USER_IMAP,
    UNKNOWN_USER_SMTP,
    AuthOutcome,
    BasicAuth,
    Personality,
    Profile,
)
from toolkit.sandbox.tenant import SandboxUser, Tenant
from toolkit.settings import Protocol

_log = logging.getLogger(__name__)


class TokenCheckResult(TypingProtocol):
    """The part of the authority's `TokenCheck` that the servers read."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class TokenChecker(TypingProtocol):
    """Anything that checks an OAuth2 access token for a user, like `LocalAuthority`."""

    def check_token(self, token: str, *, protocol: str, user: str) -> TokenCheckResult: ...


@dataclass(frozen=True)
class AuthDecision:
    """The outcome of one login attempt, with the user and profile that decide the reply.

    `profile` is None for a login name outside every domain of the tenant.
    `reason` is the authority's reason id for a rejected token, such as
    ``expired``, and empty otherwise.
    """

    outcome: AuthOutcome
    login: str
    user: SandboxUser | None
    profile: Profile | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the login succeeded."""
        return self.outcome is AuthOutcome.OK

    def imap_text(self, command: str) -> bytes:
        """Return the text after the tag of the NO reply to LOGIN or AUTHENTICATE."""
        if self.profile is not None:
            return self.profile.imap_reply(self.outcome, command)
        if self.outcome is AuthOutcome.TOKEN_REJECTED:
            return M365_TOKEN_REJECTED_IMAP
        return UNKNOWN_USER_IMAP

    def smtp_reply(self) -> str:
        """Return the complete SMTP reply to a failed AUTH command."""
        if self.profile is not None:
            return self.profile.smtp_reply(self.outcome)
        if self.outcome is AuthOutcome.TOKEN_REJECTED:
            return M365_TOKEN_REJECTED_SMTP
        return UNKNOWN_USER_SMTP


class Authenticator:
    """Decides logins for one tenant, with an optional OAuth2 token checker."""

    def __init__(self, tenant: Tenant, token_checker: TokenChecker | None) -> None:
        self.tenant = tenant
        self.token_checker = token_checker

    def check_password(self, login: str, password: str, protocol: Protocol) -> AuthDecision:
        """Decide a login with a user name and a password or app password."""
        decision = self._check_password(login, password, protocol)
        self._log(decision, protocol, "password")
        return decision

    def check_token(self, login: str, token: str, protocol: Protocol) -> AuthDecision:
        """Decide a login with an OAuth2 access token (XOAUTH2 or OAUTHBEARER)."""
        decision = self._check_token(login, token, protocol)
        self._log(decision, protocol, "token")
        return decision

    def _check_password(self, login: str, password: str, protocol: Protocol) -> AuthDecision:
        user = self.tenant.user(login)
        profile = self.tenant.profile_for(login)
        if profile is None:
            return AuthDecision(AuthOutcome.WRONG_PASSWORD, login, None, None)
        disabled = self._smtp_auth_disabled(user, profile, protocol)
        if disabled is not None:
            return AuthDecision(disabled, login, user, profile)
        if profile.basic_auth is BasicAuth.DISABLED:
            return AuthDecision(AuthOutcome.BASIC_AUTH_DISABLED, login, user, profile)
        if user is None or not user.can_sign_in:
            return AuthDecision(AuthOutcome.WRONG_PASSWORD, login, user, profile)
        if profile.basic_auth is BasicAuth.APP_PASSWORD:
            if user.app_password_matches(password):
                return AuthDecision(AuthOutcome.OK, login, user, profile)
            if user.password_matches(password):
                return AuthDecision(AuthOutcome.APP_PASSWORD_REQUIRED, login, user, profile)
            return AuthDecision(AuthOutcome.WRONG_PASSWORD, login, user, profile)
        if user.password_matches(password):
            return AuthDecision(AuthOutcome.OK, login, user, profile)
        return AuthDecision(AuthOutcome.WRONG_PASSWORD, login, user, profile)

    def _check_token(self, login: str, token: str, protocol: Protocol) -> AuthDecision:
        user = self.tenant.user(login)
        profile = self.tenant.profile_for(login)
        rejected = AuthOutcome.TOKEN_REJECTED
        if profile is None:
            return AuthDecision(rejected, login, None, None, "unknown-user")
        disabled = self._smtp_auth_disabled(user, profile, protocol)
        if disabled is not None:
            return AuthDecision(disabled, login, user, profile)
        if user is None or not user.can_sign_in or not profile.oauth:
            return AuthDecision(rejected, login, user, profile, "no-oauth-account")
        if self.token_checker is None:
            return AuthDecision(rejected, login, user, profile, "no-authority")
        check = self.token_checker.check_token(token, protocol=protocol.value, user=user.address)
        if check.ok:
            return AuthDecision(AuthOutcome.OK, login, user, profile)
        return AuthDecision(rejected, login, user, profile, check.reason)

    def _smtp_auth_disabled(
        self, user: SandboxUser | None, profile: Profile, protocol: Protocol
    ) -> AuthOutcome | None:
        """Return the SMTP AUTH switch outcome for Microsoft-365-like logins, or None."""
        if protocol is not Protocol.SMTP or profile.personality is not Personality.MICROSOFT365:
            return None
        if user is not None and user.smtp_auth is not None:
            return None if user.smtp_auth else AuthOutcome.SMTP_AUTH_DISABLED_MAILBOX
        return None if self.tenant.smtp_auth else AuthOutcome.SMTP_AUTH_DISABLED_TENANT

    @staticmethod
    def _log(decision: AuthDecision, protocol: Protocol, kind: str) -> None:
        if decision.ok:
            _log.info("%s %s login accepted for %s", protocol.value, kind, decision.login)
        else:
            _log.info(
                "%s %s login rejected for %s: %s%s", protocol.value, kind, decision.login,
                decision.outcome.value, f" ({decision.reason})" if decision.reason else "",
            )
