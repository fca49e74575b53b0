"""The study figure as an interactive page (plotly), as ``optuna.visualization`` draws its plots.

The same two panels per model as the PNG: seed scores per configuration with mean ± std, and the
dev-F1 curves per epoch. Hovering shows a point's configuration, seed and score. The page embeds
plotly.js, so it opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hpsearch.search import ConfigResult

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def write_plot_html(results_by_model: Mapping[str, Sequence[ConfigResult]], out: Path, title: str) -> Path:
    """Write the interactive study figure to ``out``; configurations come best first, as the caller ordered them."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    models = list(results_by_model) or ["(no study)"]
    titles = [t for m in models for t in (f"{m}: dev F1 per seed, mean ± std", f"{m}: dev F1 per epoch")]
    fig = make_subplots(rows=len(models), cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for row, model in enumerate(models, start=1):
        for i, result in enumerate(results_by_model.get(model, ())):
            color = PALETTE[i % len(PALETTE)]
            group = f"{model}/{result.name}"
            runs = [r for r in result.runs if r.dev_curve]
            fig.add_trace(
                go.Scatter(
                    x=[result.name] * len(runs),
                    y=[r.dev_f1 * 100 for r in runs],
                    mode="markers",
                    marker={"color": color, "symbol": ["circle" if r.complete else "circle-open" for r in runs]},
                    text=[f"seed {r.seed}" for r in runs],
                    hovertemplate="%{x}<br>%{text}: %{y:.2f}<extra></extra>",
                    name=result.name,
                    legendgroup=group,
                    showlegend=False,
                ),
                row=row,
                col=1,
            )
            if result.dev_scores:
                fig.add_trace(
                    go.Scatter(
                        x=[result.name],
                        y=[result.dev_mean * 100],
                        error_y={"type": "data", "array": [result.dev_std * 100]},
                        mode="markers",
                        marker={"symbol": "diamond", "color": "black" if result.is_complete else "grey"},
                        hovertemplate="%{x}<br>mean %{y:.2f}<extra></extra>",
                        name=f"{result.name} mean",
                        legendgroup=group,
                        showlegend=False,
                    ),
                    row=row,
                    col=1,
                )
            for j, run in enumerate(runs):
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(run.dev_curve) + 1)),
                        y=[v * 100 for v in run.dev_curve],
                        mode="lines",
                        line={"color": color, "dash": "solid" if run.complete else "dash"},
                        hovertemplate=f"{result.name} seed {run.seed}<br>epoch %{{x}}: %{{y:.2f}}<extra></extra>",
                        name=result.name,
                        legendgroup=group,
                        showlegend=j == 0,
                    ),
                    row=row,
                    col=2,
                )
        fig.update_yaxes(title_text="dev F1 (%)", row=row, col=1)
        fig.update_yaxes(title_text="dev F1 (%)", row=row, col=2)
        fig.update_xaxes(title_text="epoch", row=row, col=2)
    fig.update_layout(title=title, height=500 * len(models), legend={"font": {"size": 10}})
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out
