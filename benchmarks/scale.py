"""How a fleet of workers scales: hpsearch workers against plain Optuna workers, on the same queue;
and, with ``--study-sizes``, how a worker's per-trial bookkeeping grows with the study.

Every setting gets a fresh storage and a study of ``--trials`` queued grid points (one seed each),
then starts its workers, waits until all of them have imported everything, and lets them go at once:

- hpsearch: ``run_worker`` with ``hpsearch.testing._fake_trainer.FakeTrainer`` (sleeps ``--seconds`` per trial);
- plain Optuna: the same points enqueued with ``study.enqueue_trial``, each worker running
  ``study.optimize(objective, n_trials=k)`` on ``RDBStorage(url)`` with the same heartbeat settings, its
  objective training the same fake seed and storing its result as hpsearch does (user attribute + report).

Both process the same number of trials, split evenly over the workers (``--per-worker`` trials per worker,
at most ``--trials`` in all), so that plain Optuna workers never run out of queued trials and sample new
ones. Throughput is trials completed per second between the first claim and the last completion (from
the trials' timestamps: process start-up is not counted); the speedup is over one worker of the same
kind. Duplicates: configurations completed more than once, or trials that were not in the queue; lost:
trials to be processed that did not complete; errors: failed trials, workers that exited non-zero or
logged a traceback.

The study-size axis (``--study-sizes 20,2000``): for each size, a fresh storage holds a study with that
many finished trials (three of four complete with 3 seeds × 4 epochs, one of four pruned after a seed
and a half; user attributes as the worker stores them) and ``--measure`` + 2 queued ones. One worker per
size, in this process, runs the queued trials through the worker's own code (``_claim_next``,
``_train_claimed``: ``run_trial``, ``tell``, ``publish_trial``) with a trainer that takes no time, the
sizes taking turns trial by trial; the first two trials of each are warm-up. The study's pruning rule
(``paired``) is asked as in any trial (after each epoch but the last, and after each seed but the
last) but its answer is ignored, so that every trial does the same work; its reads of the study are
timed as "pruner reads", its own decisions apart. The note is rewritten after every trial (the worker
does it at most once a minute, or for a new best), and the study's ETA read at every seed's first
epoch (the worker does it at most once a minute). Printed: the median time per trial of each part,
side by side, and their ratio.

Usage::

    python benchmarks/scale.py            # PostgreSQL 1, 4, 16, 32 workers; SQLite 1, 4, 8
    python benchmarks/scale.py --quick    # a short run: 1 and 4 workers, short sleeps
    python benchmarks/scale.py --write    # also write the table to benchmarks/README.md, section "scale"
    python benchmarks/scale.py --backend postgresql --study-sizes 20,2000   # bookkeeping by study size

PostgreSQL: ``HPSEARCH_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``); each setting
creates and drops a database of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FULL = {"postgresql": (1, 4, 16, 32), "sqlite": (1, 4, 8)}
QUICK = {"postgresql": (1, 4), "sqlite": (1, 4)}
KINDS = ("hpsearch", "optuna")


@dataclass(frozen=True)
class Outcome:
    backend: str
    kind: str
    workers: int
    expected: int
    complete: int
    span_s: float
    duplicates: int
    lost: int
    errors: int
    parts: tuple[tuple[str, float, float], ...] = ()
    """hpsearch workers: (part, CPU seconds, wall seconds) per trial, the mean over all trials (``Clock``)."""

    @property
    def per_second(self) -> float:
        return self.complete / self.span_s if self.span_s > 0 else 0.0


def spec(n: int):  # -> hpsearch.search._spec.StudySpec
    from hpsearch.search import GridSpace, StudySpec

    lrs = tuple(round(1e-6 * (i + 1), 9) for i in range(n))
    return StudySpec(model="fake", label="fake", space=GridSpace(lrs, (8,), (1,)), seeds=(1,))


def create(kind: str, url: str, n: int) -> None:
    import optuna

    if kind == "hpsearch":
        from hpsearch.store import create_study, open_storage

        create_study(spec(n), open_storage(url), "scale")
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="scale", storage=url, direction="maximize")
    for config in spec(n).space.configs():
        study.enqueue_trial(config.to_params())


# --- one worker process ------------------------------------------------------------------------


def worker(kind: str, url: str, n: int, seconds: float, n_trials: int, folder: Path, name: str, notes: bool) -> int:
    import logging
    import warnings

    import optuna

    from hpsearch.store import encode_seed, seed_attr_key
    from hpsearch.testing import FakeTrainer
    from hpsearch.training import RunHooks

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    trainer = FakeTrainer(seconds, record=folder / "record.jsonl")
    clock: Clock | None = None
    if kind == "hpsearch":
        import optuna_dashboard  # noqa: F401 - imported by the first trial's dashboard note otherwise

        import hpsearch.worker._loop
        from hpsearch.worker import WorkerOptions, run_worker

        clock = Clock()  # where a worker's time goes, part by part
        install_clock(clock)
        hpsearch.worker._loop._train_claimed = clock.timed("trial", hpsearch.worker._loop._train_claimed)
        if not notes:  # --no-notes: measure the fleet without the dashboard note written after each trial
            hpsearch.worker._loop.publish_trial = lambda *_a, **_kw: None

        options = WorkerOptions(
            output_dir=folder / "runs",
            artifacts_dir=folder / "artifacts",
            keep_models="none",
            n_trials=n_trials,
            handle_signals=False,
        )

        def run() -> None:
            run_worker(url, ["scale"], options, trainer=trainer)

    else:
        the_spec = spec(n)
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=20, grace_period=60)
        study = optuna.load_study(study_name="scale", storage=storage, sampler=optuna.samplers.RandomSampler())

        def objective(trial: optuna.Trial) -> float:
            config = the_spec.space.suggest(trial)
            result = trainer.train(the_spec, config, 1, folder, RunHooks())
            trial.set_user_attr(seed_attr_key(1), encode_seed(result))
            trial.report(result.dev_f1, 0)
            return result.dev_f1

        def run() -> None:
            study.optimize(objective, n_trials=n_trials)

    (folder / f"{name}.ready").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    run()
    if clock is not None:
        times = {"wall": clock.now, "cpu": clock.cpu, "calls": clock.calls}
        (folder / f"{name}.times.json").write_text(json.dumps(times))
    return 0


# --- one setting -------------------------------------------------------------------------------


def fresh_url(backend: str, folder: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'scale.db'}", None
    from tests.pg import create_database

    name, url = create_database()
    return url, name


def run_setting(backend: str, kind: str, workers: int, args: argparse.Namespace) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix=f"scale-{backend}-{kind}-{workers}-"))
    url, database = fresh_url(backend, folder)
    try:
        create(kind, url, args.trials)
        expected = min(args.trials, args.per_worker * workers)
        counts = [expected // workers + (1 if i < expected % workers else 0) for i in range(workers)]
        procs = []
        for i, count in enumerate(counts):
            argv = [sys.executable, __file__, "_worker", kind, url, str(args.trials), str(args.seconds), str(count)]
            argv += ["notes" if args.notes else "no-notes"]
            with (folder / f"w{i}.log").open("wb") as log:
                argv += [str(folder), f"w{i}"]
                procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=folder))
        deadline = time.monotonic() + 300
        while not all((folder / f"w{i}.ready").exists() for i in range(workers)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        (folder / "go").touch()
        codes = [p.wait(timeout=args.timeout) for p in procs]
        logs = [(folder / f"w{i}.log").read_text(errors="replace") for i in range(workers)]
        outcome = evaluate(backend, kind, workers, url, expected, codes, logs, folder / "record.jsonl")
        return dataclasses.replace(outcome, parts=worker_parts(folder))
    finally:
        if database is not None:
            from tests.pg import drop_database

            drop_database(database)
        shutil.rmtree(folder, ignore_errors=True)


TIMED = ("claim", "pruner reads", "ETA read", "tell", "note")
"""The parts of a trial ``Clock`` times in worker processes; "trial" is the rest, "all" the sum."""


def worker_parts(folder: Path) -> tuple[tuple[str, float, float], ...]:
    """Each timed part's CPU and wall seconds per trial, over every worker of a setting."""
    cpu: dict[str, float] = defaultdict(float)
    wall: dict[str, float] = defaultdict(float)
    trials = 0
    for path in folder.glob("*.times.json"):
        times = json.loads(path.read_text())
        trials += times["calls"].get("trial", 0)
        for name, seconds in times["cpu"].items():
            cpu[name] += seconds
        for name, seconds in times["wall"].items():
            wall[name] += seconds
    if not trials:
        return ()
    # "trial" (run_trial, tell, the note...) holds every part but the claim: what it took besides them.
    inside = [name for name in TIMED if name != "claim"]
    cpu["rest"] = cpu["trial"] - sum(cpu[n] for n in inside)
    wall["rest"] = wall["trial"] - sum(wall[n] for n in inside)
    cpu["all"], wall["all"] = cpu["trial"] + cpu["claim"], wall["trial"] + wall["claim"]
    return tuple((name, cpu[name] / trials, wall[name] / trials) for name in (*TIMED, "rest", "all"))


def parts_line(outcome: Outcome) -> str:
    """One line: the parts of an hpsearch worker's trial, CPU and wall milliseconds."""
    return "  per trial, ms CPU/wall: " + ", ".join(
        f"{name} {1000 * cpu:.0f}/{1000 * wall:.0f}" for name, cpu, wall in outcome.parts
    )


def evaluate(
    backend: str, kind: str, workers: int, url: str, expected: int, codes: list[int], logs: list[str], record: Path
) -> Outcome:
    import collections

    import optuna
    from optuna.trial import TrialState

    from hpsearch.testing import read_record

    trials = optuna.load_study(study_name="scale", storage=url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    distinct = {t.params["learning_rate"] for t in complete}
    # Plain Optuna samples a new trial when it finds none queued: a configuration trained twice.
    extra = sum(1 for t in trials if "fixed_params" not in t.system_attrs) if kind == "optuna" else 0
    span = 0.0
    if complete:
        first = min(t.datetime_start for t in complete)
        last = max(t.datetime_complete for t in complete)
        span = (last - first).total_seconds()
    failed_workers = sum(1 for c, log in zip(codes, logs, strict=True) if c != 0 or "Traceback" in log)
    errors = failed_workers + sum(1 for t in trials if t.state == TrialState.FAIL)
    # Trained more than once: two workers ran the same trial, or one ran a trial that was not queued.
    trained = collections.Counter((e["config"], e["seed"]) for e in read_record(record) if e["event"] == "done")
    return Outcome(
        backend=backend,
        kind=kind,
        workers=workers,
        expected=expected,
        complete=len(complete),
        span_s=span,
        duplicates=sum(n - 1 for n in trained.values()) + extra,
        lost=max(0, expected - len(distinct)),
        errors=errors,
    )


# --- the study-size axis: one worker's bookkeeping per trial ------------------------------------

SEEDS = (1, 2, 3)
EPOCHS = 4
WARMUP = 2
PARTS = ("claim", "pruner reads", "ETA read", "seed writes, attributes, heartbeat", "tell", "note")
"""What a worker stores and reads per trial, in the order it does it: the bookkeeping."""
APART = ("rule decisions",)
"""Timed in the same trials but not bookkeeping of this benchmark (see ``bookkeeping_table``)."""


def size_spec(n: int):  # -> hpsearch.search._spec.StudySpec
    """A grid of at least ``n`` points, two dimensions of about sqrt(n) values each (a grid trial stores
    each dimension's values with its params)."""
    import math

    from hpsearch.search import GridSpace, StudySpec

    side = math.isqrt(n - 1) + 1
    lrs = tuple(round(1e-7 * (i + 1), 10) for i in range(side))
    space = GridSpace(lrs, tuple(range(1, side + 1)), (EPOCHS,))
    return StudySpec(model="fake", label="fake", space=space, seeds=SEEDS, pruner="paired")


VERSIONS: dict[str, str] = {}
"""``hpsearch.worker._trial.versions()``, looked up once."""


def finished_trial(spec: Any, config: Any, rng: random.Random, pruned: bool):  # -> optuna.trial.FrozenTrial
    """A finished trial with the attributes a worker stores on one (hpsearch.worker._trial.run_trial)."""
    import optuna

    from hpsearch.search import SeedProgress, SeedResult
    from hpsearch.store import (
        CONFIG_ATTR,
        PROGRESS_ATTR,
        PRUNE_REASON_ATTR,
        RUN_DIR_ATTR,
        VERSIONS_ATTR,
        encode_progress,
        encode_seed,
        grid_distributions,
        seed_attr_key,
        summary_attrs,
        worker_attrs,
    )
    from hpsearch.worker._trial import versions

    def run(seed: int, epochs: int) -> SeedResult:
        top = rng.uniform(0.3, 0.8)
        curve = tuple(top * (0.7 + 0.3 * e / EPOCHS) for e in range(1, epochs + 1))
        return SeedResult(seed, curve, rng.uniform(0.3, 0.8), 300.0 * epochs, "cuda:0", None, epochs == EPOCHS)

    runs = [run(SEEDS[0], EPOCHS), run(SEEDS[1], 2)] if pruned else [run(s, EPOCHS) for s in SEEDS]
    attrs: dict[str, Any] = {CONFIG_ATTR: config.name, RUN_DIR_ATTR: f"/runs/scale/trial-{config.name}"}
    attrs.update(worker_attrs({"SLURM_JOB_ID": "4242"}, "gpu-node-17", 31337))
    attrs.update({seed_attr_key(r.seed): encode_seed(r) for r in runs})
    attrs[PROGRESS_ATTR] = encode_progress(SeedProgress(runs[-1].seed, len(runs[-1].dev_curve), 1234.5))
    if pruned:
        attrs[PRUNE_REASON_ATTR] = f"seed {SEEDS[1]} was stopped after epoch 2"
    else:
        attrs.update(summary_attrs(runs, SEEDS))
        if not VERSIONS:
            VERSIONS.update(versions())
        attrs[VERSIONS_ATTR] = dict(VERSIONS)
    done = [r for r in runs if r.complete]
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
        value=None if pruned else sum(r.dev_f1 for r in done) / len(done),
        params=spec.space.params(config),
        distributions=grid_distributions(spec),
        user_attrs=attrs,
        intermediate_values={SEEDS.index(r.seed): r.dev_f1 for r in done},
    )


def fill(url: str, spec: Any, finished: int, queued: int) -> None:
    """A study "scale" of ``spec`` with ``finished`` finished trials, then ``queued`` queued grid points.

    ``Study.add_trials`` stores a trial in about 40 statements, which takes minutes for 2,000 trials on a
    busy machine; the trials are stored as it would store them, in one transaction
    (``store_at_once``), and two of them are read back and compared.
    """
    import optuna

    from hpsearch.store import CONFIG_ATTR, create_study, grid_distributions, load_study, open_storage

    storage = open_storage(url)
    create_study(spec, storage, "scale", queue=False)
    study = load_study(storage, "scale")[0]
    configs = list(spec.space.configs())
    rng = random.Random(finished)
    trials = [finished_trial(spec, c, rng, pruned=i % 4 == 3) for i, c in enumerate(configs[:finished])]
    waiting = optuna.trial.TrialState.WAITING
    distributions = grid_distributions(spec)
    trials += [
        optuna.trial.create_trial(
            state=waiting, params=spec.space.params(c), distributions=distributions, user_attrs={CONFIG_ATTR: c.name}
        )
        for c in configs[finished : finished + queued]
    ]
    store_at_once(storage, study, trials)
    stored = study.get_trials(deepcopy=False)
    for number in (0, finished - 1):
        got, want = stored[number], trials[number]
        fields = ("state", "value", "params", "distributions", "user_attrs", "intermediate_values")
        if len(stored) != len(trials) or any(getattr(got, f) != getattr(want, f) for f in fields):
            raise RuntimeError(f"trial {number} was not stored as Study.add_trial stores it")


def store_at_once(storage: Any, study: Any, trials: list[Any]) -> None:
    """Add FrozenTrials to an empty study in one transaction, with the rows ``RDBStorage.create_new_trial`` writes."""
    import json

    import sqlalchemy.orm
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models

    rows = []
    for number, t in enumerate(trials):
        row = models.TrialModel(
            study_id=study._study_id,
            number=number,
            state=t.state,
            datetime_start=t.datetime_start,
            datetime_complete=t.datetime_complete,
        )
        if t.value is not None:
            value, kind = models.TrialValueModel.value_to_stored_repr(t.value)
            row.values = [models.TrialValueModel(objective=0, value=value, value_type=kind)]
        row.params = [
            models.TrialParamModel(
                param_name=name,
                param_value=t.distributions[name].to_internal_repr(value),
                distribution_json=distribution_to_json(t.distributions[name]),
            )
            for name, value in t.params.items()
        ]
        row.user_attributes = [
            models.TrialUserAttributeModel(key=k, value_json=json.dumps(v)) for k, v in t.user_attrs.items()
        ]
        row.intermediate_values = []
        for step, value in t.intermediate_values.items():
            stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
            row.intermediate_values.append(
                models.TrialIntermediateValueModel(step=step, intermediate_value=stored, intermediate_value_type=kind)
            )
        rows.append(row)
    with sqlalchemy.orm.Session(storage.engine) as session:
        session.add_all(rows)
        session.commit()


class Clock:
    """Seconds per part of a worker's trials, wall-clock (``now``) and the process's CPU (``cpu``)."""

    def __init__(self) -> None:
        self.now: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.now[name] += time.perf_counter() - started
            self.cpu[name] += time.process_time() - cpu
            self.calls[name] += 1

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.part(name):
                return fn(*args, **kwargs)

        return wrapper

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        now, calls = dict(self.now), dict(self.calls)
        self.now.clear()
        self.cpu.clear()
        self.calls.clear()
        return now, calls


def install_clock(clock: Clock, *, ignore_rule: bool = False) -> None:
    """Time the worker's own calls where it makes them (module globals and methods); ``ignore_rule``:
    the pruning rule is asked and timed, but its answer ignored (every trial then trains in full)."""
    import optuna

    import hpsearch.worker._loop as loop
    import hpsearch.worker._trial as trial_module
    from hpsearch.search import SeedPruner

    loop._claim_next = clock.timed("claim", loop._claim_next)
    optuna.Study.tell = clock.timed("tell", optuna.Study.tell)
    trial_module.finished_curves = clock.timed("pruner reads", trial_module.finished_curves)
    reporter = trial_module._SeedReporter
    reporter._read_study_eta = clock.timed("ETA read", reporter._read_study_eta)
    loop.publish_trial = clock.timed("note", loop.publish_trial)
    if not ignore_rule:
        return

    class Ignored(SeedPruner):
        """The study's rule, asked and timed; its answer ignored, so that every trial runs in full."""

        name = "timed"

        def __init__(self, rule: SeedPruner) -> None:
            self.rule = rule

        def stop_run(self, finished: Any, done: Any, seed: int, curve: Any) -> None:
            with clock.part("rule decisions"):
                self.rule.stop_run(finished, done, seed, curve)

        def stop_trial(self, finished: Any, done: Any) -> None:
            with clock.part("rule decisions"):
                self.rule.stop_trial(finished, done)

    make_pruner = trial_module.make_pruner
    trial_module.make_pruner = lambda name: Ignored(make_pruner(name))


@dataclass
class SizeRun:
    """One worker serving the study of one size."""

    finished: int
    url: str
    database: str | None
    folder: Path
    first_read_s: float = 0.0
    state: Any = None
    trials: list[tuple[dict[str, float], dict[str, int]]] | None = None

    def open(self) -> None:
        from hpsearch.dashboard import NoteSchedule
        from hpsearch.store import Artifacts, load_study, open_storage, study_view
        from hpsearch.testing import FakeTrainer
        from hpsearch.worker import LineProgress, WorkerOptions

        storage = open_storage(self.url, must_exist=True, heartbeat_interval=20, grace_period=60)
        study, spec = load_study(storage, "scale")
        options = WorkerOptions(
            output_dir=self.folder / "runs",
            artifacts_dir=self.folder / "artifacts",
            keep_models="none",
            handle_signals=False,
        )
        started = time.perf_counter()
        study_view(study).refresh()  # the study's first read, once per worker
        self.first_read_s = time.perf_counter() - started
        notes = NoteSchedule(min_interval_s=0.0)  # a note after every trial
        trainer, progress = FakeTrainer(0.0), LineProgress(quiet=True)
        self.state = (study, spec, options, Artifacts.open(self.url, options.artifacts_dir), notes, trainer, progress)
        self.trials = []

    def one_trial(self, clock: Clock) -> None:
        from hpsearch.worker._loop import _claim_next, _train_claimed

        study, spec, options, artifacts, notes, trainer, progress = self.state
        started = time.perf_counter()
        claimed = _claim_next([(study, spec)], options)
        if claimed is None:
            raise RuntimeError(f"study of {self.finished} finished trials: the queue ran out")
        state = _train_claimed(study, spec, claimed[2], trainer, options, progress, artifacts, notes)
        if state != "complete":
            raise RuntimeError(f"a measured trial ended {state}")
        now, calls = clock.take()
        now["total"] = time.perf_counter() - started
        self.trials.append((now, calls))


def bookkeeping(backend: str, sizes: list[int], measure: int) -> list[SizeRun]:
    """Fill one study per size, then run their trials taking turns; see the module docstring."""
    import logging

    import optuna

    import hpsearch.worker._trial as trial_module

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("hpsearch").setLevel(logging.WARNING)
    clock = Clock()
    install_clock(clock, ignore_rule=True)
    trial_module.STUDY_ETA_INTERVAL_S = 0.0  # every seed reads the study's ETA, as the note is written every trial
    runs = []
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"scale-size-{backend}-{size}-"))
        url, database = fresh_url(backend, folder)
        started = time.monotonic()
        fill(url, size_spec(max(sizes) + measure + WARMUP), size, measure + WARMUP)
        print(f"{backend}: a study of {size} finished trials stored in {time.monotonic() - started:.0f} s", flush=True)
        runs.append(SizeRun(size, url, database, folder))
    try:
        for run in runs:
            run.open()
        for _ in range(measure + WARMUP):
            for run in runs:
                run.one_trial(clock)
    finally:
        for run in runs:
            if run.database is not None:
                from tests.pg import drop_database

                drop_database(run.database)
            shutil.rmtree(run.folder, ignore_errors=True)
    return runs


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def bookkeeping_table(backend: str, runs: list[SizeRun]) -> str:
    """Median milliseconds per trial of each part, by study size, and the ratio of the last size to the first.

    "seed writes, attributes, heartbeat" is what the trial took besides the parts timed on their own;
    "bookkeeping" is the trial without the parts timed apart.
    """
    measured = [p for p in PARTS if p != "seed writes, attributes, heartbeat"]

    def per_trial(run: SizeRun) -> list[dict[str, float]]:
        out = []
        for now, _ in run.trials[WARMUP:]:
            parts = {name: now.get(name, 0.0) for name in (*measured, *APART)}
            parts["bookkeeping"] = now["total"] - sum(parts[name] for name in APART)
            parts["seed writes, attributes, heartbeat"] = parts["bookkeeping"] - sum(parts[n] for n in measured)
            out.append(parts)
        return out

    def calls(name: str) -> str:
        counts = sorted({c.get(name, 0) for _, c in runs[0].trials[WARMUP:]})
        return "/".join(str(c) for c in counts)

    trials = [per_trial(r) for r in runs]
    sizes = " | ".join(f"{r.finished:,} finished, ms" for r in runs)
    lines = [f"| {backend}: per trial | calls | {sizes} | ratio |", "|---|---:|" + "---:|" * len(runs) + "---:|"]
    rows = [(name, calls(name) if name in measured else "") for name in PARTS]
    rows += [("bookkeeping", ""), *((name, calls(name)) for name in APART)]
    for name, count in rows:
        values = [statistics.median(t[name] for t in ts) for ts in trials]
        label = {"bookkeeping": "**bookkeeping**"}.get(name, name if name in PARTS else f"apart: {name}")
        ratio = f"{values[-1] / values[0]:.2f}×" if values[0] > 0 else "–"
        lines.append(f"| {label} | {count} | " + " | ".join(_ms(v) for v in values) + f" | {ratio} |")
    first = [r.first_read_s for r in runs]
    lines.append(
        "| apart: the view's first read (once per worker) | 1 | "
        + " | ".join(_ms(v) for v in first)
        + f" | {first[-1] / first[0]:.2f}× |"
    )
    return "\n".join(lines)


# --- the report --------------------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> str:
    one = {(o.backend, o.kind): o.per_second for o in outcomes if o.workers == 1}
    lines = [
        "| storage | workers | kind | trials | trials/s | speedup | ideal | duplicates | lost | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        base = one.get((o.backend, o.kind))
        speedup = f"{o.per_second / base:.1f}×" if base else "–"
        lines.append(
            f"| {o.backend} | {o.workers} | {o.kind} | {o.complete}/{o.expected} | {o.per_second:.2f} | {speedup} "
            f"| {o.workers}× | {o.duplicates} | {o.lost} | {o.errors} |"
        )
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or add) the "## scale" section of benchmarks/README.md, leaving the others alone."""
    readme = ROOT / "benchmarks" / "README.md"
    old = readme.read_text() if readme.exists() else "# Benchmarks\n"
    lines = old.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "## scale"), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "\n".join([*lines[:start], *text.rstrip("\n").splitlines(), "", *lines[end:]]).rstrip("\n") + "\n"
    readme.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 and 4 workers, 0.5 s per trial, 40 trials")
    parser.add_argument("--seconds", type=float, help="fake training time per trial [4; quick: 0.5]")
    parser.add_argument("--trials", type=int, help="queued grid points per study [500; quick: 40]")
    parser.add_argument("--per-worker", type=int, help="trials per worker, at most --trials in all [20; quick: 10]")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), action="append", help="default: both")
    parser.add_argument("--workers", help="worker counts to run, e.g. '1,16' [see FULL and QUICK]")
    parser.add_argument("--kind", choices=KINDS, action="append", help="default: both")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one setting may take")
    parser.add_argument("--write", action="store_true", help="write the table to benchmarks/README.md")
    parser.add_argument(
        "--no-notes", dest="notes", action="store_false", help="hpsearch workers skip the dashboard note after a trial"
    )
    parser.add_argument(
        "--study-sizes", help="instead: one worker's bookkeeping per trial by finished trials, e.g. 20,2000"
    )
    parser.add_argument("--measure", type=int, default=20, help="--study-sizes: trials measured per size [20]")
    args = parser.parse_args()
    if args.study_sizes:
        sizes = [int(n) for n in args.study_sizes.split(",")]
        for backend in args.backend or ("postgresql", "sqlite"):
            runs = bookkeeping(backend, sizes, args.measure)
            print()
            print(bookkeeping_table(backend, runs), flush=True)
        return 0
    args.seconds = args.seconds if args.seconds is not None else (0.5 if args.quick else 4.0)
    args.trials = args.trials or (40 if args.quick else 500)
    args.per_worker = args.per_worker or (10 if args.quick else 20)
    settings = QUICK if args.quick else FULL
    outcomes: list[Outcome] = []
    for backend in args.backend or ("postgresql", "sqlite"):
        counts = [int(w) for w in args.workers.split(",")] if args.workers else settings[backend]
        for workers in counts:
            for kind in args.kind or KINDS:
                started = time.monotonic()
                outcome = run_setting(backend, kind, workers, args)
                outcomes.append(outcome)
                print(
                    f"{backend:10} {workers:3} {kind:8} {outcome.complete:4}/{outcome.expected:<4} "
                    f"{outcome.per_second:6.2f}/s dup={outcome.duplicates} lost={outcome.lost} "
                    f"errors={outcome.errors} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
                if outcome.parts:
                    print(parts_line(outcome), flush=True)
    print()
    print(table(outcomes))
    if args.write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        header = (
            f"## scale\n\n{datetime.date.today().isoformat()}, commit {commit.stdout.strip()} (plus uncommitted work), "
            f"`python benchmarks/scale.py{' --quick' if args.quick else ''}`: {os.cpu_count()} CPU cores; "
            f"fake training {args.seconds:g} s per trial (one seed); studies of {args.trials} queued grid points; "
            f"{args.per_worker} trials per worker, at most {args.trials} per setting"
            f"{'' if args.notes else '; hpsearch workers without the dashboard note (--no-notes)'}.\n\n"
        )
        write_section(header + table(outcomes) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        kind, url, n, seconds, n_trials, notes, folder, name = sys.argv[2:10]
        raise SystemExit(worker(kind, url, int(n), float(seconds), int(n_trials), Path(folder), name, notes == "notes"))
    raise SystemExit(main())
