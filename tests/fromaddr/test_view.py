"""The notebook view: grid, colours, tooltips, chart, editor and the verify button."""

from __future__ import annotations

from matplotlib.figure import Figure

from tests.fromaddr.conftest import EXAMPLE
from toolkit.fromaddr import FromReport, build_report
from toolkit.fromaddr.predict import predict_table
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import TenantSetup, load_tenant_setup, tenant_setup_from_text
from toolkit.fromaddr.verify import VerifyOptions, verify_predictions
from toolkit.fromaddr_view import (
    OUTCOME_COLOURS,
    TenantEditor,
    cleanup_summary,
    column_label,
    details_frame,
    observations_frame,
    row_label,
    table_chart,
    table_frame,
    table_styler,
    verify_button,
)

TABLE = predict_table(load_tenant_setup(EXAMPLE))
FAST = VerifyOptions(timeout=5, delivery_wait=5, poll_interval=0.1)


def test_frame_has_one_row_per_imap_entry() -> None:
    frame = table_frame(TABLE)
    assert frame.shape == (5, 6)
    cell = TABLE.cell("billing-imap", "bob-smtp")
    text = frame.loc[row_label(cell), column_label(cell)]
    assert text.splitlines() == [
        "on behalf",
        "bob@contoso.example on behalf of billing@contoso.example",
        "needs provider configuration",
    ]
    rejected = TABLE.cell("billing-imap", "dave-smtp")
    assert frame.loc[row_label(rejected), column_label(rejected)] == "rejected 550 5.7.60"


def test_styler_colours_each_outcome() -> None:
    html = table_styler(TABLE).to_html()
    for outcome in (Outcome.FROM_A, Outcome.ON_BEHALF, Outcome.REWRITTEN, Outcome.REJECTED):
        assert f"background-color: {OUTCOME_COLOURS[outcome]}" in html
    assert "green from A, yellow on behalf, orange rewritten to B, red rejected" in html
    assert "Fix: Grant bob@contoso.example Send As on billing@contoso.example" in html


def test_styler_escapes_entry_names() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('"dave-smtp"', '"<b>dave</b>"')
    html = table_styler(predict_table(tenant_setup_from_text(text))).to_html()
    assert "<b>dave</b>" not in html
    assert "&lt;b&gt;dave&lt;/b&gt;" in html


def test_details_frame_names_rule_and_source() -> None:
    frame = details_frame(TABLE)
    row = frame[(frame["IMAP entry"] == "billing-imap") & (frame["SMTP entry"] == "frank-smtp")]
    assert row["rule"].item() == "microsoft365-send-as-wins"
    assert "Send As permission is always used" in row["source"].item()
    assert len(frame) == 30


def test_chart_has_legend_and_grid() -> None:
    figure = table_chart(TABLE)
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    legend = axis.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "from A",
        "on behalf",
        "rewritten to B",
        "rejected",
        "unknown",
    ]
    assert len(axis.texts) == 30


def test_editor_keeps_last_good_tenant() -> None:
    editor = TenantEditor(EXAMPLE.read_text(encoding="utf-8"), base_dir=EXAMPLE.parent)
    assert editor.tenant is not None
    good = editor.tenant
    editor.text.value = editor.text.value.replace('smtp = "bob-smtp"', 'smtp = "nobody"')
    assert editor.load() is None
    assert editor.tenant is good


def test_check_marks_in_views(scenario_setup: TenantSetup) -> None:
    table = predict_table(scenario_setup)
    predictions = [
        table.cell("erin-m365-imap", "bob-m365-smtp"),
        table.cell("gabe-gmail-imap", "gina-gmail-smtp"),
    ]
    report = verify_predictions(scenario_setup, predictions, options=FAST)
    frame = table_frame(table, report)
    cell = frame.loc[row_label(predictions[0]), column_label(predictions[0])]
    assert cell.endswith("\u2713 observed as predicted")
    observations = observations_frame(report)
    assert observations["matches"].tolist() == [True, True]
    assert observations["Sender"].tolist() == ["bob@m365.sandbox.test", ""]
    chart_texts = [text.get_text() for text in table_chart(table, report).axes[0].texts]
    assert "B for A \u2713" in chart_texts
    assert "Deleted 2 test messages from dana@dovecot.sandbox.test" in cleanup_summary(report)


def test_verify_button_sends_only_on_click(scenario_setup: TenantSetup) -> None:
    reports: list[FromReport] = []
    # One IMAP row and the courier relay, with the observer, to keep the test short.
    kept = ("erin-m365-imap", "chris-courier-smtp", "dana-dovecot-imap")
    tenant = TenantSetup(
        servers=tuple(s for s in scenario_setup.servers if s.name in kept),
        permissions=scenario_setup.permissions,
        observer=scenario_setup.observer,
    )
    box = verify_button(lambda: tenant, options=FAST, on_done=reports.append)
    assert reports == []
    button = box.children[0]
    button.click()  # type: ignore[attr-defined]
    assert len(reports) == 1
    verification = reports[0].verification
    assert verification is not None
    assert [o.prediction.smtp for o in verification.observations] == ["chris-courier-smtp"]
    assert verification.all_match


def test_build_report_orders_errors_first() -> None:
    report = build_report(load_tenant_setup(EXAMPLE))
    severities = [finding.severity.value for finding in report.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
