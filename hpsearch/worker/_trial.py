"""A trial: one configuration trained with every seed of the spec, scored by mean dev F1.

Step numbering: ``trial.report(dev_f1, step=i)`` where ``i`` is the seed's index in
``spec.seeds`` (0-based), so the dashboard plots one point per seed. A run the pruner stopped
inside its epochs is stored (``complete=False``) but not reported.

Early stopping (``spec.pruner``, rules in ``hpsearch.search._pruning``): the rule is asked after each
epoch but a run's last (a ``RunPruned`` from the epoch hook stops the run) and after each seed
but the last; when it says stop, the trial gets a ``prune_reason`` user attribute and
``optuna.TrialPruned`` is raised, which the worker turns into a PRUNED trial.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hpsearch.search import (
    Config,
    Curve,
    NoPruner,
    SampledSpace,
    SeedPruner,
    SeedResult,
    StudySpec,
    TrialCurves,
    make_pruner,
    mean,
)
from hpsearch.store import (
    CONFIG_ATTR,
    PRUNE_REASON_ATTR,
    RUN_DIR_ATTR,
    VERSIONS_ATTR,
    encode_seed,
    reason_text,
    seed_attr_key,
    seed_dir,
    seed_results_from_attrs,
    summary_attrs,
    trial_dir,
    with_retries,
)
from hpsearch.training import PretrainedCache, RunHooks, RunPruned, TrainingData, TrainingOptions
from hpsearch.worker._progress import Progress

if TYPE_CHECKING:
    import optuna

class Trainer(Protocol):
    """Trains one seed of one configuration. ``FlairTrainer`` is the real one."""

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult: ...


class FlairTrainer:
    """Trains with Flair. Built once per worker process, it shares between runs what does not change:
    each corpus and its label dictionary, and the pretrained tokenizer, config and weights
    (read once, copied for every seed; see ``TrainingOptions.reuse_weights``).
    """

    def __init__(self, data_dir: Path | None = None, options: TrainingOptions | None = None) -> None:
        self.data_dir = data_dir
        self.options = options or TrainingOptions()
        self._data: dict[tuple[str, ...], TrainingData] = {}
        self._pretrained = PretrainedCache()

    def data_for(self, spec: StudySpec) -> TrainingData:
        from hpsearch.training import load_corpus

        key = tuple(d.key for d in spec.datasets)
        if key not in self._data:
            data_dir = self.data_dir or (Path(spec.data_dir) if spec.data_dir else None)
            corpus = load_corpus(spec.datasets, data_dir)
            self._data[key] = TrainingData.build(corpus)
        return self._data[key]

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        from hpsearch.training import train_seed

        return train_seed(
            self.data_for(spec),
            spec.model,
            config,
            seed,
            out_dir,
            hooks=hooks,
            options=self.options,
            pretrained=self._pretrained,
        )


@dataclass(frozen=True)
class TrialOutcome:
    value: float
    runs: tuple[SeedResult, ...]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("hpsearch", "flair", "torch", "transformers", "optuna"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def run_trial(
    trial: optuna.Trial,
    spec: StudySpec,
    trainer: Trainer,
    *,
    output_dir: Path,
    progress: Progress,
    hooks: RunHooks,
    after_seed: Callable[[int, Path], None] | None = None,
) -> TrialOutcome:
    """Train every seed not yet done, storing each seed's result on the trial as soon as it is known.

    ``after_seed(seed, run_dir)`` is called once a seed trained here is stored (the worker uploads
    its ``training.log`` to the artifact store).

    Raises:
        RunInterrupted, TrainingError: from the trainer; seeds stored so far stay on the trial.
        optuna.TrialPruned: the pruner stopped the trial; what it measured stays on the trial.
    """
    if isinstance(spec.space, SampledSpace):
        trial.study.sampler = spec.space.sampler(trial.number)  # a stream of its own for each trial
    config = with_retries(_suggest_config, spec, trial)
    run_root = trial_dir(output_dir, trial.study.study_name, trial.number, config.name)
    with_retries(trial.set_user_attr, CONFIG_ATTR, config.name)
    with_retries(trial.set_user_attr, RUN_DIR_ATTR, str(run_root.resolve()))
    progress.trial_started(trial.study.study_name, trial.number, config, len(spec.seeds))

    pruner = make_pruner(spec.pruner or "none")
    pruning = not isinstance(pruner, NoPruner)  # the rules read the whole study: skip that when unused
    done = {s: r for s, r in seed_results_from_attrs(trial.user_attrs).items() if r.complete}
    curves: dict[int, Curve] = {}
    runs: list[SeedResult] = []
    for index, seed in enumerate(spec.seeds):
        result = done.get(seed)
        progress.seed_started(index, seed, skipped=result is not None)
        if result is None:
            watch = _PruneWatch(pruner, trial, curves, seed, config.epochs)
            on_epoch = watch.on_epoch(hooks.on_epoch) if pruning else hooks.on_epoch
            run_hooks = RunHooks(stop=hooks.stop, on_epoch=on_epoch, on_batch=hooks.on_batch)
            result = trainer.train(spec, config, seed, seed_dir(run_root, seed), _with_progress(run_hooks, progress))
            with_retries(trial.set_user_attr, seed_attr_key(seed), encode_seed(result))
            progress.seed_done(result)
            if after_seed is not None:
                after_seed(seed, seed_dir(run_root, seed))
            if not result.complete:
                _prune(trial, watch.reason or f"seed {seed} was stopped after epoch {result.epochs_done}")
        with_retries(trial.report, result.dev_f1, index)
        runs.append(result)
        curves[seed] = result.dev_curve
        if pruning and index < len(spec.seeds) - 1:
            reason = pruner.stop_trial(with_retries(finished_curves, trial.study, trial.number), curves)
            if reason is not None:
                _prune(trial, reason)

    attrs = summary_attrs(runs, spec.seeds)
    attrs[VERSIONS_ATTR] = versions()
    for key, value in attrs.items():
        with_retries(trial.set_user_attr, key, value)
    dev = [r.dev_f1 for r in runs]
    return TrialOutcome(value=mean(dev), runs=tuple(runs))


def _suggest_config(spec: StudySpec, trial: optuna.Trial) -> Config:
    """The trial's configuration; safe to run again after a lost connection.

    The trial's parameters are read back from the storage first: an earlier attempt may have
    stored some before its reply was lost, and Optuna would try to insert them a second time.
    """
    trial._cached_frozen_trial = trial.storage.get_trial(trial._trial_id)
    return spec.space.suggest(trial)


def finished_curves(study: optuna.Study, exclude: int | None = None) -> list[TrialCurves]:
    """The study's trials as the pruner sees them: each finished seed's dev curve.

    Complete trials are candidates for the reference; the finished seeds of pruned and running
    trials (``complete=False``) only show how runs climb. ``exclude`` is the asking trial's number.
    """
    from optuna.trial import TrialState

    out = []
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    for t in study.get_trials(deepcopy=False, states=states):
        if t.number == exclude:
            continue
        runs = {s: r.dev_curve for s, r in seed_results_from_attrs(t.user_attrs).items() if r.complete and r.dev_curve}
        if runs:
            out.append(TrialCurves(runs=runs, number=t.number, complete=t.state == TrialState.COMPLETE))
    return out


class _PruneWatch:
    """The epoch hook of one run: asks the pruner after each epoch but the last, and raises ``RunPruned``."""

    def __init__(self, pruner: SeedPruner, trial: optuna.Trial, done: dict[int, Curve], seed: int, epochs: int) -> None:
        self.pruner, self.trial, self.done, self.seed, self.epochs = pruner, trial, dict(done), seed, epochs
        self.curve: list[float] = []
        self.reason: str | None = None

    def on_epoch(self, inner: Callable[[int, float], None] | None) -> Callable[[int, float], None]:
        def hook(epoch: int, dev_f1: float) -> None:
            if inner is not None:
                inner(epoch, dev_f1)
            self.curve.append(dev_f1)
            if len(self.curve) >= self.epochs:
                return
            finished = with_retries(finished_curves, self.trial.study, self.trial.number)
            reason = self.pruner.stop_run(finished, self.done, self.seed, tuple(self.curve))
            if reason is not None:
                self.reason = reason
                raise RunPruned(reason)

        return hook


def _prune(trial: optuna.Trial, reason: str) -> None:
    import optuna

    with_retries(trial.set_user_attr, PRUNE_REASON_ATTR, reason_text(reason))
    raise optuna.TrialPruned(reason)


def _with_progress(hooks: RunHooks, progress: Progress) -> RunHooks:
    def on_epoch(epoch: int, dev_f1: float) -> None:
        progress.epoch_done(epoch, dev_f1)
        if hooks.on_epoch is not None:
            hooks.on_epoch(epoch, dev_f1)

    return RunHooks(stop=hooks.stop, on_epoch=on_epoch, on_batch=progress.batch_done)
