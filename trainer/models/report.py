"""metrics.json and a self-contained report.html with embedded matplotlib plots."""

import base64
from collections.abc import Callable
import html
import io
import json
import math
import os
from pathlib import Path
import tempfile

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from .registry import _finite

Figure = Callable[[plt.Axes], None]


def _png(draw: Figure, size: tuple[float, float] = (5.0, 4.0)) -> str:
    """Return a plot as an <img> tag holding its PNG (base64)."""
    figure, axes = plt.subplots(figsize=size)
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
    finally:
        plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _confusion(plots: dict) -> Figure:
    def draw(ax: plt.Axes) -> None:
        classes = plots["classes"]
        ax.imshow(plots["confusion"], cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("home type: confusion (all observation lengths)")

    return draw


def _reliability(metrics: dict) -> Figure:
    def draw(ax: plt.Axes) -> None:
        ax.plot([0, 1], [0, 1], "k:", label="perfect")
        for days, values in metrics.get("per_observation_days", {}).items():
            curve = values["reliability"]
            ax.plot(curve["confidence"], curve["accuracy"], "o-", label=f"{days} d")
        ax.set_xlabel("confidence (top class)")
        ax.set_ylabel("accuracy")
        ax.set_title("home type: reliability")
        ax.legend(fontsize=7)

    return draw


def _per_length(metrics: dict) -> Figure:
    def draw(ax: plt.Axes) -> None:
        lengths = metrics.get("per_observation_days", {})
        days = [int(d) for d in lengths]
        for key in ("macro_f1", "ece", "flat_vs_house_accuracy"):
            ax.plot(days, [lengths[str(d)][key] for d in days], "o-", label=key)
        ax.set_xscale("log")
        ax.set_xlabel("observed days")
        ax.set_title("home type per observation length")
        ax.legend(fontsize=7)

    return draw


def _pr(plots: dict) -> Figure:
    def draw(ax: plt.Axes) -> None:
        ax.plot(plots["pr"]["recall"], plots["pr"]["precision"], label="model")
        for name, curve in plots.get("pr_baselines", {}).items():
            ax.plot(curve["recall"], curve["precision"], ":", label=name)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("device failure within 7 days: PR curve")
        ax.legend(fontsize=7)

    return draw


def _battery(plots: dict) -> Figure:
    def draw(ax: plt.Axes) -> None:
        ax.plot([0, 14], [0, 14], "k:")
        ax.scatter(plots["truth"], plots["linear"], s=4, alpha=0.4, label="linear")
        ax.scatter(plots["truth"], plots["q50"], s=4, alpha=0.6, label="model q50")
        ax.set_xlabel("actual days left (capped at 14)")
        ax.set_ylabel("predicted")
        ax.set_title("battery days left (where forecast)")
        ax.legend(fontsize=7)

    return draw


def _importance(values: list, title: str) -> Figure:
    def draw(ax: plt.Axes) -> None:
        top = [tuple(pair) for pair in values[:15]][::-1]
        ax.barh([k for k, _ in top], [v for _, v in top])
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(title)
        ax.set_xlabel("metric drop when permuted")

    return draw


def _per_kind_table(failure: dict) -> str:
    """Return the failure model's PR-AUC per failure kind as an HTML table."""
    rows = []
    for kind, v in failure.get("per_kind", {}).items():
        low, high = v.get("pr_auc_ci", [math.nan, math.nan])
        rows.append(
            f"<tr><td>{html.escape(kind)}</td><td>{v['positives']}</td>"
            f"<td>{v['base_rate']:.4f}</td><td>{v['pr_auc']:.3f}</td>"
            f"<td>[{low:.3f}, {high:.3f}]</td><td>{v['roc_auc']:.3f}</td></tr>"
        )
    if not rows:
        return ""
    head = (
        "<tr><th>failure kind</th><th>positives</th><th>chance</th>"
        "<th>PR-AUC</th><th>95 % interval</th><th>ROC-AUC</th></tr>"
    )
    return (
        "<h2>device_failure per kind (each kind's positives against all "
        f"negatives)</h2><table>{head}{''.join(rows)}</table>"
    )


def render_html(metrics: dict, plots: dict, title: str) -> str:
    """Return the report page: summary, plots, and the metrics as JSON."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    summary = metrics.get("summary", [])
    parts.append(
        "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary) + "</ul>"
    )
    figures = []
    if "home_type" in plots:
        figures += [
            _confusion(plots["home_type"]),
            _reliability(metrics["home_type"]),
            _per_length(metrics["home_type"]),
        ]
    if "device_failure" in plots:
        figures.append(_pr(plots["device_failure"]))
    if "battery_days_left" in plots:
        figures.append(_battery(plots["battery_days_left"]))
    for name, values in plots.get("importance", {}).items():
        if values:
            figures.append(_importance(values, f"{name}: permutation importance"))
    parts.append("<div>" + "".join(_png(f) for f in figures) + "</div>")
    if isinstance(metrics.get("device_failure"), dict):
        parts.append(_per_kind_table(metrics["device_failure"]))
    text = json.dumps(_finite(metrics), indent=1, sort_keys=True)
    parts.append(f"<h2>metrics.json</h2><pre>{html.escape(text)}</pre>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}img{margin:4px}"
        "pre{font-size:11px;background:#f4f4f4;padding:1em}"
        "td,th{padding:2px 8px;text-align:right}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )


def write_report(directory: Path, metrics: dict, plots: dict, title: str) -> Path:
    """Write metrics.json and report.html atomically; return the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "metrics.json",
        json.dumps(_finite(metrics), indent=1, sort_keys=True) + "\n",
    )
    page = directory / "report.html"
    _write(page, render_html(metrics, plots, title))
    return page


def _write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".report-")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
