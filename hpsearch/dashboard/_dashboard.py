"""The dashboard: optuna-dashboard on a study storage, and the study note hpsearch keeps there.

Each study carries a markdown note (optuna-dashboard's ``save_note``) with its spec and a
leaderboard of the best configurations. It is written when the study is created and rewritten
by the worker after every completed trial, so edits made to it in the dashboard do not last.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from hpsearch.errors import SpecError
from hpsearch.results import ranked
from hpsearch.search import ConfigResult, SampledSpace
from hpsearch.store import (
    METRIC_NAME,
    SPEC_ATTR,
    Artifacts,
    StudyResults,
    best_model_filename,
    load_study,
    mask_url,
    open_storage,
    resolve_artifacts_dir,
    study_results,
)

if TYPE_CHECKING:
    import optuna

    from hpsearch.search import StudySpec

log = logging.getLogger("hpsearch.dashboard")

LEADERBOARD_SIZE = 10

# The settings every run shares; keep in step with hpsearch.training._train.train_seed.
RECIPE_SETTINGS = (
    "Flair `ModelTrainer.fine_tune`, transformer fine-tuned, linear warm-up, no weight decay, shuffled batches",
    "tagger: hidden size 256, no RNN, no re-projection (CRF, layers, pooling and context from the grid)",
    "a seed's dev F1 is its best epoch's micro-F1; its test F1 is that of the best-epoch model",
    "a trial's value is the mean dev F1 over its seeds; ± is the population standard deviation",
)


# --- the study note ------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.2f}"


def _pm(mean: float, std: float) -> str:
    return "–" if math.isnan(mean) else f"{_pct(mean)} ± {_pct(std)}"


def _values(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def spec_markdown(spec: StudySpec) -> str:
    """The spec as a two-column markdown table."""
    space = spec.space
    rows = [
        ("Model", f"`{spec.model}` ({spec.label})"),
        ("Datasets", ", ".join(d.key for d in spec.datasets)),
        ("Seeds", _values(spec.seeds)),
        ("Search space", f"{space.kind}, {spec.n_configs} configurations × {len(spec.seeds)} seeds"),
    ]
    if isinstance(space, SampledSpace):  # hpsearch.search._space: a range is {low, high, log}
        rows += [(f"· {name}", str(value)) for name, value in space.to_dict().items()]
        rows.append(("Early stopping", str(spec.pruner)))
    else:
        rows += [(f"· {f.name}", _values(getattr(space, f.name))) for f in fields(space)]
    if spec.data_dir:
        rows.append(("Data folder", f"`{spec.data_dir}`"))
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    return "\n".join(lines)


def leaderboard_markdown(configs: Sequence[ConfigResult], top: int = LEADERBOARD_SIZE) -> str:
    """The ``top`` complete configurations, best mean dev F1 first (×100)."""
    best = ranked(configs)[:top]
    if not best:
        return "_No configuration has finished all its seeds yet._"
    lines = [
        "| # | Configuration | Trial | Dev F1 (mean ± std) | Dev F1 per seed | Test F1 (mean ± std) |",
        "| ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for rank, c in enumerate(best, start=1):
        per_seed = ", ".join(f"{r.seed}: {_pct(r.dev_f1)}" for r in c.finished_runs)
        test = _pm(c.test_mean, c.test_std) if c.test_scores else "–"
        lines.append(
            f"| {rank} | `{_cell(c.name)}` | {c.trial_number} | {_pm(c.dev_mean, c.dev_std)} | {per_seed} | {test} |"
        )
    return "\n".join(lines)


def study_note(results: StudyResults, *, best_model: str | None = None, updated: datetime | None = None) -> str:
    """The study's note: objective, spec, recipe settings, progress and leaderboard, in markdown."""
    spec = results.spec
    counts = ", ".join(
        f"{results.count(state)} {label}"
        for state, label in (
            ("complete", "complete"),
            ("running", "running"),
            ("waiting", "queued"),
            ("failed", "failed"),
            ("pruned", "pruned"),
        )
    )
    hours = sum(c.wall_time_s for c in results.all_trials) / 3600
    parts = [
        f"## {results.name}",
        f"**Objective:** {METRIC_NAME}, maximised. A trial trains one configuration with every seed; "
        "its intermediate values are the seeds' dev F1 (step = seed index).",
        "### Spec",
        spec_markdown(spec),
        "### Recipe settings",
        "\n".join(f"- {s}" for s in RECIPE_SETTINGS),
        f"### Leaderboard (top {LEADERBOARD_SIZE})",
        leaderboard_markdown(results.configs),
        f"**Configurations:** {len(results.configs)}: {counts}. **Training time:** {hours:.2f} h.",
    ]
    if best_model:
        parts.append(f"**Best model:** study artifact `{best_model}`.")
    stamp = (updated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"_Written by hpsearch at {stamp}; edits made here are replaced after the next trial._")
    return "\n\n".join(parts) + "\n"


def update_study_note(study: optuna.Study) -> None:
    """Rewrite the study's note from its current trials.

    Raises:
        StudyNotFoundError: the study holds no hpsearch spec.
    """
    from optuna_dashboard import save_note

    from hpsearch.search import StudySpec

    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        from hpsearch.errors import StudyNotFoundError

        raise StudyNotFoundError(f"study {study.study_name!r} was not created by hpsearch (it holds no spec).")
    results = study_results(study, StudySpec.from_dict(data))
    save_note(study, study_note(results, best_model=best_model_filename(study)))


def try_update_study_note(study: optuna.Study) -> None:
    """:func:`update_study_note`, logging instead of raising: a note never fails a trial or a create."""
    try:
        update_study_note(study)
    except Exception as e:  # noqa: BLE001
        log.warning("could not write the note of study %s: %s: %s", study.study_name, type(e).__name__, e)


@dataclass
class NoteSchedule:
    """When a worker rewrites the study note: at once for a new best trial, else at most every
    ``min_interval_s`` seconds (rebuilding the note reads the whole study, which costs more than a
    short trial's bookkeeping once studies grow)."""

    min_interval_s: float = 60.0
    last: float = float("-inf")

    def due(self, new_best: bool) -> bool:
        now = time.monotonic()
        if new_best or now - self.last >= self.min_interval_s:
            self.last = now
            return True
        return False


def publish_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    artifacts: Artifacts | None,
    *,
    upload_model: bool = True,
    schedule: NoteSchedule | None = None,
) -> None:
    """After a trial completed: upload its model if it is the study's new best, then rewrite the note.

    Never raises; failures are logged as warnings.
    """
    from optuna.trial import TrialState

    new_best = False
    try:
        frozen = study._storage.get_trial(trial._trial_id)
        new_best = frozen.state == TrialState.COMPLETE and study.best_trial.number == frozen.number
        if new_best and artifacts is not None and upload_model:
            artifacts.upload_best_model(study, frozen)
    except Exception as e:  # noqa: BLE001
        log.warning("could not upload the best model of trial %s: %s: %s", trial.number, type(e).__name__, e)
    if schedule is None or schedule.due(new_best):
        try_update_study_note(study)


# --- the server --------------------------------------------------------------------------------


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _url_host(host: str) -> str:
    """The host part of a URL to open: a wildcard address becomes the loopback one."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    return f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Dashboard:
    """A bound optuna-dashboard: ``serve_forever`` blocks (until Ctrl-C), ``serve_in_thread`` does not."""

    server: WSGIServer
    url: str
    storage: str
    artifacts_dir: Path
    study_url: str | None = None
    _thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.5)

    def serve_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="hpsearch-dashboard", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()


def study_page_url(base_url: str, study_id: int) -> str:
    """optuna-dashboard's page of one study."""
    return f"{base_url.rstrip('/')}/studies/{study_id}"


def start_dashboard(
    storage_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    artifacts_dir: Path | None = None,
    study: str | None = None,
) -> Dashboard:
    """Bind optuna-dashboard (its WSGI app, served by threads) on the storage and artifact store.

    Args:
        storage_url: The study storage (SQLite or PostgreSQL).
        host: Address to bind; the dashboard has no login, so the loopback address is the default.
        port: Port to bind; 0 picks a free one (``url`` tells which).
        artifacts_dir: The workers' artifact folder; default as :func:`resolve_artifacts_dir`.
        study: A study whose page URL to give as ``study_url``.

    Raises:
        StorageError, StudyNotFoundError: the storage or the study does not exist.
        SpecError: the address cannot be bound.
    """
    import optuna_dashboard
    from optuna.artifacts import FileSystemArtifactStore

    storage = open_storage(storage_url, must_exist=True)
    study_id = load_study(storage, study)[0]._study_id if study is not None else None
    directory = resolve_artifacts_dir(storage_url, artifacts_dir)
    app = optuna_dashboard.wsgi(storage, artifact_store=FileSystemArtifactStore(directory))
    server_class = _Server6 if ":" in host else _Server
    try:
        server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    except OSError as e:
        reason = e.strerror or str(e)
        raise SpecError(f"cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    base = f"http://{_url_host(host)}:{server.server_port}/dashboard"
    return Dashboard(
        server=server,
        url=base,
        storage=mask_url(storage_url),
        artifacts_dir=directory,
        study_url=study_page_url(base, study_id) if study_id is not None else None,
    )
