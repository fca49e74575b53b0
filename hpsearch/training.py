"""Training one seed of one configuration with Flair, exactly as the recipe does."""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import TrainingError
from hpsearch.results import SeedResult
from hpsearch.spaces import Config

if TYPE_CHECKING:
    from flair.data import Corpus, Dictionary

MODEL_FILES = ("best-model.pt", "final-model.pt")


class RunInterrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The worker was asked to stop; the run's partial result is discarded."""


class RunPruned(Exception):  # noqa: N818
    """The early-stopping rule stopped this run; its dev curve so far is kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


EpochCallback = Callable[[int, float], None]
"""Called after each epoch with (epoch, dev F1); may raise ``RunPruned``."""

BatchCallback = Callable[[int, int, int], None]
"""Called after each batch with (epoch, batch number from 1, batches per epoch)."""


@dataclass
class TrainingData:
    """The corpus and its label dictionary, built once per worker and shared by every run."""

    corpus: Corpus
    labels: Dictionary


@dataclass
class RunHooks:
    """How a worker watches and steers a run."""

    stop: threading.Event = field(default_factory=threading.Event)
    on_epoch: EpochCallback | None = None
    on_batch: BatchCallback | None = None


def _monitor_plugin(curve: list[float], hooks: RunHooks) -> Any:
    from flair.trainers.plugins import TrainerPlugin

    class RunMonitor(TrainerPlugin):
        """Records each epoch's dev micro-F1 and lets the worker stop or prune the run."""

        @TrainerPlugin.hook
        def after_training_batch(self, epoch: int, batch_no: int, total_number_of_batches: int, **kw: Any) -> None:
            if hooks.stop.is_set():
                raise RunInterrupted("worker stopping")
            if hooks.on_batch is not None:
                hooks.on_batch(epoch, batch_no + 1, total_number_of_batches)

        @TrainerPlugin.hook
        def after_evaluation(self, epoch: int, validation_scores: tuple, **kw: Any) -> None:
            score, loss = float(validation_scores[0]), float(validation_scores[1])
            if math.isnan(loss) or math.isnan(score):
                raise TrainingError(f"training diverged: dev loss is {loss} after epoch {epoch}")
            curve.append(score)
            if hooks.on_epoch is not None:
                hooks.on_epoch(epoch, score)

    return RunMonitor()


def device_name() -> str:
    import flair
    import torch

    if flair.device.type == "cuda":
        return torch.cuda.get_device_name(flair.device)
    return str(flair.device)


def train_seed(
    data: TrainingData,
    model: str,
    config: Config,
    seed: int,
    out_dir: Path,
    *,
    hooks: RunHooks | None = None,
    mini_batch_chunk_size: int | None = None,
) -> SeedResult:
    """Fine-tune a fresh tagger for one seed with the recipe's fixed settings.

    Returns the dev F1 of every epoch and the test F1 of the best-epoch model. If the
    epoch callback prunes the run, the result holds the epochs done and ``complete=False``.

    Raises:
        RunInterrupted: ``hooks.stop`` was set.
        TrainingError: the run failed (diverged, out of memory, ...).
    """
    import flair
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    hooks = hooks or RunHooks()
    out_dir.mkdir(parents=True, exist_ok=True)
    curve: list[float] = []
    started = time.perf_counter()
    flair.set_seed(seed)
    embeddings = TransformerWordEmbeddings(
        model,
        layers=config.layers,
        subtoken_pooling=config.subtoken_pooling,
        fine_tune=True,
        use_context=config.use_context,
    )
    tagger = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=data.labels,
        tag_type="ner",
        use_crf=config.use_crf,
        use_rnn=False,
        reproject_embeddings=False,
    )
    trainer = ModelTrainer(tagger, data.corpus)
    pruned = False
    test_f1: float | None = None
    try:
        values = trainer.fine_tune(
            out_dir,
            learning_rate=config.learning_rate,
            mini_batch_size=config.batch_size,
            mini_batch_chunk_size=mini_batch_chunk_size,
            max_epochs=config.epochs,
            warmup_fraction=config.warmup_fraction,
            shuffle=True,
            embeddings_storage_mode="none",
            weight_decay=0.0,
            use_final_model_for_eval=False,
            save_final_model=False,
            plugins=[_monitor_plugin(curve, hooks)],
        )
        test_f1 = float(values["test_score"]) if data.corpus.test else None
    except RunPruned:
        pruned = True
    except (RunInterrupted, TrainingError):
        raise
    except Exception as e:
        raise TrainingError(f"seed {seed} failed: {type(e).__name__}: {_first_line(e)}") from e
    return SeedResult(
        seed=seed,
        dev_curve=tuple(curve),
        test_f1=test_f1,
        wall_time_s=time.perf_counter() - started,
        device=device_name(),
        mini_batch_chunk_size=mini_batch_chunk_size,
        complete=not pruned,
    )


def remove_model_files(run_dir: Path) -> None:
    for name in MODEL_FILES:
        (run_dir / name).unlink(missing_ok=True)


def remove_run_models(trial_dir: Path) -> None:
    """Delete the model files of every seed of a trial, keeping logs."""
    if trial_dir.is_dir():
        for run_dir in trial_dir.iterdir():
            remove_model_files(run_dir)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""
