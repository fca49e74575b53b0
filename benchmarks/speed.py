"""One seed of AjMC-en with the offline MiniLM: the recipe as written against hpsearch's defaults.

Usage:
    python benchmarks/speed.py [--data-dir ../shared/data/hipe-2022] [--order recipe,fast,recipe,fast]

Both variants train the same configuration (batch size 8, lr 5e-5, one epoch by default) with the
same seed, one after the other in one process, in the order given (alternate them: the machine's
speed drifts). "recipe" is ``TrainingOptions.recipe()`` (Flair as the recipe calls it), "fast" is
``TrainingOptions()``, "padded" is the defaults without ``skip_padding`` (what skipping the padding
is worth). Each recipe run loads the corpus and builds its label dictionary, as the
recipe does for every seed (from the files its first seed prepared); the fast runs share the
corpus loaded once, as a worker's seeds do, and one ``PretrainedCache``, filled before the first
timed run, as a worker's seeds after its first do. Prints each run's wall-clock and CPU time (all
threads; steadier on a shared machine) split into training (corpus, setup and batches), dev
evaluation and the rest (test evaluation, saving), the ratios, both dev F1 values, and what
building the embeddings costs per seed read from disk and copied.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from _minilm import minilm_path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "hipe-2022"


def now() -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process): on a shared machine the CPU time
    is the steadier measure of the work done."""
    return time.perf_counter(), time.process_time()


@dataclass
class Timer:
    """Times from the run's hooks: the last training batch of each epoch, the end of each dev evaluation."""

    started: tuple[float, float] = field(default_factory=now)
    last_batch: tuple[float, float] = (0.0, 0.0)
    evaluated: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        if batch == batches:
            self.last_batch = now()

    def on_epoch(self, epoch: int, dev_f1: float) -> None:
        self.evaluated.append((self.last_batch, now()))

    def phases(self, ended: tuple[float, float], clock: int) -> tuple[float, float, float, float]:
        """(total, training with setup, dev evaluation, rest) in wall (clock 0) or CPU (clock 1) seconds."""
        dev_eval = sum(done[clock] - batch[clock] for batch, done in self.evaluated)
        last_batch, last_eval = self.evaluated[-1]
        train = last_batch[clock] - self.started[clock] - (dev_eval - (last_eval[clock] - last_batch[clock]))
        return ended[clock] - self.started[clock], train, dev_eval, ended[clock] - last_eval[clock]


@dataclass(frozen=True)
class Run:
    variant: str
    wall: tuple[float, float, float, float]
    cpu: tuple[float, float, float, float]
    dev_curve: tuple[float, ...]
    test_f1: float | None
    corpus_s: float
    """Wall seconds spent loading the corpus and building its label dictionary for this run (part of "train")."""

    @property
    def wall_s(self) -> float:
        return self.wall[0]

    @property
    def cpu_s(self) -> float:
        return self.cpu[0]


def recipe_training_data(base: Path) -> object:
    """What the recipe builds for every seed before its model: the corpus, from the files that its
    first seed prepared under ``base``, and the label dictionary."""
    from _recipe_plain import load_corpora

    from hpsearch.training import TrainingData

    return TrainingData.build(load_corpora(base))


def train(variant: str, data: object, model: str, config: object, seed: int, cache: object, recipe_base: Path) -> Run:
    from hpsearch.training import RunHooks, TrainingOptions, train_seed

    options = {
        "recipe": TrainingOptions.recipe(),
        "fast": TrainingOptions(),
        "padded": TrainingOptions(skip_padding=False),
    }[variant]
    with tempfile.TemporaryDirectory(prefix=f"hpsearch-speed-{variant}-") as out:
        timer = Timer()
        if variant == "recipe":
            data = recipe_training_data(recipe_base)  # per seed, as the recipe does; a worker does it once
        corpus_s = now()[0] - timer.started[0]
        hooks = RunHooks(on_epoch=timer.on_epoch, on_batch=timer.on_batch)
        result = train_seed(data, model, config, seed, Path(out), hooks=hooks, options=options, pretrained=cache)
        ended = now()
    return Run(
        variant=variant,
        wall=timer.phases(ended, 0),
        cpu=timer.phases(ended, 1),
        dev_curve=result.dev_curve,
        test_f1=result.test_f1,
        corpus_s=corpus_s,
    )


def embedding_build_times(model: str, repeats: int = 3) -> tuple[float, float]:
    """Median seconds to build the seed's embeddings: reading the model from disk, and copying it from memory."""
    import flair
    from flair.embeddings import TransformerWordEmbeddings

    from hpsearch.training import PretrainedCache

    cache = PretrainedCache()
    with cache.serving():
        TransformerWordEmbeddings(model, fine_tune=True)  # fills the cache
    read, copied = [], []
    for _ in range(repeats):
        for kind, times in (("read", read), ("copied", copied)):
            flair.set_seed(1)
            started = time.perf_counter()
            if kind == "read":
                TransformerWordEmbeddings(model, fine_tune=True)
            else:
                with cache.serving():
                    TransformerWordEmbeddings(model, fine_tune=True)
            times.append(time.perf_counter() - started)
    return statistics.median(read), statistics.median(copied)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default=None, help="model folder [default: the offline MiniLM]")
    parser.add_argument("--order", default="recipe,fast,recipe,fast", help="comma-separated runs: recipe, fast, padded")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    order = [v.strip() for v in args.order.split(",") if v.strip()]
    if not order or set(order) - {"recipe", "fast", "padded"}:
        raise SystemExit(f"--order lists recipe, fast and padded runs, but got {args.order!r}.")

    import logging
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")
    import flair
    import torch

    torch.set_num_threads(args.threads)
    flair.device = torch.device("cpu")
    logging.getLogger("flair").setLevel(logging.WARNING)

    from hpsearch.search import Config, DatasetRef
    from hpsearch.training import PretrainedCache, TrainingData, load_corpus

    model = args.model or str(minilm_path())
    corpus = load_corpus([DatasetRef("ajmc", "en")], args.data_dir)
    data = TrainingData.build(corpus)
    config = Config(learning_rate=args.lr, batch_size=args.batch_size, epochs=args.epochs)
    read_s, copied_s = embedding_build_times(model)
    print(f"embeddings per seed: read from disk {read_s:.2f} s, copied from memory {copied_s:.2f} s", flush=True)
    cache = PretrainedCache()
    with cache.serving():
        from flair.embeddings import TransformerWordEmbeddings

        TransformerWordEmbeddings(model, fine_tune=True)  # the worker's one read

    from _recipe_plain import stage_ajmc_en

    recipe_base = Path(tempfile.mkdtemp(prefix="hpsearch-speed-recipe-data-"))
    stage_ajmc_en(args.data_dir, recipe_base)
    recipe_training_data(recipe_base)  # the recipe's first seed prepares the files; the timed runs reuse them

    runs: list[Run] = []
    for variant in order:
        run = train(variant, data, model, config, args.seed, cache if variant != "recipe" else None, recipe_base)
        runs.append(run)
        print(
            f"{variant:6s} "
            + "  ".join(
                f"{name} {t[0]:6.1f} s (train {t[1]:6.1f}, dev eval {t[2]:5.1f}, rest {t[3]:5.1f})"
                for name, t in (("wall", run.wall), ("cpu", run.cpu))
            )
            + f"  corpus {run.corpus_s:4.1f} s  dev F1 {', '.join(f'{f:.4f}' for f in run.dev_curve)}"
            + f"  test F1 {run.test_f1:.4f}",
            flush=True,
        )

    report(runs, args, read_s, copied_s)


def compare(recipe: list[Run], other: list[Run], variant: str) -> None:
    ratio = statistics.median(r.wall_s for r in recipe) / statistics.median(r.wall_s for r in other)
    cpu_ratio = statistics.median(r.cpu_s for r in recipe) / statistics.median(r.cpu_s for r in other)
    same = all(
        len(a.dev_curve) == len(b.dev_curve)
        and all(abs(x - y) <= 1e-4 for x, y in zip(a.dev_curve, b.dev_curve, strict=True))
        for a in recipe
        for b in other
    )
    print(f"speed-up, median recipe / median {variant}: wall {ratio:.2f}x, CPU time {cpu_ratio:.2f}x")
    print(
        f"dev F1 recipe {recipe[0].dev_curve[-1]:.4f}, {variant} {other[0].dev_curve[-1]:.4f}; "
        f"every epoch equal within 1e-4: {'yes' if same else 'NO'}"
    )


def report(runs: list[Run], args: argparse.Namespace, read_s: float, copied_s: float) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    print()
    print(
        f"{date.today().isoformat()}, commit {commit or '?'}, {args.threads} threads, {args.epochs} epoch(s), "
        f"bs {args.batch_size}, lr {args.lr}, seed {args.seed}"
    )
    print("| run | variant | wall s (train / dev eval / rest) | CPU s (train / dev eval / rest) | dev F1 | test F1 |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(runs, 1):
        wall, cpu = (f"{t[0]:.1f} ({t[1]:.1f} / {t[2]:.1f} / {t[3]:.1f})" for t in (r.wall, r.cpu))
        print(f"| {i} | {r.variant} | {wall} | {cpu} | {r.dev_curve[-1]:.4f} | {r.test_f1:.4f} |")
    recipe = [r for r in runs if r.variant == "recipe"]
    for variant in ("fast", "padded"):
        other = [r for r in runs if r.variant == variant]
        if recipe and other:
            compare(recipe, other, variant)
    print(f"building the embeddings per seed: {read_s:.2f} s read from disk, {copied_s:.2f} s copied")


if __name__ == "__main__":
    main()
