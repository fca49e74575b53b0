"""Plotting a study: seed scores per configuration and dev-F1 curves, one row per model.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so it
runs headless and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hpsearch.errors import UsageError
from hpsearch.search import ConfigResult

FIGURE_WIDTH_IN = 14.0
ROW_HEIGHT_IN = 5.0
DPI = 100
SUFFIXES = (".png", ".html")


def figure_size_px(n_models: int) -> tuple[int, int]:
    """Width and height in pixels of the PNG that :func:`plot_study` writes for ``n_models`` rows."""
    rows = max(n_models, 1)
    return round(FIGURE_WIDTH_IN * DPI), round(ROW_HEIGHT_IN * rows * DPI)


def _order(results: Sequence[ConfigResult]) -> list[ConfigResult]:
    """Best mean dev score first; configurations without a finished seed last."""
    return sorted(results, key=lambda r: (math.isnan(r.dev_mean), -r.dev_mean if r.dev_scores else 0.0))


def _status(result: ConfigResult) -> str:
    if result.state in ("pruned", "failed"):
        return result.state
    return f"{len(result.finished_runs)}/{len(result.seeds_planned)} seeds"


def _draw_model(fig: Figure, row: int, n_rows: int, model: str, results: Sequence[ConfigResult]) -> None:
    left = fig.add_subplot(n_rows, 2, 2 * row + 1)
    right = fig.add_subplot(n_rows, 2, 2 * row + 2)
    ordered = _order(results)
    if not ordered:
        for ax in (left, right):
            ax.text(0.5, 0.5, "no runs yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        left.set_title(model)
        return
    colors = [f"C{i % 10}" for i in range(len(ordered))]
    for x, (result, color) in enumerate(zip(ordered, colors, strict=True)):
        runs = [r for r in result.runs if r.dev_curve]
        n = len(runs)
        for i, run in enumerate(runs):
            offset = (i - (n - 1) / 2) * 0.06 if n > 1 else 0.0
            hollow = not run.complete
            left.plot(
                x + offset,
                run.dev_f1 * 100,
                "o",
                color=color,
                markerfacecolor="none" if hollow else color,
                alpha=0.8,
            )
        if result.dev_scores:
            left.errorbar(
                x + 0.3,
                result.dev_mean * 100,
                yerr=result.dev_std * 100,
                fmt="D",
                color="black" if result.is_complete else "grey",
                capsize=4,
            )
        label = result.name if result.is_complete else f"{result.name} ({_status(result)})"
        for run in runs:
            epochs = range(1, len(run.dev_curve) + 1)
            right.plot(
                epochs,
                [v * 100 for v in run.dev_curve],
                color=color,
                alpha=0.7,
                linestyle="-" if run.complete else "--",
                label=label,
            )
            label = "_nolegend_"
    left.set_xticks(range(len(ordered)))
    left.set_xticklabels([r.name for r in ordered], rotation=30, ha="right", fontsize=8)
    left.set_ylabel("dev F1 (%)")
    left.set_title(f"{model}: dev F1 per seed, mean ± std")
    left.grid(axis="y", alpha=0.3)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_xlabel("epoch")
    right.set_ylabel("dev F1 (%)")
    right.set_title(f"{model}: dev F1 per epoch")
    right.grid(alpha=0.3)
    # Outside the axes, beside the curves: inside, a long legend hides them or breaks the layout.
    right.legend(fontsize=7, ncol=max(1, math.ceil(len(ordered) / 15)), loc="upper left", bbox_to_anchor=(1.01, 1.0))


def render_figure(results_by_model: Mapping[str, Sequence[ConfigResult]]) -> Figure:
    """The study figure: one row per model, seed scores on the left, dev curves on the right."""
    n_rows = max(len(results_by_model), 1)
    fig = Figure(figsize=(FIGURE_WIDTH_IN, ROW_HEIGHT_IN * n_rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    for row, (model, results) in enumerate(results_by_model.items()):
        _draw_model(fig, row, n_rows, model, results)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)  # no bbox_inches="tight": the size stays fixed
    return buffer.getvalue()


def plot_study(
    results_by_model: Mapping[str, Sequence[ConfigResult]],
    out: Path,
    *,
    render: Callable[[Mapping[str, Sequence[ConfigResult]]], Figure] = render_figure,
    top: int | None = None,
) -> Path:
    """Write the study figure to ``out``: a ``.png``, or an interactive ``.html`` page (plotly).

    With another ``render`` (the expected-best curves), the ``.html`` page embeds its PNG.

    The PNG is :func:`figure_size_px` pixels. Incomplete runs are hollow points and dashed
    curves, and their configuration's mean ± std bar is grey.

    Args:
        results_by_model: Configurations per model label, one figure row each.
        out: The file to write; its folder must exist.
        render: Draws the figure; e.g. ``render_expected_best`` for the expected-best curves.
        top: Show only each model's best ``top`` configurations (by mean dev F1); None shows all.

    Returns:
        ``out``.

    Raises:
        UsageError: ``out`` ends in neither ``.png`` nor ``.html``.
    """
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"plot file must end in {' or '.join(SUFFIXES)}, but got {out.name!r}.")
    if top is not None:
        if top < 1:
            raise UsageError(f"--top must be at least 1, but got {top}.")
        results_by_model = {model: _order(results)[:top] for model, results in results_by_model.items()}
    if suffix == ".html" and render is render_figure:
        from hpsearch.results._plot_html import write_plot_html

        ordered = {model: _order(results) for model, results in results_by_model.items()}
        return write_plot_html(ordered, out, "hpsearch: " + ", ".join(results_by_model))
    png = _png_bytes(render(results_by_model))
    if suffix == ".png":
        out.write_bytes(png)
        return out
    title = html.escape("hpsearch: " + ", ".join(results_by_model) if results_by_model else "hpsearch")
    encoded = base64.b64encode(png).decode("ascii")
    out.write_text(
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f'<body><h1>{title}</h1>\n<img alt="{title}" src="data:image/png;base64,{encoded}">\n</body></html>\n',
        encoding="utf-8",
    )
    return out
