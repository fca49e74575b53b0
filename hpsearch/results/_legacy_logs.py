"""Reading the published recipe's Flair run folders (``<prefix>-bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse-3``).

Each run folder holds the ``training.log`` Flair writes. A run's dev score is the maximum over
epochs of the ``DEV : loss ... - f1-score (micro avg)  0.8612`` lines; its test score is the
``- F-score (micro) 0.8410`` line of the final test block. Runs are grouped by configuration
name, as the recipe's ``flair-log-parser.py`` does.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hpsearch.errors import DataError, NotFoundError
from hpsearch.search import DIMENSIONS, Config, ConfigResult, SeedResult, parse_config_name
from hpsearch.store import TRAINING_LOG

# "<prefix>-bs8-wsFalse-e10-lr5e-05[-poolingfirst][-layers-1][-crfFalse]-3": the recipe's order of the
# dimensions' name parts; the optional ones came and went between versions of the recipe.
_RECIPE_PARTS = ("batch_size", "context_size", "epochs", "learning_rate")
_RECIPE_OPTIONAL_PARTS = ("subtoken_pooling", "layers", "use_crf")
_RUN_NAME = re.compile(
    r"^(?P<prefix>.*?)-?(?P<config>"
    + "-".join(DIMENSIONS[n].part_pattern for n in _RECIPE_PARTS)
    + "".join(f"(?:-{DIMENSIONS[n].part_pattern})?" for n in _RECIPE_OPTIONAL_PARTS)
    + r")-(?P<seed>\d+)$"
)
# Flair's file handler prefixes each record with "%(asctime)-15s ".
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
# ModelTrainer: f"{split.upper()} : loss {loss} - {metric[1]} ({metric[0]})  {round(score, 4)}"
_DEV_LINE = re.compile(r"\bDEV : loss \S+ - .+? \(.+?\)\s+(\S+)\s*$")
# Model.evaluate's detailed_results: "\nResults:\n- F-score (micro) 0.8410\n- F-score (macro) ..."
_TEST_LINE = re.compile(r"^- F-score \(micro\) (\S+)\s*$")
_DEVICE_LINE = re.compile(r"- compute on device: (\S+)")


@dataclass(frozen=True)
class TrainingLog:
    """What one Flair ``training.log`` says about its run."""

    dev_curve: tuple[float, ...]
    test_f1: float | None
    wall_time_s: float = 0.0
    device: str = ""


@dataclass(frozen=True)
class RunFolder:
    """One run folder's configuration and seed, read from its name."""

    path: Path
    config: Config
    seed: int
    prefix: str


@dataclass(frozen=True)
class LogScan:
    """The configurations found under a glob, and what was skipped on the way.

    ``prefixes`` are the distinct run-folder prefixes (dataset and model) the glob matched; runs
    of several prefixes are pooled per configuration name, as the recipe does.
    """

    results: tuple[ConfigResult, ...]
    warnings: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


def read_training_log(path: Path) -> TrainingLog:
    """Read the dev curve, test F1, wall time and device from one Flair ``training.log``.

    Args:
        path: The ``training.log`` file.

    Returns:
        The dev scores in epoch order (0..1), the final test micro-F1 (None while training or
        without a test split), the seconds between the first and last timestamped line, and the
        compute device Flair reported. A score that is not a number reads as NaN.

    Raises:
        DataError: the log is not UTF-8 text (naming the file and line).
    """
    dev: list[float] = []
    test_f1: float | None = None
    device = ""
    first: datetime | None = None
    last: datetime | None = None
    for raw in read_utf8(path).splitlines():
        line = raw.rstrip()
        if stamp := _TIMESTAMP.match(line):
            when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
            first = first or when
            last = when
        if match := _DEV_LINE.search(line):
            dev.append(_score(match.group(1)))
        elif match := _TEST_LINE.match(line):
            test_f1 = _score(match.group(1))
        elif match := _DEVICE_LINE.search(line):
            device = match.group(1)
    wall = (last - first).total_seconds() if first and last else 0.0
    return TrainingLog(dev_curve=tuple(dev), test_f1=test_f1, wall_time_s=wall, device=device)


def read_utf8(path: Path) -> str:
    """A text file's content, read as UTF-8.

    Raises:
        DataError: the file is not UTF-8, naming it and the line of the first undecodable byte.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({e.reason}); hpsearch reads logs as UTF-8.") from None


def _score(text: str) -> float:
    """A score as the log writes it; NaN where it is not a number (``nan``, ``-``), which callers check."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _finite(log: TrainingLog) -> bool:
    """Whether every score in the log is a finite number."""
    return all(math.isfinite(v) for v in (*log.dev_curve, *(() if log.test_f1 is None else (log.test_f1,))))


def parse_run_name(name: str) -> tuple[Config, int, str] | None:
    """Read configuration, seed and prefix from a run folder's name; None if it is not one.

    ``bert-base-blbooks-cased-bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse-3`` gives the config named
    ``wsFalse-bs8-e10-lr5e-05``, seed 3 and prefix ``bert-base-blbooks-cased``. Values other than
    the recipe's (``-layers-1,-2``, ``-crfTrue``, ``-poolingmean``) become part of the config name.
    """
    match = _RUN_NAME.match(name)
    if match is None:
        return None
    return parse_config_name(match["config"]), int(match["seed"]), match["prefix"]


def parse_run_folder(path: Path) -> RunFolder | None:
    """A run folder's configuration and seed; None if its name is not a recipe run name."""
    parsed = parse_run_name(path.name)
    if parsed is None:
        return None
    config, seed, name_prefix = parsed
    return RunFolder(path=path, config=config, seed=seed, prefix=name_prefix)


def _candidates(pattern: str, root: Path) -> Iterator[Path]:
    """Paths matching ``pattern`` anywhere under ``root`` (absolute patterns: from their anchor)."""
    as_path = Path(pattern)
    if as_path.is_absolute():
        relative = str(as_path.relative_to(as_path.anchor))
        yield from Path(as_path.anchor).glob(relative) if relative else [as_path]
    else:
        yield from root.rglob(pattern)


def _run_dirs(pattern: str, root: Path, warnings: list[str]) -> list[RunFolder]:
    """Run folders the glob points at: matched run folders, or the folders of matched logs.

    Only when it points at none of those, the run folders below the matched folders (a glob
    that stops at the model folder, say).
    """
    found: dict[Path, RunFolder] = {}
    others: list[Path] = []
    for match in _candidates(pattern, root):
        if match.is_file():
            if match.name != TRAINING_LOG:
                continue
            folder = match.parent
        else:
            folder = match
        run = parse_run_folder(folder)
        if run is not None:
            found.setdefault(folder, run)
        elif (folder / TRAINING_LOG).is_file():
            warnings.append(f"{folder}: cannot read a configuration from the folder name; skipped.")
        else:
            others.append(folder)
    if not found:
        for folder in others:
            for sub in folder.rglob("*"):
                if sub.is_dir() and (run := parse_run_folder(sub)) is not None:
                    found.setdefault(sub, run)
    return [found[key] for key in sorted(found)]


def _prefix(run: RunFolder, root: Path) -> str:
    """The parent folders (the recipe nests dataset and Hugging Face ids) and the name's own prefix."""
    try:
        parent = run.path.parent.relative_to(root)
    except ValueError:
        parent = run.path.parent
    parts = [*parent.parts, run.prefix] if str(parent) != "." else [run.prefix]
    return "/".join(part for part in parts if part)


def _is_finished(log: TrainingLog, config: Config) -> bool:
    # Flair logs the test block last; without a test split, all planned epochs must be there.
    return bool(log.dev_curve) and (log.test_f1 is not None or len(log.dev_curve) >= config.epochs)


def collect_runs(pattern: str, root: Path | None = None) -> LogScan:
    """Find the recipe's run folders under ``root`` and group their runs by configuration.

    Like the recipe, the glob is matched anywhere below ``root`` (``rglob``), so
    ``"hipe2022-flert-fine-tune-ajmc/en-bigscience-historical-texts/bert-base-blbooks-cased-*"``,
    ``"**/*-bs*"``, ``"**/training.log"`` or a folder holding run folders all work.

    Args:
        pattern: A glob, relative to ``root`` or absolute.
        root: Where to search; the current directory by default.

    Returns:
        One ConfigResult per configuration name, best-first order left to the report, seeds
        planned being the seeds found. A run whose log has no dev score yet, or that stopped
        before its last epoch without a test score, is kept as not complete and its
        configuration is in state ``running``. Folders without ``training.log``, and runs
        whose log has a DEV or TEST score that is not a number (``nan``), are skipped with a
        warning that names the folder.

    Raises:
        NotFoundError: Nothing under ``root`` matches the pattern.
        DataError: No matching run folder has a training log, or a log is not UTF-8.
    """
    root = Path.cwd() if root is None else root
    warnings: list[str] = []
    runs = _run_dirs(pattern, root, warnings)
    if not runs:
        raise NotFoundError(f"no Flair run folders match {pattern!r} under {root}.")

    by_name: dict[str, dict[int, SeedResult]] = defaultdict(dict)
    configs: dict[str, Config] = {}
    prefixes: dict[str, None] = {}
    for run in runs:
        log_path = run.path / TRAINING_LOG
        if not log_path.is_file():
            warnings.append(f"{run.path}: no {TRAINING_LOG}; skipped.")
            continue
        name = run.config.name
        if run.seed in by_name[name]:
            warnings.append(f"{run.path}: a second run of {name} with seed {run.seed}; skipped.")
            continue
        log = read_training_log(log_path)
        if not _finite(log):
            warnings.append(f"{run.path}: a DEV or TEST score in its {TRAINING_LOG} is not a number; skipped.")
            continue
        if not log.dev_curve:
            warnings.append(f"{run.path}: no dev score yet; counted as incomplete.")
        configs[name] = run.config
        prefixes[_prefix(run, root)] = None
        by_name[name][run.seed] = SeedResult(
            seed=run.seed,
            dev_curve=log.dev_curve,
            test_f1=log.test_f1,
            wall_time_s=log.wall_time_s,
            device=log.device,
            complete=_is_finished(log, run.config),
        )
    if not configs:
        raise DataError(f"none of the run folders matching {pattern!r} under {root} has a {TRAINING_LOG}.")
    if len(prefixes) > 1:
        warnings.append(f"the pattern matches runs of {len(prefixes)} models; their configurations are pooled by name.")

    results = []
    for name, seeds in by_name.items():
        if not seeds:
            continue
        runs_sorted = tuple(seeds[s] for s in sorted(seeds))
        done = all(r.complete for r in runs_sorted)
        results.append(
            ConfigResult(
                name=name,
                seeds_planned=tuple(sorted(seeds)),
                runs=runs_sorted,
                state="complete" if done else "running",
                params=configs[name].to_params(),
            )
        )
    return LogScan(results=tuple(results), warnings=tuple(warnings), prefixes=tuple(prefixes))
