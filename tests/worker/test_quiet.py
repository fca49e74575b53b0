"""A real worker's output, piped and in a terminal, holds only the worker's own lines: no tqdm bar,
no line from Flair or the vocabulary reduction, no Optuna INFO line (issue 14, item 1)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HPSEARCH = [sys.executable, "-m", "hpsearch"]
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Za-z0-9]|[=>78])")
EVENT = re.compile(r"^(\[?\d\d:\d\d:\d\d\]? |worker done: )")  # event lines, printed lines, the summary
LIVE_ROWS = re.compile(r"^(trial \d+ |seed \d+/\d+ |epoch \d+/\d+|dev F1 )")  # RichProgress's view
FOREIGN = ("%|", "Gathered", "Reducing", "[I 20", "it/s", "s/it")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "HPSEARCH_PROGRESS")}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "120"}


def _create(tmp_path: Path, tiny_bert: Path, sample_data: Path, study: str) -> str:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    created = subprocess.run(
        [*HPSEARCH, "create", "--model", str(tiny_bert), "--lr", "5e-3", "--batch-size", "8", "--epochs", "1",
         "--seeds", "1,2", "--data-dir", str(sample_data), "--storage", url, "--study", study],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert not [line for line in (created.stdout + created.stderr).splitlines() if line.startswith("[I ")]
    return url


def _worker_args(url: str, study: str) -> list[str]:
    return [*HPSEARCH, "worker", "--study", study, "--storage", url, "--device", "cpu", "--keep-models", "none"]


def _foreign_lines(text: str, allowed: tuple[re.Pattern[str], ...]) -> list[str]:
    lines = [line.strip() for line in re.split(r"[\r\n]+", ANSI.sub("", text))]
    return [
        line
        for line in lines
        if line and (any(marker in line for marker in FOREIGN) or not any(p.match(line) for p in allowed))
    ]


def test_a_piped_worker_prints_only_its_event_lines(tmp_path: Path, tiny_bert: Path, sample_data: Path) -> None:
    url = _create(tmp_path, tiny_bert, sample_data, "quiet-pipe")
    done = subprocess.run(
        _worker_args(url, "quiet-pipe"), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "epoch 1/1 dev_f1=" in output and "complete value=" in output
    assert _foreign_lines(output, (EVENT,)) == []
    # Flair's own lines still reach the run's log.
    logs = list((tmp_path / "runs").rglob("training.log"))
    assert logs and "Gathered" in logs[0].read_text() and "epoch 1" in logs[0].read_text().lower()


def test_a_worker_in_a_terminal_shows_only_its_live_view(tmp_path: Path, tiny_bert: Path, sample_data: Path) -> None:
    url = _create(tmp_path, tiny_bert, sample_data, "quiet-tty")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a worker whose stdout and stderr are the terminal
        os.chdir(tmp_path)
        args = _worker_args(url, "quiet-tty")
        os.execve(args[0], args, {**_env(), "COLUMNS": "400"})  # long storage paths stay on one line
    chunks: list[bytes] = []
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the terminal closed: the worker exited
                    break
                if not data:
                    break
                chunks.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    output = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert "seed 2/2 (seed=2) done" in output and "complete" in output
    assert "ETA" in output  # the live view was shown
    assert _foreign_lines(output, (EVENT, LIVE_ROWS)) == []
