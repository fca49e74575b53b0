"""The expected-best figure: each study's expected best dev F1 against the number of trials.

One curve per study in one axes, so that models compare at equal search budget (Dodge et al. 2019).
Kept apart from :mod:`hpsearch.results._significance` so that the tables do not import matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hpsearch.results._plot import DPI, FIGURE_WIDTH_IN, ROW_HEIGHT_IN
from hpsearch.results._significance import expected_best
from hpsearch.search import ConfigResult


def render_expected_best(results_by_model: Mapping[str, Sequence[ConfigResult]]) -> Figure:
    """Expected best mean dev F1 (×100) at n = 1 .. N trials, N each study's complete configurations.

    The figure is :func:`~hpsearch.results.figure_size_px` ``(1)`` pixels, whatever the number of studies.
    """
    fig = Figure(figsize=(FIGURE_WIDTH_IN, ROW_HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for model, results in results_by_model.items():
        curve = expected_best(results)
        if not curve:
            continue
        ax.plot(range(1, len(curve) + 1), [v * 100 for v in curve], "o-", label=f"{model} ({len(curve)} trials)")
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no complete configuration yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trials (configurations with all their seeds)")
    ax.set_ylabel("expected best dev F1 (%)")
    ax.set_title("Expected best dev F1 against search budget (Dodge et al. 2019)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
