"""Make ``release-0.1.0.db``: studies created and run by hpsearch 0.1.0, before the package restructure.

tests/store/test_release_compat.py checks that the current code reads, reports and resumes them.
This script uses the 0.1.0 modules (``hpsearch.spaces``, ``hpsearch.claim`` ...), so it runs against
that release's code, not the current one. The file was made so (commit 6ee8e2b, Optuna 5.0.0)::

    mkdir /tmp/old-release && git archive 6ee8e2b | tar -x -C /tmp/old-release
    cd /tmp/old-release && PYTHONPATH=/tmp/old-release /path/to/venv/bin/python \\
        /path/to/repo/tests/store/data/make_release_db.py /path/to/repo/tests/store/data/release-0.1.0.db

What it holds:

- ``grid``: a 2 x 2 grid (learning rate x batch size), seeds 1 and 2, trained by the fake trainer.
  Trials 0 and 1 COMPLETE; trial 2 FAIL (its worker was SIGKILLed during seed 2, then failed as stale
  with a ``fail_reason``), re-queued as trial 4 (WAITING, with seed 1's result); trial 3 WAITING.
- ``sampled``: the ``wide`` sampled space, 3 trials, seed 1: trial 0 COMPLETE (configuration drawn
  when claimed), trials 1 and 2 WAITING without params.

``release-0.1.0-report.txt`` beside it is what ``hpsearch report`` printed for the two studies.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRACE = 2  # seconds without heartbeat after which the killed worker's trial is stale


def main(target: Path) -> None:
    from hpsearch.fake_trainer import FakeTrainer, read_record
    from hpsearch.retry import fail_stale_trials
    from hpsearch.service import build_spec, study_report
    from hpsearch.spaces import GridSpace
    from hpsearch.spec import StudySpec
    from hpsearch.storage import open_storage
    from hpsearch.study import create_study, load_study

    from hpsearch.worker import WorkerOptions, run_worker

    work = Path(tempfile.mkdtemp(prefix="hpsearch-release-0.1.0-"))
    db = work / "hpsearch.db"
    url = f"sqlite:///{db}"
    options = WorkerOptions(output_dir=work / "runs", keep_models="none", handle_signals=False, n_trials=1)

    grid = GridSpace(learning_rates=(1e-5, 2e-5), batch_sizes=(8, 16), epochs=(1,))
    create_study(StudySpec(model="fake", label="fake", space=grid, seeds=(1, 2)), open_storage(url), "grid")
    record = work / "record.jsonl"
    argv = [sys.executable, "-m", "hpsearch.fake_trainer", "--storage", url, "--study", "grid", "--seconds", "1"]
    argv += ["--heartbeat", "1", "--grace", str(GRACE), "--record", str(record), "--output-dir", str(work / "runs")]
    worker = subprocess.Popen(argv, cwd=work)
    # Trials 0 and 1 complete (two seeds each); kill the worker once trial 2's seed 2 has started.
    while sum(e["event"] == "start" for e in read_record(record)) < 6:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    storage = open_storage(url, heartbeat_interval=1, grace_period=GRACE)
    study, _ = load_study(storage, "grid")
    time.sleep(GRACE + 1.5)
    assert fail_stale_trials(study, grace_period=GRACE, max_retries=3) == [2]

    sampled = build_spec(model="bert", config=None, space="wide", n_trials=3, pruner="none", seeds="1")
    create_study(sampled, open_storage(url), "sampled")
    run_worker(url, ["sampled"], options, trainer=FakeTrainer())

    for name in ("grid", "sampled"):
        print(name, [t.state.name for t in load_study(storage, name)[0].get_trials()])
    reports = [f"{study_report(url, name)}\n" for name in ("grid", "sampled")]
    target.with_name(f"{target.stem}-report.txt").write_text("=====\n".join(reports))
    target.unlink(missing_ok=True)
    source, copy = sqlite3.connect(db), sqlite3.connect(target)
    source.backup(copy)  # a consistent copy, WAL content included, while the workers' engines are open
    source.close()
    copy.close()
    copy = sqlite3.connect(target, isolation_level=None)  # one self-contained file: no WAL, no free pages
    assert copy.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    copy.execute("VACUUM")
    copy.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
