"""The offline audit: rows per entry, unusable files as rows, file-wide findings, progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_run import REPO
from toolkit.audit import SettingsVerdict, audit_files, find_settings_files
from toolkit.audit.table import AUDIT_COLUMNS, audit_frame, audit_styler
from toolkit.sandbox import Sandbox
from toolkit.settings_file import load_settings

CANARY = "canary-Pa55word-7f3e"


def test_folder_gives_one_row_per_entry(settings_folder: Path, sandbox: Sandbox) -> None:
    report = audit_files([settings_folder])

    entries = sum(
        len(load_settings(path))
        for path in sorted(settings_folder.glob("*.toml"))
        if path.name != "zz-broken.toml"
    )
    assert len(report.files) == 5
    assert len(report.rows) == entries + 1
    assert report.unusable_files == (str(settings_folder / "zz-broken.toml"),)
    assert len(report.usable_files) == 4
    sandbox_rows = [row for row in report.rows if row.file.endswith("sandbox-settings.toml")]
    assert [row.server for row in sandbox_rows] == [entry.name for entry in sandbox.settings()]
    assert report.has_errors()


def test_broken_file_row_names_the_fields(settings_folder: Path) -> None:
    report = audit_files([settings_folder / "zz-broken.toml"])

    (row,) = report.rows
    assert row.settings_verdict is SettingsVerdict.UNUSABLE
    assert row.server == ""
    assert row.tls is None
    fields = {finding.field for finding in row.findings}
    assert fields == {"server 1 (broken-imap): host", "server 1 (broken-imap): port"}
    assert all(finding.id == "settings-unusable" for finding in row.findings)
    port = next(f for f in row.findings if f.field.endswith("port"))
    assert "'abc' is not a number" in port.message
    assert "enter a whole number from 1 to 65535" in port.fix
    assert row.errors == 2
    assert report.usable_files == ()


def test_example_with_tick_mismatch_is_error() -> None:
    report = audit_files([REPO / "examples" / "gmail-smtp-tls-on-587.toml"])

    (row,) = report.rows
    assert row.server == "gmail-replies"
    assert row.protocol == "smtp"
    assert row.endpoint == "smtp.gmail.com:587"
    assert row.tls is True
    assert row.settings_verdict is SettingsVerdict.ERROR
    assert row.top is not None
    assert row.top.id == "tls-tick-port-mismatch"
    assert "Untick TLS for port 587" in row.top.fix
    assert row.tls_verdict == ""


def test_warnings_only_file_is_not_error() -> None:
    report = audit_files([REPO / "examples" / "tenant.toml"])

    verdicts = {row.server: row.settings_verdict for row in report.rows}
    assert verdicts["support-smtp"] is SettingsVerdict.WARNING
    assert verdicts["support-imap"] is SettingsVerdict.OK
    assert not report.has_errors()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "was not found"),
        ("[[server]\n", "is not valid TOML"),
        ("[tenant]\nname = 'x'\n", "has no entries"),
    ],
)
def test_unusable_file_becomes_row(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "settings.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    report = audit_files([path])

    (row,) = report.rows
    assert row.settings_verdict is SettingsVerdict.UNUSABLE
    assert any(words in finding.message for finding in row.findings)


def test_file_wide_findings_attach_by_name(tmp_path: Path) -> None:
    entry = (
        '[[server]]\nname = "twin"\nprotocol = "imap"\nhost = "imap.example.com"\nport = 993\n'
        'tls = true\nauth = "basic"\nuser = "{user}"\nstorage_folder = "Support"\n'
    )
    path = tmp_path / "twins.toml"
    path.write_text(entry.format(user="a@example.com") + entry.format(user="b@example.com"))

    report = audit_files([path])

    assert len(report.rows) == 2
    for row in report.rows:
        ids = [finding.id for finding in row.findings]
        assert ids.count("duplicate-name") == 1
        assert "imap-without-smtp-same-user" in ids
        assert row.top is not None
        assert row.top.id == "duplicate-name"


def test_find_files_searches_folders(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.toml").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.toml").write_text("")
    (tmp_path / "notes.txt").write_text("")

    found = find_settings_files([tmp_path, tmp_path / "b.toml"])

    assert found == [str(tmp_path / "b.toml"), str(tmp_path / "sub" / "a.toml")]


def test_empty_folder_is_unusable_row(tmp_path: Path) -> None:
    report = audit_files([tmp_path])

    (row,) = report.rows
    assert row.settings_verdict is SettingsVerdict.UNUSABLE
    assert row.findings[0].field == "folder"
    assert "contains no *.toml file" in row.findings[0].message


def test_progress_counts_files(settings_folder: Path, sandbox: Sandbox) -> None:
    calls: list[tuple[int, int, str]] = []

    audit_files([settings_folder], progress=lambda *call: calls.append(call))

    assert [done for done, _, _ in calls] == [1, 2, 3, 4, 5]
    assert {total for _, total, _ in calls} == {5}
    assert calls[-1][2].endswith("zz-broken.toml: unusable (server 1 (broken-imap): host)")
    entries = len(sandbox.settings())
    assert any(
        text.endswith(f"sandbox-settings.toml: {entries} entries checked") for _, _, text in calls
    )


def test_frame_has_summary_columns(settings_folder: Path) -> None:
    report = audit_files([settings_folder])

    frame = audit_frame(report)

    assert list(frame.columns) == [c for c in AUDIT_COLUMNS if c != "tls verdict"]
    assert len(frame) == len(report.rows)
    broken = frame[frame["file"].str.endswith("zz-broken.toml")].iloc[0]
    assert broken["settings"] == "unusable"
    assert broken["top finding"] == "settings-unusable"
    assert broken["errors"] == 2
    gmail = frame[frame["server"] == "gmail-replies"].iloc[0]
    assert gmail["host:port"] == "smtp.gmail.com:587"
    assert gmail["tls tick"] == "on"
    assert "Untick TLS" in gmail["fix"]
    html = audit_styler(report).to_html()
    assert "5 files (1 unusable)" in html


def test_password_never_in_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gmail.toml"
    path.write_text(
        '[[server]]\nname = "g-imap"\nprotocol = "imap"\nhost = "imap.gmail.com"\nport = 993\n'
        'tls = true\nauth = "basic"\nuser = "a@gmail.com"\nstorage_folder = "Support"\n'
        'password_env = "AUDIT_CANARY_PASSWORD"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDIT_CANARY_PASSWORD", CANARY)

    report = audit_files([path])

    ids = [finding.id for finding in report.findings()]
    assert "app-password-format" in ids
    assert CANARY not in json.dumps(report.to_dict())
    assert CANARY not in audit_frame(report).to_csv()
    assert CANARY not in repr(report)
