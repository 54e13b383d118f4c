"""Read a saved triage report into scripts for the replay's listeners, one per checked entry.

A script describes how the listener starts a session: implicit TLS, a plain
greeting with or without STARTTLS, both, silence, a greeting that closes the
session, or a port that refuses. It also gives the greeting and capabilities
to send before and after TLS, the certificate to present, the reply to a login
and the folders to list. Everything comes from the report's step data, and
nothing here does I/O.

Cases a loopback listener cannot show (a name that does not resolve, a
connection that times out, a TLS handshake that fails for other reasons) are
listed in `EntryScript.notes`, and their listener stays silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit.probe.results import Reason
from toolkit.replay.certs import CertificateSpec
from toolkit.settings import Protocol
from toolkit.triage.model import StepKey

# Probe reasons after which the session itself worked in that mode.
_WORKED = {
    Reason.OK.value,
    Reason.CERTIFICATE_EXPIRED.value,
    Reason.CERTIFICATE_NOT_YET_VALID.value,
    Reason.CERTIFICATE_HOSTNAME_MISMATCH.value,
    Reason.CERTIFICATE_UNTRUSTED.value,
}
_SILENT = {
    Reason.GREETING_TIMEOUT.value,
    Reason.TLS_HANDSHAKE_TIMEOUT.value,
    Reason.READ_TIMEOUT.value,
}


class ReplayError(ValueError):
    """A report whose data is not enough to replay it. The message names what is missing."""


class ListenerMode(StrEnum):
    """The start of each session on a replayed listener."""

    IMPLICIT_TLS = "implicit-tls"
    STARTTLS = "starttls"  # a plain greeting, and STARTTLS offered
    PLAIN = "plain"  # a plain greeting, and no STARTTLS
    BOTH = "both"  # TLS when the client starts a handshake, else a plain greeting
    SILENT = "silent"
    GREETING_THEN_SILENT = "greeting-then-silent"
    GREETING_THEN_CLOSE = "greeting-then-close"
    REFUSED = "refused"


class AuthBehaviour(StrEnum):
    """The listener's handling of a login command."""

    REPLY = "reply"
    SILENT = "silent"
    CLOSE = "close"


@dataclass(frozen=True)
class LoginScript:
    """The recorded reply to a login, whatever the credentials.

    `reply` is the IMAP status and text after the tag, or the SMTP reply with
    its lines joined by newlines. `token_error` is the JSON challenge a server
    sent for a rejected token. `mailbox_reply` is the IMAP reply to EXAMINE
    INBOX when that failed after the login.
    """

    accepted: bool
    reply: str
    behaviour: AuthBehaviour = AuthBehaviour.REPLY
    token_error: Mapping[str, str] = field(default_factory=dict)
    mailbox_reply: str = ""


@dataclass(frozen=True)
class FolderScript:
    """The recorded folder list: LIST entries, NAMESPACE, and the capabilities after login."""

    folders: tuple[Mapping[str, Any], ...]
    namespaces: Mapping[str, Any] | None
    capabilities: tuple[str, ...]
    list_reply: str = ""  # the failure text when LIST failed, else empty


@dataclass(frozen=True)
class EntryScript:
    """Everything one listener replays for one entry of the report."""

    entry: Mapping[str, Any]
    protocol: Protocol
    mode: ListenerMode
    greeting_plain: tuple[str, ...] = ()
    greeting_tls: tuple[str, ...] = ()
    capabilities_plain: tuple[str, ...] = ()
    capabilities_tls: tuple[str, ...] = ()
    ehlo_plain: tuple[str, ...] = ()
    ehlo_tls: tuple[str, ...] = ()
    starttls_reply: str = ""
    plaintext_after_starttls: bool = False
    certificate: CertificateSpec | None = None
    login: LoginScript | None = None
    folders: FolderScript | None = None
    token_claims: Mapping[str, Any] | None = None
    login_reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The entry's short name."""
        return str(self.entry["name"])


def entry_scripts(document: Mapping[str, Any]) -> list[EntryScript]:
    """Return one script per entry that the report checked, IMAP first.

    Raises ReplayError when the report lacks the steps or entries a replay needs.
    """
    steps = {step.get("key"): step for step in _list(document.get("steps"), "steps")}
    for key in (StepKey.IMAP_HANDSHAKE, StepKey.IMAP_LOGIN, StepKey.FOLDERS):
        if key.value not in steps:
            raise ReplayError(f"the report has no step {key.value!r}, so it cannot be replayed")
    handshakes = _by_server(steps, StepKey.IMAP_HANDSHAKE, StepKey.SMTP_HANDSHAKE)
    logins = _by_server(steps, StepKey.IMAP_LOGIN, StepKey.SMTP_LOGIN)
    folders = steps[StepKey.FOLDERS.value].get("data", {})
    scripts = []
    for entry in _list(document.get("entries"), "entries"):
        name = str(entry.get("name"))
        handshake = handshakes.get(name)
        if handshake is None:
            raise ReplayError(f"the report has no handshake for the entry {name!r}")
        listing = None
        if folders.get("server") == name:
            listing = folders.get("report", {}).get("listing")
        scripts.append(_script(entry, handshake, logins.get(name), listing))
    return scripts


def _script(
    entry: Mapping[str, Any],
    handshake: Mapping[str, Any],
    login: Mapping[str, Any] | None,
    listing: Mapping[str, Any] | None,
) -> EntryScript:
    protocol = Protocol(str(entry["protocol"]))
    implicit = handshake["implicit"]
    starttls = handshake["starttls"]
    mode, notes = _mode(implicit, starttls)

    # The session after TLS is the implicit-TLS one where that worked, else the STARTTLS one.
    tls_worked = implicit["reason"] in _WORKED
    tls_probe = implicit if tls_worked else starttls
    certificate = None
    facts = tls_probe.get("certificate")
    if facts:
        certificate = CertificateSpec.from_facts(facts)
    capabilities_tls = tuple(
        tls_probe["capabilities_after"] or tls_probe["capabilities_before"]
    )
    login_result = (login or {}).get("login")

    return EntryScript(
        entry=entry,
        protocol=protocol,
        mode=mode,
        # The STARTTLS probe reads before it writes, so it records a plain greeting as sent.
        greeting_plain=_greeting(starttls, protocol)
        or (() if tls_worked else _greeting(implicit, protocol)),
        greeting_tls=_greeting(implicit, protocol) if tls_worked else (),
        capabilities_plain=tuple(starttls["capabilities_before"]),
        capabilities_tls=capabilities_tls,
        ehlo_plain=_reply_after(starttls["transcript"], "EHLO", 0),
        ehlo_tls=_reply_after(
            tls_probe["transcript"], "EHLO", 1 if tls_probe is starttls else 0
        ),
        starttls_reply=_starttls_reply(starttls, protocol),
        plaintext_after_starttls=bool(starttls.get("plaintext_after_starttls")),
        certificate=certificate,
        login=_login_script(login_result, protocol) if login_result else None,
        folders=_folder_script(listing) if listing else None,
        token_claims=(login or {}).get("token_claims"),
        login_reason=str(login_result["reason"]) if login_result else "",
        notes=tuple(notes),
    )


def _mode(
    implicit: Mapping[str, Any], starttls: Mapping[str, Any]
) -> tuple[ListenerMode, list[str]]:
    """Choose the listener mode that makes both probes end as they did."""
    tls_worked = implicit["reason"] in _WORKED
    starttls_worked = starttls["reason"] in _WORKED
    reasons = {implicit["reason"], starttls["reason"]}
    if tls_worked and starttls_worked:
        return ListenerMode.BOTH, []
    if tls_worked:
        return ListenerMode.IMPLICIT_TLS, []
    if starttls_worked or starttls["reason"] == Reason.STARTTLS_REJECTED.value:
        return ListenerMode.STARTTLS, []
    if starttls["reason"] == Reason.STARTTLS_NOT_OFFERED.value:
        return ListenerMode.PLAIN, []
    if Reason.CONNECTION_REFUSED.value in reasons:
        return ListenerMode.REFUSED, []
    if reasons & {Reason.SERVICE_UNAVAILABLE.value, Reason.WRONG_PROTOCOL.value}:
        return ListenerMode.GREETING_THEN_CLOSE, []
    if reasons <= _SILENT:
        if starttls.get("greeting"):
            return ListenerMode.GREETING_THEN_SILENT, []
        return ListenerMode.SILENT, []
    words = ", ".join(sorted(reasons))
    return ListenerMode.SILENT, [
        f"the probes ended with {words}, which a listener on 127.0.0.1 cannot show; "
        "the replay stays silent instead"
    ]


def _greeting(probe: Mapping[str, Any], protocol: Protocol) -> tuple[str, ...]:
    """Return the server's greeting lines: the lines it sent before the client's first command."""
    lines = []
    for line in probe.get("transcript", []):
        direction, _, text = str(line).partition(": ")
        if direction != "S":
            break
        lines.append(text)
    if lines:
        return tuple(lines)
    text = str(probe.get("greeting") or probe.get("server_text") or "")
    if not text:
        return ()
    # An SMTP greeting of several lines is recorded with " / " between them.
    return tuple(text.split(" / ")) if protocol is Protocol.SMTP else (text,)


def _reply_after(transcript: Sequence[str], command: str, occurrence: int) -> tuple[str, ...]:
    """Return the server lines after the `occurrence`-th client command starting with `command`."""
    seen = -1
    collecting = False
    lines: list[str] = []
    for line in transcript:
        direction, _, text = str(line).partition(": ")
        if direction == "C":
            if collecting:
                break
            if text.upper().startswith(command):
                seen += 1
                collecting = seen == occurrence
            continue
        if collecting and direction == "S":
            lines.append(text)
    return tuple(lines)


def _starttls_reply(probe: Mapping[str, Any], protocol: Protocol) -> str:
    command = "P2 STARTTLS" if protocol is Protocol.IMAP else "STARTTLS"
    reply = _reply_after(probe.get("transcript", []), command, 0)
    if not reply:
        return "OK Begin TLS negotiation now" if protocol is Protocol.IMAP else "220 2.0.0 Ready"
    last = reply[-1]
    # The IMAP reply is stored without the probe's tag, to be sent with the client's tag.
    return last.split(" ", 1)[1] if protocol is Protocol.IMAP and " " in last else last


def _login_script(result: Mapping[str, Any], protocol: Protocol) -> LoginScript:
    reason = str(result["reason"])
    text = str(result.get("server_text") or "")
    token_error = {str(k): str(v) for k, v in dict(result.get("token_error") or {}).items()}
    if reason == "read-timeout" and result.get("stage") == "authenticate":
        return LoginScript(False, "", AuthBehaviour.SILENT)
    if reason == "connection-closed" and result.get("stage") == "authenticate":
        return LoginScript(False, "", AuthBehaviour.CLOSE)
    if reason == "mailbox-unavailable":
        ok = "OK LOGIN completed" if protocol is Protocol.IMAP else "235 2.7.0 Accepted"
        return LoginScript(True, ok, mailbox_reply=text)
    if reason in ("auth-rejected", "auth-temporary-failure"):
        return LoginScript(False, text or _default_reply(protocol, False), token_error=token_error)
    return LoginScript(True, text if reason == "ok" and text else _default_reply(protocol, True))


def _default_reply(protocol: Protocol, accepted: bool) -> str:
    if protocol is Protocol.IMAP:
        return "OK LOGIN completed" if accepted else "NO [AUTHENTICATIONFAILED] Login failed"
    return "235 2.7.0 Accepted" if accepted else "535 5.7.8 Authentication failed"


def _folder_script(listing: Mapping[str, Any]) -> FolderScript:
    reason = str(listing.get("reason", "ok"))
    return FolderScript(
        folders=tuple(listing.get("folders", [])),
        namespaces=listing.get("namespaces"),
        capabilities=tuple(listing.get("capabilities", [])),
        list_reply=str(listing.get("server_text") or "NO LIST failed")
        if reason == "list-failed"
        else "",
    )


def _by_server(
    steps: Mapping[str, Mapping[str, Any]], *keys: StepKey
) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for key in keys:
        for entry in steps.get(key.value, {}).get("data", {}).get("entries", []):
            found[str(entry["server"])] = entry
    return found


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReplayError(f"the report's {what!r} is missing or not a list")
    return value
