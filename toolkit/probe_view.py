"""Tables, charts and a progress bar for probe results, for notebooks.

This is the presentation layer of `toolkit.probe`: pandas, matplotlib and
ipywidgets live here, never in the probes.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from toolkit.probe.matrix import probe_many
from toolkit.probe.results import Endpoint, ProbeResult, Timeouts
from toolkit.verdicts import PortVerdict

STAGES = (
    "dns",
    "connect",
    "tls_handshake",
    "greeting",
    "capabilities",
    "starttls",
    "capabilities_after",
)


def probes_frame(results: Sequence[ProbeResult]) -> pd.DataFrame:
    """Return one row per probe: endpoint, outcome, TLS, certificate summary and timings in ms."""
    rows = []
    for result in results:
        certificate = result.certificate
        row = {
            "host": result.endpoint.host,
            "port": result.endpoint.port,
            "protocol": result.endpoint.protocol.value,
            "security": result.endpoint.security.value,
            "reason": result.reason.value,
            "stage": result.stage,
            "tls_version": result.tls_version,
            "auth_before": " ".join(result.auth_before),
            "auth_after": " ".join(result.auth_after),
            "certificate_days_left": certificate.days_left if certificate else None,
            "certificate_verified": certificate.chain_verified if certificate else None,
            "greeting": result.greeting[:80],
        }
        for stage in STAGES:
            seconds = result.timings.get(stage)
            row[f"{stage}_ms"] = round(seconds * 1000, 1) if seconds is not None else None
        rows.append(row)
    return pd.DataFrame(rows)


def verdicts_frame(verdicts: Sequence[PortVerdict]) -> pd.DataFrame:
    """Return one row per port verdict."""
    return pd.DataFrame(
        [
            {
                "host": verdict.host,
                "port": verdict.port,
                "protocol": verdict.protocol.value,
                "tick works": verdict.works_ticked,
                "untick works": verdict.works_unticked,
                "verdict": verdict.sentence,
                "change": verdict.change,
            }
            for verdict in verdicts
        ]
    )


def outcome_chart(results: Sequence[ProbeResult]) -> Figure:
    """Draw the count of each reason and the stage timings of every probe, side by side."""
    frame = probes_frame(results)
    # About a quarter inch per probe keeps the timing labels apart.
    height = max(4.0, 0.25 * len(frame) + 1.0)
    figure = Figure(figsize=(12, height))
    counts_axis, timings_axis = figure.subplots(1, 2, width_ratios=(2, 3))
    if not frame.empty:
        counts = frame["reason"].value_counts().sort_values()
        colours = ["tab:green" if reason == "ok" else "tab:red" for reason in counts.index]
        counts_axis.barh(counts.index, counts.to_numpy(), color=colours)
        one_host = frame["host"].nunique() == 1
        mode_names = {"implicit-tls": "TLS", "starttls": "STARTTLS", "none": "plain"}
        labels = [
            f"{'' if one_host else row.host + ':'}{row.port} {mode_names[str(row.security)]}"
            for row in frame.itertuples()
        ]
        left = pd.Series(0.0, index=frame.index)
        for stage in STAGES:
            values = frame[f"{stage}_ms"].fillna(0.0).astype(float)
            if values.any():
                timings_axis.barh(labels, values.to_numpy(), left=left.to_numpy(), label=stage)
                left += values
        timings_axis.tick_params(axis="y", labelsize="small")
        timings_axis.invert_yaxis()
        timings_axis.legend(fontsize="small", loc="lower right")
    counts_axis.set_title("Outcomes")
    counts_axis.set_xlabel("probes")
    timings_axis.set_title("Stage timings")
    timings_axis.set_xlabel("milliseconds")
    figure.tight_layout()
    return figure


def probe_with_progress(
    endpoints: Sequence[Endpoint], timeouts: Timeouts | None = None
) -> list[ProbeResult]:
    """Probe endpoints from a notebook cell, showing a progress bar while they run."""
    bar = widgets.IntProgress(min=0, max=len(endpoints), description="Probing")
    label = widgets.Label(f"0 of {len(endpoints)}")
    display(widgets.HBox([bar, label]))  # type: ignore[no-untyped-call]

    def progress(done: int, total: int, result: ProbeResult) -> None:
        bar.value = done
        label.value = (
            f"{done} of {total}: {result.endpoint.host}:{result.endpoint.port} "
            f"{result.endpoint.security.value} {result.reason.value}"
        )

    results = probe_many(endpoints, timeouts, progress=progress)
    bar.bar_style = "success"
    return results
