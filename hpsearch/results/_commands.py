"""The result commands as library calls, one per command: each opens the storage and returns text or data.

``status``, ``report``, ``best`` and ``plot`` read studies; ``parse-logs`` and ``import-logs`` read
the recipe's old run folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from hpsearch.errors import NotFoundError, UsageError
from hpsearch.results._comparison import render_comparison
from hpsearch.results._cost import cost_summary, render_cost
from hpsearch.results._legacy_import import ImportSummary, import_scan
from hpsearch.results._legacy_logs import collect_runs
from hpsearch.results._plot import plot_study
from hpsearch.results._recipe import recipe_sections
from hpsearch.results._significance import check_options, significance_section
from hpsearch.results._status import studies_table, trials_table
from hpsearch.search import ALPHA
from hpsearch.store import (
    BEST_MODEL,
    RUN_DIR_ATTR,
    StudyResults,
    load_study,
    open_storage,
    resolve_studies,
    seed_dir,
    study_names,
    study_results,
)


def load_results(storage_url: str, name: str) -> StudyResults:
    """One study's results."""
    storage = open_storage(storage_url, read_only=True)
    return study_results(*load_study(storage, name))


def load_many(storage_url: str, patterns: Sequence[str]) -> list[StudyResults]:
    """The results of every study the names or glob patterns match, in the order given.

    A pattern that is a study's exact name names that study, also an older one whose name holds
    glob characters (``a[1]``).
    """
    storage = open_storage(storage_url, read_only=True)
    existing = set(study_names(storage))
    names: dict[str, None] = {}
    for pattern in patterns:
        names.update(dict.fromkeys([pattern] if pattern in existing else resolve_studies(storage, [pattern])))
    return [study_results(*load_study(storage, n)) for n in names]


def status_tables(storage_url: str, study: str | None) -> list[Table]:
    """Every study at a glance; with ``study``, that study's line and then its trials."""
    storage = open_storage(storage_url, read_only=True)
    if study is not None:
        results = study_results(*load_study(storage, study))
        return [studies_table([results]), trials_table(results)]
    return [studies_table([study_results(*load_study(storage, name)) for name in study_names(storage)])]


def study_report(storage_url: str, name: str, *, debug: bool = False, alpha: float = ALPHA) -> str:
    """The recipe parser's sections for one study, each configuration against the best, then the cost."""
    check_options(alpha)
    results = load_results(storage_url, name)
    sections = [recipe_sections(results.configs, debug=debug), significance_section(results.configs, alpha=alpha)]
    return "\n".join([*sections, render_cost(cost_summary(results.configs))])


def comparison_report(
    storage_url: str, patterns: Sequence[str], fmt: str, *, alpha: float = ALPHA, budget: int | None = None
) -> str:
    """The comparison table across studies, one row per study, in one of :data:`FORMATS`, with each
    model's test against the best model and its expected best at ``budget`` trials.

    Raises:
        UsageError: Unknown format, ``alpha`` outside (0, 1) or ``budget`` below 1.
    """
    check_options(alpha, budget)
    rows = []
    for r in load_many(storage_url, patterns):
        finished = r.count("waiting") == 0 and r.count("running") == 0
        rows.append((r.spec.label, r.configs, None if not finished else "finished"))
    return render_comparison(rows, fmt, alpha=alpha, budget=budget)


@dataclass(frozen=True)
class Best:
    """A study's best complete configuration, its scores (0..1) and its kept model files by seed."""

    study: str
    configuration: str
    trial: int
    dev_mean: float
    dev_std: float
    dev_per_seed: dict[int, float]
    test_mean: float
    test_std: float
    model_files: dict[int, str]
    params: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def best_of(storage_url: str, name: str) -> Best:
    """The best complete configuration and where its kept model files are.

    Raises:
        NotFoundError: the study has no complete trial yet.
    """
    storage = open_storage(storage_url, read_only=True)
    study, spec = load_study(storage, name)
    best = study_results(study, spec).best
    if best is None:
        raise NotFoundError(f"study {name!r} has no complete trial yet; see hpsearch status --study {name}.")
    trial = study.trials[best.trial_number or 0]
    run_dir = trial.user_attrs.get(RUN_DIR_ATTR)
    files = {}
    if run_dir:
        for run in best.finished_runs:
            path = seed_dir(Path(run_dir), run.seed) / BEST_MODEL
            if path.is_file():
                files[run.seed] = str(path)
    return Best(
        study=name,
        configuration=best.name,
        trial=best.trial_number or 0,
        dev_mean=best.dev_mean,
        dev_std=best.dev_std,
        dev_per_seed={r.seed: r.dev_f1 for r in best.finished_runs},
        test_mean=best.test_mean,
        test_std=best.test_std,
        model_files=files,
        params=dict(trial.params),
    )


def parse_logs(pattern: str, root: Path | None = None, *, debug: bool = False) -> tuple[str, tuple[str, ...]]:
    """The recipe parser's sections for old Flair run folders, and the warnings met."""
    scan = collect_runs(pattern, root)
    return recipe_sections(scan.results, debug=debug), scan.warnings


def import_logs(storage_url: str, pattern: str, study: str | None, root: Path | None = None) -> ImportSummary:
    """Import the complete configurations of old Flair run folders into a study (created if needed)."""
    scan = collect_runs(pattern, root)
    return import_scan(open_storage(storage_url), scan, study)


def plot_studies(
    storage_url: str, patterns: Sequence[str], out_file: Path, *, expected_best: bool = False, top: int | None = None
) -> Path:
    """Plot the studies the names or patterns match into ``out_file`` (``.png`` or ``.html``), each
    study's best ``top`` configurations (all with None).

    With ``expected_best``, one figure of every study's expected best dev F1 against the trials instead.

    Raises:
        UsageError: ``out_file``'s folder does not exist, or ``out_file`` is a folder (before the storage is read).
    """
    if out_file.is_dir():
        raise UsageError(f"--output {out_file} is a folder; give a FILE.png or FILE.html.")
    if not out_file.parent.is_dir():
        raise UsageError(f"--output {out_file}: its folder {out_file.parent} does not exist; create it first.")
    results = {r.name: r.configs for r in load_many(storage_url, patterns)}
    if expected_best:
        from hpsearch.results._budget import render_expected_best

        return plot_study(results, out_file, render=render_expected_best)
    return plot_study(results, out_file, top=top)
