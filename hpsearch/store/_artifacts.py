"""Artifacts: files a worker attaches to trials and studies, for the dashboard to open.

Workers write to an Optuna ``FileSystemArtifactStore``; ``hpsearch dashboard`` reads the same
folder. Both find it with :func:`resolve_artifacts_dir`: ``--artifacts`` if given, else a folder
``artifacts/`` next to the SQLite file, or ``./artifacts`` with PostgreSQL (workers on other
machines then need a shared folder passed as ``--artifacts``).

What is uploaded:

- each seed's Flair ``training.log``, to its trial, as ``seed-<n>-training.log``, once the seed is done;
- the best trial's model (the ``best-model.pt`` of its best seed), to the study, as one artifact
  ``best-model-trial-<n>-seed-<s>.pt`` that is replaced whenever a better trial completes.

Uploads never fail a trial: an error is logged as a warning and training goes on.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.errors import StorageError
from hpsearch.store._queue import set_study_artifact
from hpsearch.store._record import (
    ARTIFACTS_DIRNAME,
    BEST_MODEL,
    RUN_DIR_ATTR,
    TRAINING_LOG,
    seed_dir,
    seed_log_artifact_name,
    seed_results_from_attrs,
)
from hpsearch.store._storage import parse_url, sqlite_path

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore
    from optuna.trial import FrozenTrial

log = logging.getLogger("hpsearch.store")


def default_artifacts_dir(storage_url: str) -> Path:
    """``artifacts/`` next to the SQLite file, or ``./artifacts`` for a database server (absolute)."""
    path = sqlite_path(parse_url(storage_url))
    base = path.parent if path is not None else Path()
    return (base / ARTIFACTS_DIRNAME).absolute()


def resolve_artifacts_dir(storage_url: str, artifacts_dir: Path | None) -> Path:
    """The artifact folder workers and the dashboard share: ``artifacts_dir`` if given, else the default."""
    if artifacts_dir is not None:
        return artifacts_dir.expanduser().absolute()
    return default_artifacts_dir(storage_url)


def best_model_artifact_id(study: optuna.Study) -> str:
    """The study's one best-model artifact: a fixed id, so a better trial replaces it in place."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hpsearch:{study.study_name}:best-model"))


def best_model_filename(study: optuna.Study) -> str | None:
    """The file name of the study's best-model artifact (it names trial and seed), or None."""
    from optuna.artifacts import get_all_artifact_meta

    artifact_id = best_model_artifact_id(study)
    return next((m.filename for m in get_all_artifact_meta(study) if m.artifact_id == artifact_id), None)


class Artifacts:
    """A worker's artifact store; see the module docstring for what goes there."""

    def __init__(self, directory: Path) -> None:
        from optuna.artifacts import FileSystemArtifactStore

        self.directory = directory
        self.store: FileSystemArtifactStore = FileSystemArtifactStore(directory)

    @classmethod
    def open(cls, storage_url: str, artifacts_dir: Path | None = None) -> Artifacts:
        """The store for this storage, its folder created.

        Raises:
            StorageError: the folder cannot be created.
        """
        directory = resolve_artifacts_dir(storage_url, artifacts_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"cannot create the artifact folder {directory} ({e.strerror}); see --artifacts."
            ) from None
        return cls(directory)

    def upload_seed_log(self, trial: optuna.Trial, seed: int, run_dir: Path) -> str | None:
        """Attach a finished seed's ``training.log`` to its (running) trial; the artifact id, or None."""
        from optuna.artifacts import upload_artifact

        path = run_dir / TRAINING_LOG
        if not path.is_file():
            log.debug("no %s to upload", path)
            return None
        try:
            with _named(path, seed_log_artifact_name(seed)) as named:
                return upload_artifact(
                    artifact_store=self.store, file_path=str(named), study_or_trial=trial, mimetype="text/plain"
                )
        except Exception as e:  # noqa: BLE001 - an artifact never fails a trial
            log.warning("could not upload %s to the artifact store: %s: %s", path, type(e).__name__, e)
            return None

    def upload_best_model(self, study: optuna.Study, trial: FrozenTrial) -> str | None:
        """Make ``trial``'s best seed's model the study's best-model artifact; its file name, or None.

        The caller checks that ``trial`` is the study's best. Two workers finishing new bests at the
        same moment may leave the second-best model until the next better trial completes.
        """
        from optuna.artifacts import ArtifactMeta

        seeds = [r for r in seed_results_from_attrs(trial.user_attrs).values() if r.complete]
        run_root = trial.user_attrs.get(RUN_DIR_ATTR)
        if not seeds or not run_root:
            return None
        best = max(seeds, key=lambda r: r.dev_f1)
        path = seed_dir(Path(run_root), best.seed) / BEST_MODEL
        if not path.is_file():
            log.debug("no %s to upload", path)
            return None
        artifact_id = best_model_artifact_id(study)
        meta = ArtifactMeta(
            artifact_id=artifact_id,
            filename=f"best-model-trial-{trial.number:04d}-seed-{best.seed}.pt",
            mimetype="application/octet-stream",
            encoding=None,
        )
        try:
            with path.open("rb") as f:
                self.store.write(artifact_id, f)
            set_study_artifact(study, meta)
        except Exception as e:  # noqa: BLE001 - an artifact never fails a trial
            log.warning("could not upload %s to the artifact store: %s: %s", path, type(e).__name__, e)
            return None
        return meta.filename


@contextmanager
def _named(path: Path, name: str) -> Iterator[Path]:
    """A symlink to ``path`` called ``name``: ``upload_artifact`` names an artifact after its file."""
    with tempfile.TemporaryDirectory(prefix="hpsearch-artifact-") as tmp:
        link = Path(tmp) / name
        link.symlink_to(path.resolve())
        yield link
