# ruff: noqa: S105  (enum values and reply texts that mention passwords, not secrets)
"""Provider personalities: folder layouts, sending rules and the replies each provider sends.

A personality belongs to a user, so one sandbox can contain users of several
kinds side by side. Everything a personality changes is data here, with its
source. That covers the folder names and delimiter that LIST and NAMESPACE
return, the passwords that log in, the treatment of the From header of
submitted mail, and the exact reply text for each failed login. The servers in
`imap.py` and `smtp.py` look these up and contain no provider text of their own.

The reply texts follow replies quoted in provider documentation and in
published session transcripts. Server ids and request ids that providers append
to a reply (such as ``[AM0PR01CA0001.eurprd01.prod.outlook.com]``) are left out.
NOTE: the Courier, Dovecot and Postfix failure texts are those servers' usual
replies and were not compared with a running server of each kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Personality(StrEnum):
    """The provider a sandbox user imitates. The values are the toolkit's provider keys."""

    GMAIL = "gmail"
    MICROSOFT365 = "microsoft365"
    COURIER = "courier"
    DOVECOT = "dovecot"


class BasicAuth(StrEnum):
    """The effect of a user name and password (IMAP LOGIN, SASL PLAIN or LOGIN)."""

    PASSWORD = "password"  # the account password logs in
    APP_PASSWORD = "app-password"  # only an app password logs in
    DISABLED = "disabled"  # basic authentication is turned off


class FromPolicy(StrEnum):
    """The SMTP server's rule for the envelope sender and the header From of submitted mail."""

    # Gmail replaces a From that is not the account or a verified "Send mail as"
    # alias with the account address.
    REWRITE_UNLESS_ALIAS = "rewrite-unless-alias"
    # Exchange Online keeps From when the account has send-as for it, adds
    # Sender when it has send-on-behalf, and rejects the message otherwise.
    SEND_AS_PERMISSIONS = "send-as-permissions"
    # Postfix with reject_sender_login_mismatch checks the envelope sender only;
    # it never looks at the header From.
    ENVELOPE_OWNER = "envelope-owner"
    # A submission server without sender checks passes every address through.
    PASS_THROUGH = "pass-through"


class AuthOutcome(StrEnum):
    """The result of a login attempt, before it becomes a provider's reply text."""

    OK = "ok"
    WRONG_PASSWORD = "wrong-password"
    APP_PASSWORD_REQUIRED = "app-password-required"
    BASIC_AUTH_DISABLED = "basic-auth-disabled"
    SMTP_AUTH_DISABLED_TENANT = "smtp-auth-disabled-tenant"
    SMTP_AUTH_DISABLED_MAILBOX = "smtp-auth-disabled-mailbox"
    TOKEN_REJECTED = "token-rejected"


@dataclass(frozen=True)
class Folder:
    """A folder created for every user of a personality, with its RFC 6154 special-use attribute."""

    name: str
    special_use: str | None = None


@dataclass(frozen=True)
class Profile:
    """Everything that a personality changes in the IMAP and SMTP servers.

    `namespace_prefix` and `delimiter` form the personal namespace that NAMESPACE
    (RFC 2342) returns. `imap_replies` and `smtp_replies` map a failed
    `AuthOutcome` to the text after the IMAP tag or the complete SMTP reply.
    Multi-line SMTP replies use ``\\r\\n`` between lines (RFC 5321 section 4.2.1).
    `saves_sent_copy` is true when the provider stores a copy of mail submitted
    over SMTP in the sender's sent folder by itself.
    """

    personality: Personality
    label: str
    delimiter: str
    namespace_prefix: str
    folders: tuple[Folder, ...]
    basic_auth: BasicAuth
    oauth: bool
    from_policy: FromPolicy
    saves_sent_copy: bool
    imap_replies: dict[AuthOutcome, bytes]
    smtp_replies: dict[AuthOutcome, str]

    @property
    def sent_folder(self) -> str | None:
        """The folder marked ``\\Sent``, or None when the personality has none."""
        for folder in self.folders:
            if folder.special_use == "Sent":
                return folder.name
        return None

    def special_use(self, name: str) -> str | None:
        """Return the special-use attribute of a folder, without the backslash."""
        for folder in self.folders:
            if folder.name == name:
                return folder.special_use
        return None

    def imap_reply(self, outcome: AuthOutcome, command: str) -> bytes:
        """Return the text of the tagged NO reply, for the LOGIN or AUTHENTICATE command."""
        if outcome is AuthOutcome.BASIC_AUTH_DISABLED:
            # Exchange Online names the command that failed: "LOGIN failed." or
            # "AUTHENTICATE failed.".
            return f"{command.upper()} failed.".encode("ascii")
        return self.imap_replies.get(outcome, self.imap_replies[AuthOutcome.WRONG_PASSWORD])

    def smtp_reply(self, outcome: AuthOutcome) -> str:
        """Return the complete SMTP reply for a failed AUTH command."""
        return self.smtp_replies.get(outcome, self.smtp_replies[AuthOutcome.WRONG_PASSWORD])


# Exchange Online sends the same reply for every rejected OAuth2 token, and the
# sandbox uses these replies for a rejected token whatever the personality.
M365_TOKEN_REJECTED_IMAP = b"AUTHENTICATE failed."
M365_TOKEN_REJECTED_SMTP = "535 5.7.3 Authentication unsuccessful"

# Gmail's replies to the account password when 2-Step Verification is on; the
# URLs are part of Gmail's reply text.
_GMAIL_IMAP_APP_PASSWORD = (
    b"[ALERT] Application-specific password required: "
    b"https://support.google.com/accounts/answer/185833 (Failure)"
)
_GMAIL_SMTP_APP_PASSWORD = (
    "534-5.7.9 Application-specific password required. Learn more at\r\n"
    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp"
)
_GMAIL_SMTP_BAD_CREDENTIALS = (
    "535-5.7.8 Username and Password not accepted. Learn more at\r\n"
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp"
)

# Microsoft Learn, "Enable or disable authenticated client SMTP submission (SMTP
# AUTH) in Exchange Online": a tenant-wide switch and a per-mailbox switch that
# overrides it. The reply names which of the two turned SMTP AUTH off.
_M365_SMTP_AUTH_DISABLED = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    "{scope}. Visit https://aka.ms/smtp_auth_disabled for more information."
)

GMAIL = Profile(
    personality=Personality.GMAIL,
    label="Gmail-like",
    delimiter="/",
    namespace_prefix="",
    # The folders Gmail's IMAP server lists, with the attributes it sends. "[Gmail]"
    # itself is not a folder, so LIST shows it as \Noselect.
    folders=(
        Folder("[Gmail]/All Mail", "All"),
        Folder("[Gmail]/Drafts", "Drafts"),
        Folder("[Gmail]/Important", "Important"),
        Folder("[Gmail]/Sent Mail", "Sent"),
        Folder("[Gmail]/Spam", "Junk"),
        Folder("[Gmail]/Starred", "Flagged"),
        Folder("[Gmail]/Trash", "Trash"),
        # A user label, shown as a top-level folder: the storage folder of the sandbox entries.
        Folder("Support"),
    ),
    basic_auth=BasicAuth.APP_PASSWORD,
    oauth=True,
    from_policy=FromPolicy.REWRITE_UNLESS_ALIAS,
    saves_sent_copy=True,
    imap_replies={
        AuthOutcome.WRONG_PASSWORD: b"[AUTHENTICATIONFAILED] Invalid credentials (Failure)",
        AuthOutcome.APP_PASSWORD_REQUIRED: _GMAIL_IMAP_APP_PASSWORD,
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_IMAP,
    },
    smtp_replies={
        AuthOutcome.WRONG_PASSWORD: _GMAIL_SMTP_BAD_CREDENTIALS,
        AuthOutcome.APP_PASSWORD_REQUIRED: _GMAIL_SMTP_APP_PASSWORD,
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_SMTP,
    },
)

MICROSOFT365 = Profile(
    personality=Personality.MICROSOFT365,
    label="Microsoft-365-like",
    delimiter="/",
    namespace_prefix="",
    folders=(
        Folder("Archive", "Archive"),
        Folder("Deleted Items", "Trash"),
        Folder("Drafts", "Drafts"),
        Folder("Junk Email", "Junk"),
        Folder("Sent Items", "Sent"),
        Folder("Support"),
    ),
    # Once Exchange Online has retired basic authentication, IMAP and SMTP AUTH
    # accept only OAuth2 tokens.
    basic_auth=BasicAuth.DISABLED,
    oauth=True,
    from_policy=FromPolicy.SEND_AS_PERMISSIONS,
    # NOTE: Exchange Online stores mail submitted with SMTP AUTH in Sent Items;
    # this follows published session reports and was not checked on a live tenant.
    saves_sent_copy=True,
    imap_replies={
        AuthOutcome.WRONG_PASSWORD: M365_TOKEN_REJECTED_IMAP,
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_IMAP,
    },
    smtp_replies={
        AuthOutcome.WRONG_PASSWORD: M365_TOKEN_REJECTED_SMTP,
        AuthOutcome.BASIC_AUTH_DISABLED: (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
        ),
        AuthOutcome.SMTP_AUTH_DISABLED_TENANT: _M365_SMTP_AUTH_DISABLED.format(scope="Tenant"),
        AuthOutcome.SMTP_AUTH_DISABLED_MAILBOX: _M365_SMTP_AUTH_DISABLED.format(scope="Mailbox"),
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_SMTP,
    },
)

COURIER = Profile(
    personality=Personality.COURIER,
    label="Courier-like",
    # Courier-IMAP keeps every folder below the personal namespace "INBOX." with
    # "." as delimiter, so a client must create "INBOX.Sent", not "Sent".
    delimiter=".",
    namespace_prefix="INBOX.",
    folders=(
        Folder("INBOX.Contact"),
        Folder("INBOX.Drafts"),
        Folder("INBOX.Sent"),
        Folder("INBOX.Support"),
        Folder("INBOX.Support.Contact"),
        Folder("INBOX.Trash"),
    ),
    basic_auth=BasicAuth.PASSWORD,
    oauth=False,
    from_policy=FromPolicy.PASS_THROUGH,
    saves_sent_copy=False,
    imap_replies={
        AuthOutcome.WRONG_PASSWORD: b"Login failed.",
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_IMAP,
    },
    smtp_replies={
        AuthOutcome.WRONG_PASSWORD: "535 Authentication failed.",
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_SMTP,
    },
)

DOVECOT = Profile(
    personality=Personality.DOVECOT,
    label="Dovecot-like",
    delimiter="/",
    namespace_prefix="",
    # Dovecot's default mailbox settings mark these four with special_use.
    folders=(
        Folder("Drafts", "Drafts"),
        Folder("Junk", "Junk"),
        Folder("Sent", "Sent"),
        Folder("Support"),
        Folder("Support/Contact"),
        Folder("Trash", "Trash"),
    ),
    basic_auth=BasicAuth.PASSWORD,
    oauth=True,
    from_policy=FromPolicy.ENVELOPE_OWNER,
    saves_sent_copy=False,
    imap_replies={
        AuthOutcome.WRONG_PASSWORD: b"[AUTHENTICATIONFAILED] Authentication failed.",
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_IMAP,
    },
    # Postfix relays the failure that Dovecot SASL reports.
    smtp_replies={
        AuthOutcome.WRONG_PASSWORD: (
            "535 5.7.8 Error: authentication failed: authentication failure"
        ),
        AuthOutcome.TOKEN_REJECTED: M365_TOKEN_REJECTED_SMTP,
    },
)

PROFILES: dict[Personality, Profile] = {
    profile.personality: profile for profile in (GMAIL, MICROSOFT365, COURIER, DOVECOT)
}

# Replies for a login name that belongs to no sandbox user and to no domain of one.
UNKNOWN_USER_IMAP = b"[AUTHENTICATIONFAILED] Invalid authentication credentials."
UNKNOWN_USER_SMTP = "535 5.7.8 Authentication credentials invalid"


def profile_of(personality: Personality) -> Profile:
    """Return the profile of a personality."""
    return PROFILES[personality]

