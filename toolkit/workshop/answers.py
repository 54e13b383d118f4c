"""Read a learner's answer in any of the accepted forms and normalize it for comparison.

A learner answers an exercise in one of four forms:

- an option letter from the notebook, such as ``"b"`` (also ``"B"``, ``"(b)"``, ``"b)"``);
- a finding id that the toolkit showed, such as ``"tls-tick-wrong-for-port"``;
- the corrected setting, as a mapping such as ``{"tls": False}`` or text such as
  ``"tls = false"``, or a corrected `ServerSettings` entry;
- the placeholder ``"?"`` (or None, ``...`` or an empty string): not answered yet.

`read_answer` turns each into an `Answer` with a normalized `key`, so that two
spellings of one answer count as one attempt and the feedback table of a
`Solution` can be looked up by key. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from toolkit.settings import (
    Protocol,
    ServerSettings,
    SettingsError,
    parse_auth,
    parse_host,
    parse_port,
    parse_tls,
)

PLACEHOLDERS = frozenset({"", "?", "??", "...", "\u2026", "todo", "tbd"})
FINDING_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+\Z")
CHOICE = re.compile(r"\(?([a-z])[).]?\Z")
# The fields an answer may correct: the entry's own, and the SMTP entry of a queue.
FIELDS = ("host", "port", "tls", "auth", "user", "storage_folder", "ca_file", "oauth.scopes",
          "smtp")
_FIELD_ALIASES = {
    "scopes": "oauth.scopes",
    "queue.smtp": "smtp",
    "storage folder": "storage_folder",
    "storage-folder": "storage_folder",
    "ca-file": "ca_file",
}
# Fields whose value is a secret: an answer must never contain one.
_SECRET_FIELDS = frozenset({"password", "app_password", "token", "secret"})
# Scopes that msal adds to every request (OpenID Connect), which say nothing about the API.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
FORMS = (
    'an option letter such as "b", a finding id such as "tls-tick-wrong-for-port", or the '
    'corrected setting such as {"tls": False}'
)


class AnswerKind(StrEnum):
    """The form an answer was given in."""

    NONE = "none"
    CHOICE = "choice"
    FINDING = "finding"
    SETTING = "setting"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Answer:
    """An answer in normalized form.

    `key` identifies the answer: the option letter, the finding id, or the
    changed settings as ``field=value`` pairs joined by ``"; "``. `changes` maps
    each changed field to its normalized value. `problem` explains why an unclear
    answer could not be read.
    """

    kind: AnswerKind
    key: str = ""
    changes: Mapping[str, object] = field(default_factory=dict)
    problem: str = ""


def read_answer(answer: object, entry: ServerSettings, letters: Sequence[str]) -> Answer:
    """Read an answer against the exercise's broken `entry` and its option `letters`."""
    if answer is None or answer is Ellipsis:
        return Answer(AnswerKind.NONE)
    if isinstance(answer, ServerSettings):
        return _setting_answer(_entry_values(answer), entry)
    if isinstance(answer, Mapping):
        return _mapping_answer(answer, entry)
    if not isinstance(answer, str):
        return Answer(AnswerKind.UNCLEAR, problem=f"an answer of type {type(answer).__name__} "
                      f"cannot be read. Write {FORMS}")
    text = answer.strip()
    if text.lower() in PLACEHOLDERS:
        return Answer(AnswerKind.NONE)
    if "=" in text:
        name, _, value = text.partition("=")
        return _mapping_answer({name: value}, entry)
    lowered = text.lower()
    choice = CHOICE.match(lowered)
    if choice is not None:
        letter = choice[1]
        if letter not in letters:
            return Answer(AnswerKind.UNCLEAR, problem=f"there is no option ({letter}). Choose one "
                          f"of {', '.join(letters)}")
        return Answer(AnswerKind.CHOICE, letter)
    if FINDING_ID.match(lowered):
        return Answer(AnswerKind.FINDING, lowered)
    # The text is not quoted back: a learner may have pasted something private by mistake.
    return Answer(AnswerKind.UNCLEAR, problem=f"the text is not a form the self-check reads. "
                  f"Write {FORMS}")


def normalize_value(name: str, value: object) -> object:
    """Return a setting's value in the form answers are compared in.

    Raises ValueError, naming the field and the expected form, for a value that
    the field cannot take.
    """
    try:
        if name == "tls":
            return parse_tls(value)
        if name == "port":
            return parse_port(value)
        if name == "auth":
            return parse_auth(value).value
        if name == "host":
            return parse_host(value).host
    except SettingsError as error:
        raise ValueError(str(error)) from None
    if name == "oauth.scopes":
        return _scopes(value)
    if not isinstance(value, str | Path):
        raise ValueError(f"{name}: {value!r} is not text; write it in quotes")
    text = str(value).strip().strip("'\"")
    if name == "ca_file":
        return str(Path(text).expanduser().resolve())
    if name == "user":
        return text.lower()
    return text


def normalize_fix(fix: Mapping[str, object]) -> dict[str, object]:
    """Return a fix alternative with its values normalized like answers."""
    return {name: normalize_value(name, value) for name, value in fix.items()}


def setting_key(changes: Mapping[str, object]) -> str:
    """Return the key of a settings answer, such as ``port=465; tls=true``."""
    return "; ".join(f"{name}={_shown(changes[name])}" for name in sorted(changes))


def shorten(text: str, limit: int = 60) -> str:
    """Return `text` cut to `limit` characters, for quoting an answer in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mapping_answer(answer: Mapping[object, object], entry: ServerSettings) -> Answer:
    values: dict[str, object] = {}
    for raw_name, raw_value in answer.items():
        name = str(raw_name).strip().lower()
        name = _FIELD_ALIASES.get(name, name)
        if name in _SECRET_FIELDS:
            return Answer(AnswerKind.UNCLEAR, problem="the self-check takes no password or "
                          "token. Answer with an option letter or a finding id")
        if name not in FIELDS:
            return Answer(AnswerKind.UNCLEAR, problem=f"{shorten(str(raw_name))!r} is not a field "
                          f"the self-check knows. Use one of: {', '.join(FIELDS)}")
        try:
            values[name] = normalize_value(name, raw_value)
        except ValueError as error:
            return Answer(AnswerKind.UNCLEAR, problem=f"the value for {name} cannot be used "
                          f"({error})")
    return _setting_answer(values, entry)


def _setting_answer(values: Mapping[str, object], entry: ServerSettings) -> Answer:
    current = _entry_values(entry)
    changes = {name: value for name, value in values.items() if current.get(name) != value}
    if not changes:
        return Answer(AnswerKind.UNCLEAR, problem="these are the settings as the ticket has them. "
                      "Change the setting you think is wrong")
    return Answer(AnswerKind.SETTING, setting_key(changes), changes)


def _entry_values(entry: ServerSettings) -> dict[str, object]:
    """Return the comparable fields of an entry, normalized like answers."""
    values: dict[str, object] = {
        "host": entry.host,
        "port": entry.port,
        "tls": entry.tls,
        "auth": entry.auth.value,
        "user": entry.user.lower(),
        "storage_folder": entry.storage_folder,
        "ca_file": str(entry.ca_file.expanduser().resolve()) if entry.ca_file else None,
        "oauth.scopes": _scopes(list(entry.oauth.scopes)) if entry.oauth else None,
    }
    if entry.protocol is Protocol.SMTP:
        # A From-address exercise's entry is the queue's SMTP entry.
        values["smtp"] = entry.name
    return values


def _scopes(value: object) -> str:
    if isinstance(value, str):
        scopes = value.replace(",", " ").split()
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        scopes = [scope.strip() for scope in value]
    else:
        raise ValueError(f"oauth.scopes: {value!r} is not a list of scopes; write a list of "
                         "strings such as ['https://outlook.office.com/IMAP.AccessAsUser.All']")
    api_scopes = {scope for scope in scopes if scope and scope.lower() not in _RESERVED_SCOPES}
    return " ".join(sorted(api_scopes))


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
