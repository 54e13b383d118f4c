"""Pandas tables of a discovery's proposals and DNS lookups, for notebooks.

The frames contain plain text and numbers. No column contains a secret, because
proposals carry none and entries come from `ServerSettings.to_dict`.
"""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from toolkit.discovery.run import Discovery
from toolkit.findings import ranked
from toolkit.settings import Protocol

PROPOSAL_COLUMNS = (
    "best",
    "protocol",
    "host",
    "port",
    "tls",
    "auth",
    "user",
    "confidence",
    "source",
    "top finding",
    "fix",
    "notes",
)
LOOKUP_COLUMNS = ("name", "type", "outcome", "records", "error", "ms")


def proposals_frame(discovery: Discovery) -> pd.DataFrame:
    """Build a table with one row per proposal, each protocol's best first."""
    best = {id(p) for protocol in Protocol if (p := discovery.best(protocol)) is not None}
    rows = []
    for proposal in discovery.proposals:
        settings = proposal.settings
        top = ranked(proposal.findings)[0] if proposal.findings else None
        rows.append(
            {
                "best": id(proposal) in best,
                "protocol": settings.protocol.value,
                "host": settings.host,
                "port": settings.port,
                "tls": "ticked" if settings.tls else "unticked",
                "auth": settings.auth.value,
                "user": settings.user,
                "confidence": proposal.confidence.value,
                "source": proposal.source,
                "top finding": f"{top.severity.value}: {top.id}" if top else "",
                "fix": top.fix if top else "",
                "notes": " ".join(proposal.notes),
            }
        )
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS))


def proposals_styler(discovery: Discovery) -> Styler:
    """Build the proposals table with the best rows in bold and text escaped as HTML."""
    frame = proposals_frame(discovery)
    styler = (
        frame.style.hide(axis="index")
        .format(escape="html", na_rep="")
        .set_properties(**{"text-align": "left", "vertical-align": "top"})
        .apply(
            lambda row: ["font-weight: bold" if row["best"] else ""] * len(row), axis=1
        )
    )
    count = len(frame)
    return styler.set_caption(
        f"{count} proposal{'s' if count != 1 else ''} for {discovery.address}"
    )


def lookups_frame(discovery: Discovery) -> pd.DataFrame:
    """Build a table with one row per DNS lookup; empty when a provider file answered."""
    rows = [
        {
            "name": item.name,
            "type": item.rdtype,
            "outcome": item.outcome.value,
            "records": "; ".join(str(record) for record in item.records),
            "error": item.error,
            "ms": round(item.seconds * 1000, 1),
        }
        for item in discovery.lookups
    ]
    return pd.DataFrame(rows, columns=list(LOOKUP_COLUMNS))

