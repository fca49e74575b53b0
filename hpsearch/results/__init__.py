"""Results for people: the recipe's report, comparison tables, status, plots, and the recipe's old run folders."""

from __future__ import annotations

from hpsearch.results._legacy_import import (
    ImportSummary,
    import_scan,
)
from hpsearch.results._legacy_logs import (
    collect_runs,
    parse_run_name,
    parse_training_log,
    read_training_log,
)
from hpsearch.results._plot import (
    figure_size_px,
    plot_study,
)
from hpsearch.results._report import (
    FORMATS,
    comparison_rich,
    comparison_rows,
    cost_summary,
    format_duration,
    ranked,
    recipe_sections,
    render_comparison,
    render_cost,
)
from hpsearch.results._status import (
    device_hours,
    eta_seconds,
    studies_table,
    trials_table,
)

__all__ = [
    "FORMATS",
    "ImportSummary",
    "collect_runs",
    "comparison_rich",
    "comparison_rows",
    "cost_summary",
    "device_hours",
    "eta_seconds",
    "figure_size_px",
    "format_duration",
    "import_scan",
    "parse_run_name",
    "parse_training_log",
    "plot_study",
    "ranked",
    "read_training_log",
    "recipe_sections",
    "render_comparison",
    "render_cost",
    "studies_table",
    "trials_table",
]
