"""Pandas tables of findings, field errors and server entries, for notebooks and the form.

The frames hold plain text and numbers, so they also serve for CSV or JSON export.
The stylers add a background colour per severity and escape every cell as HTML,
because messages quote what users typed and placeholders such as ``<tenant>``.
No table has a password or token column: server entries come from
`ServerSettings.to_dict`, which leaves secrets out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from toolkit.findings import Finding, Severity, ranked
from toolkit.settings import FieldError, ServerSettings

FINDING_COLUMNS = ("severity", "server", "field", "id", "message", "fix")
FIELD_ERROR_COLUMNS = ("field", "value", "problem", "fix")
# The keys of `ServerSettings.to_dict` in its order; OAuth2 keys follow as ``oauth.<key>``.
REQUIRED_SETTINGS_COLUMNS = ("name", "protocol", "host", "port", "tls", "auth", "user")
OPTIONAL_SETTINGS_COLUMNS = (
    "storage_folder", "ca_file", "provider", "password_env", "token_env",
)
SETTINGS_COLUMNS = REQUIRED_SETTINGS_COLUMNS + OPTIONAL_SETTINGS_COLUMNS
# Column names that must never appear in a table, even if `to_dict` ever grew them.
_SECRET_COLUMNS = frozenset({"password", "token", "app_password", "secret", "client_secret"})

# Background and text colours per severity. The dark text keeps rows readable in a dark theme.
SEVERITY_COLOURS = {
    Severity.ERROR: "#f8d7da",
    Severity.WARNING: "#fff3cd",
    Severity.INFO: "#d1ecf1",
}
_TEXT_COLOUR = "#1f2328"


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Build a table with one row per finding, errors first, then warnings, then info."""
    rows = [
        {column: finding.to_dict()[column] for column in FINDING_COLUMNS}
        for finding in ranked(findings)
    ]
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def findings_styler(findings: Iterable[Finding]) -> Styler:
    """Build the findings table with each row coloured by its severity."""
    frame = findings_frame(findings)
    styler = _left_aligned(frame).apply(_severity_row_colours, axis=1)
    return styler.set_caption(_findings_caption(frame))


def field_errors_frame(errors: Iterable[FieldError]) -> pd.DataFrame:
    """Build a table with one row per unusable field: the field, the value, the problem, the fix."""
    rows = [
        {"field": error.field, "value": error.value, "problem": error.problem, "fix": error.fix}
        for error in errors
    ]
    return pd.DataFrame(rows, columns=list(FIELD_ERROR_COLUMNS))


def field_errors_styler(errors: Iterable[FieldError]) -> Styler:
    """Build the field-error table, every row in the error colour."""
    frame = field_errors_frame(errors)
    colour = f"background-color: {SEVERITY_COLOURS[Severity.ERROR]}; color: {_TEXT_COLOUR}"
    styler = _left_aligned(frame).map(lambda _value: colour)
    count = len(frame)
    noun = "field needs" if count == 1 else "fields need"
    return styler.set_caption(f"{count} {noun} a fix before the settings can be checked")


def settings_frame(servers: Sequence[ServerSettings]) -> pd.DataFrame:
    """Build a table with one row per server entry, from `ServerSettings.to_dict`.

    OAuth2 settings become ``oauth.authority``, ``oauth.client_id`` and so on, with
    the scopes joined by spaces. No column contains a password or token.
    """
    rows = [_flatten_entry(server.to_dict()) for server in servers]
    extra: list[str] = []
    for row in rows:
        extra += [key for key in row if key not in SETTINGS_COLUMNS and key not in extra]
    columns = [*SETTINGS_COLUMNS, *extra]
    frame = pd.DataFrame(rows, columns=columns)
    # Optional fields that no entry sets stay out, so a short file gives a narrow table.
    unused = [
        column for column in columns
        if column not in REQUIRED_SETTINGS_COLUMNS and frame[column].isna().all()
    ]
    return frame.drop(columns=unused)


def _flatten_entry(entry: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "oauth" and isinstance(value, dict):
            for oauth_key, oauth_value in value.items():
                if isinstance(oauth_value, list):
                    oauth_value = " ".join(str(scope) for scope in oauth_value)
                row[f"oauth.{oauth_key}"] = oauth_value
        else:
            row[key] = value
    return {key: value for key, value in row.items() if key.split(".")[-1] not in _SECRET_COLUMNS}


def _left_aligned(frame: pd.DataFrame) -> Styler:
    return (
        frame.style.hide(axis="index")
        .format(escape="html", na_rep="")
        .set_properties(**{"text-align": "left", "vertical-align": "top"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    )


def _severity_row_colours(row: pd.Series) -> list[str]:
    colour = SEVERITY_COLOURS.get(Severity(row["severity"]), "")
    style = f"background-color: {colour}; color: {_TEXT_COLOUR}" if colour else ""
    return [style] * len(row)


def _findings_caption(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No findings: the settings match the port conventions and the provider data."
    counts = frame["severity"].value_counts()
    parts = [
        _count_words(int(counts.get(word, 0)), word, plural=word + "s")
        for word in (Severity.ERROR.value, Severity.WARNING.value)
    ]
    parts.append(f"{int(counts.get(Severity.INFO.value, 0))} info")
    return _count_words(len(frame), "finding", plural="findings") + ": " + ", ".join(parts)


def _count_words(count: int, singular: str, *, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"
