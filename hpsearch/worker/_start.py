"""``hpsearch worker`` as one call: logging and progress for a terminal, the studies resolved, one worker run."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from hpsearch.store import open_storage, resolve_studies
from hpsearch.worker._loop import WorkerOptions, WorkerSummary, run_worker
from hpsearch.worker._progress import RichProgress, choose_progress


def start_worker(
    storage_url: str,
    patterns: Sequence[str],
    *,
    quiet: bool = False,
    verbose: bool = False,
    **options: object,
) -> WorkerSummary:
    """Run one worker in this process on the studies matching ``patterns``.

    In a terminal it shows a live view (``RichProgress``), else one line per event.

    Args:
        storage_url: The study storage.
        patterns: Study names or glob patterns.
        quiet: Only trial results and errors.
        verbose: Also Flair's own log lines.
        options: The fields of :class:`WorkerOptions`.

    Raises:
        StorageError, StudyNotFoundError: before any trial is claimed.
    """
    progress = choose_progress(quiet=quiet, verbose=verbose)
    live = progress if isinstance(progress, RichProgress) else None
    configure_logging(quiet=quiet, verbose=verbose, handler=live.log_handler() if live else None)
    storage = open_storage(storage_url, must_exist=True)
    names = resolve_studies(storage, patterns)
    try:
        return run_worker(storage_url, names, WorkerOptions(**options), progress=progress)
    finally:
        if live is not None:
            live.close()


def configure_logging(*, quiet: bool = False, verbose: bool = False, handler: logging.Handler | None = None) -> None:
    """hpsearch's events on stderr (or ``handler``); Flair's console lines and progress bars only with ``verbose``."""
    import os
    import warnings

    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"flair\..*")
    if not verbose:
        os.environ.setdefault("TQDM_DISABLE", "1")
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    hp = logging.getLogger("hpsearch")
    hp.handlers[:] = [handler]
    hp.setLevel(logging.INFO)
    hp.propagate = False
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the worker prints its own lines
    import flair  # noqa: F401 - installs Flair's console handler, which is tuned here

    for h in logging.getLogger("flair").handlers:
        if not isinstance(h, logging.FileHandler):
            h.setLevel(logging.INFO if verbose else logging.WARNING)
