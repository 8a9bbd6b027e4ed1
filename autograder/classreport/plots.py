"""The report's pictures: matplotlib figures rendered to PNG and embedded in the page as data URIs.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend), with
matplotlib's bundled font, so the page needs nothing from the network.
"""
from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from autograder.classreport.stats import ItemStats, NotebookStats

BLUE, GREY, RED, AMBER, GREEN = "#3b6ea5", "#9aa5b1", "#c0392b", "#d68910", "#2e8b57"
DPI = 100


def _figure(width: float, height: float, left: float = 0.6, bottom: float = 0.5, top: float = 0.3) -> Figure:
    """A figure with fixed margins in inches (constrained layout costs more than the drawing)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, right=1 - 0.15 / width, bottom=bottom / height, top=1 - top / height)
    return fig


def to_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _bins(top: float) -> list[float]:
    """Edges for scores in [0, top]: one bin per point for small maxima, at most 20."""
    if top <= 0:
        return [0.0, 1.0]
    n = int(min(20, max(1, round(top)))) if top >= 1 else 1
    width = top / n
    return [i * width for i in range(n)] + [top + 1e-9]


def score_histogram(stats: NotebookStats) -> str:
    """Autograded scores of one notebook; full marks green, zero red."""
    fig = _figure(4.6, 2.5)
    ax = fig.add_subplot()
    edges = _bins(stats.auto_max)
    counts = np.histogram(stats.auto_scores, bins=edges)[0].tolist() if stats.auto_scores else [0] * (len(edges) - 1)
    colors = [RED if i == 0 else GREEN if i == len(counts) - 1 else BLUE for i in range(len(counts))]
    ax.bar(edges[:-1], counts, width=[edges[i + 1] - edges[i] for i in range(len(counts))], align="edge",
           color=colors, edgecolor="white", linewidth=0.6)
    if stats.mean is not None:
        ax.axvline(stats.mean, color="black", linestyle="--", linewidth=1, label=f"mean {stats.mean:.1f}")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_xlim(0, max(stats.auto_max, 1e-9))
    ax.set_xlabel(f"hidden-check points (of {stats.auto_max:g})", fontsize=9)
    ax.set_ylabel("students", fontsize=9)
    ax.set_title(f"{stats.notebook}  ·  {stats.graded} graded", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def total_histogram(totals: list[float], top: float) -> str:
    fig = _figure(6.0, 2.5)
    ax = fig.add_subplot()
    ax.hist(totals, bins=_bins(top), color=BLUE, edgecolor="white", linewidth=0.6)
    ax.set_xlim(0, max(top, 1e-9))
    ax.set_xlabel(f"total score in the gradebook (of {top:g}, written answers included)", fontsize=9)
    ax.set_ylabel("students", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def item_chart(items: list[ItemStats], title: str) -> str:
    """Pass rate per hidden check (least passed on top); red: r < 0.2 among checks many fail."""
    shown = [it for it in items if it.pass_rate is not None]
    labels = [f"{it.cell} · {it.check}"[:60] for it in shown]
    left = 0.3 + 0.052 * max((len(x) for x in labels), default=10)
    fig = _figure(left + 4.6, 0.9 + 0.2 * max(1, len(shown)), left=left)
    ax = fig.add_subplot()
    rates = [100 * it.pass_rate for it in shown]
    colors = [RED if it.suspicious else BLUE for it in shown]
    ax.barh(range(len(shown)), rates, color=colors, height=0.7)
    ax.set_yticks(range(len(shown)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students passing (%)", fontsize=9)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def similarity_histogram(scores: list[float], listed: list[float], threshold: float, possible: int) -> str:
    """How similar the compared pairs are (the listed ones in amber): copies stand out on the right."""
    fig = _figure(6.0, 2.3, left=0.7)
    ax = fig.add_subplot()
    if scores:
        ax.hist([100 * s for s in scores], bins=[i * 5 for i in range(21)], color=GREY, edgecolor="white")
        ax.hist([100 * s for s in listed], bins=[i * 5 for i in range(21)], color=AMBER, edgecolor="white")
    ax.axvline(100 * threshold, color="black", linestyle="--", linewidth=1)
    ax.set_yscale("log" if len(scores) > 50 else "linear")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"similarity of the pairs compared (%) · {len(scores)} of {possible} pairs shared enough "
                  "to be compared", fontsize=8)
    ax.set_ylabel("pairs", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)
