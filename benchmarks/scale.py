"""How a fleet of workers scales: hpsearch workers against plain Optuna workers, on the same queue.

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

Usage::

    python benchmarks/scale.py            # PostgreSQL 1, 4, 16, 32 workers; SQLite 1, 4, 8
    python benchmarks/scale.py --quick    # a short run: 1 and 4 workers, short sleeps
    python benchmarks/scale.py --write    # also write the table to benchmarks/README.md, section "scale"

PostgreSQL: ``HPSEARCH_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``); each setting
creates and drops a database of its own.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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
    if kind == "hpsearch":
        import optuna_dashboard  # noqa: F401 - imported by the first trial's dashboard note otherwise

        import hpsearch.worker._loop
        from hpsearch.worker import WorkerOptions, run_worker

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
        return evaluate(backend, kind, workers, url, expected, codes, logs, folder / "record.jsonl")
    finally:
        if database is not None:
            from tests.pg import drop_database

            drop_database(database)
        shutil.rmtree(folder, ignore_errors=True)


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
    args = parser.parse_args()
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
