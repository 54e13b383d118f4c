"""Explain server replies and library errors: the likely causes, the check for each, the fix.

The knowledge is data, in ``data/replies.toml``: one table of entries, each with
the regular expressions that recognise a reply, examples, the causes in order of
likelihood and the source of the facts. `explain` returns every entry whose
patterns match a text, and `explanation_finding` turns one into a `Finding`
whose id is the entry's id. This module does no I/O beyond reading that file once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from toolkit.data import load_data
from toolkit.findings import Finding, Severity

REPLIES_FILE = "replies.toml"
PROTOCOLS = ("imap", "smtp", "oauth", "any")
_REQUIRED = (
    "id",
    "title",
    "protocol",
    "patterns",
    "examples",
    "meaning",
    "causes",
    "fix",
    "source",
)


@dataclass(frozen=True)
class Cause:
    """One likely cause of a reply, with the check that confirms or rules it out."""

    cause: str
    check: str


@dataclass(frozen=True)
class Explanation:
    """The meaning of a reply, its likely causes (most likely first), the fix and the source."""

    id: str
    title: str
    protocol: str
    meaning: str
    causes: tuple[Cause, ...]
    fix: str
    source: str
    patterns: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    fallback: bool = False

    def matches(self, text: str) -> bool:
        """Return whether any of the entry's patterns is found in `text`."""
        return any(pattern.search(text) for pattern in self.patterns)

    def causes_text(self) -> str:
        """Return the causes as one paragraph: numbered, each with its check."""
        return " ".join(
            f"({number}) {cause.cause} Check: {cause.check}"
            for number, cause in enumerate(self.causes, start=1)
        )


@cache
def explanations() -> tuple[Explanation, ...]:
    """Read and check the entries of ``data/replies.toml``, in file order.

    Raises ValueError naming the entry and the problem when an entry lacks a
    field, repeats an id, names an unknown protocol or has a pattern that does
    not compile.
    """
    entries: list[Explanation] = []
    seen: set[str] = set()
    for number, raw in enumerate(load_data(REPLIES_FILE).get("reply", []), start=1):
        entry = _entry(raw, number)
        if entry.id in seen:
            raise ValueError(f"{REPLIES_FILE}: the id {entry.id!r} appears twice")
        seen.add(entry.id)
        entries.append(entry)
    return tuple(entries)


def _entry(raw: dict[str, Any], number: int) -> Explanation:
    where = f"{REPLIES_FILE}, entry {number} ({raw.get('id', 'no id')})"
    missing = [key for key in _REQUIRED if not raw.get(key)]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if raw["protocol"] not in PROTOCOLS:
        raise ValueError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}")
    try:
        patterns = tuple(re.compile(pattern) for pattern in raw["patterns"])
    except re.error as error:
        raise ValueError(f"{where}: a pattern does not compile: {error}") from None
    causes = tuple(Cause(item["cause"], item["check"]) for item in raw["causes"])
    return Explanation(
        id=raw["id"],
        title=raw["title"],
        protocol=raw["protocol"],
        meaning=raw["meaning"],
        causes=causes,
        fix=raw["fix"],
        source=raw["source"],
        patterns=patterns,
        examples=tuple(raw["examples"]),
        fallback=bool(raw.get("fallback", False)),
    )


def explain(text: str, *, protocol: str | None = None) -> list[Explanation]:
    """Return the entries whose patterns match `text`, in file order.

    `protocol` (``imap``, ``smtp`` or ``oauth``) keeps only the entries for that
    protocol and those marked ``any``. Fallback entries are returned only when
    no other entry matches.
    """
    if not text:
        return []
    found = [
        entry
        for entry in explanations()
        if (protocol is None or entry.protocol in (protocol, "any")) and entry.matches(text)
    ]
    specific = [entry for entry in found if not entry.fallback]
    return specific or found


def explanation_finding(
    explanation: Explanation, *, server: str = "", severity: Severity = Severity.ERROR
) -> Finding:
    """Turn an explanation into a finding with the entry's id, its causes and its fix."""
    field = "oauth" if explanation.protocol == "oauth" else "login"
    message = f"{explanation.title}. {explanation.meaning}"
    if explanation.causes:
        message += " Likely causes, most likely first: " + explanation.causes_text()
    return Finding(explanation.id, severity, field, message, explanation.fix, server)


def explain_findings(
    texts: Iterable[str], *, protocol: str | None = None, server: str = ""
) -> list[Finding]:
    """Explain several texts and return one finding per matching entry, without repeats."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for text in texts:
        for explanation in explain(text, protocol=protocol):
            if explanation.id not in seen:
                seen.add(explanation.id)
                findings.append(explanation_finding(explanation, server=server))
    return findings
