"""One worker process per GPU, each pinned with CUDA_VISIBLE_DEVICES, supervised by this process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from hpsearch.errors import SpecError

log = logging.getLogger("hpsearch.fleet")


def detect_gpus() -> list[int]:
    """The GPUs this machine shows; their ids as CUDA_VISIBLE_DEVICES names them, if it is set."""
    import torch

    if not torch.cuda.is_available():
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [int(v) for v in visible.split(",") if v.strip().isdigit()]
    return list(range(torch.cuda.device_count()))


def parse_gpus(text: str) -> list[int]:
    """``"0,1,3"`` or ``"all"`` to GPU indices.

    Raises:
        SpecError: malformed list, or ``all`` on a machine without GPUs.
    """
    if text.strip() == "all":
        gpus = detect_gpus()
        if not gpus:
            raise SpecError("--gpus all found no CUDA GPU on this machine; use --device cpu for a CPU worker.")
        return gpus
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SpecError(f"--gpus takes a list like '0,1,2,3' or 'all', but got {text!r}.") from None
    if not gpus or len(set(gpus)) != len(gpus) or min(gpus) < 0:
        raise SpecError(f"--gpus takes distinct GPU indices like '0,1,2,3', but got {text!r}.")
    return gpus


def worker_argv(argv: Sequence[str], gpu: int) -> list[str]:
    """This command's arguments with ``--gpus X`` replaced by ``--gpu N``."""
    args: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--gpus":
            skip = True
            continue
        if arg.startswith("--gpus="):
            continue
        args.append(arg)
    return [*args, "--gpu", str(gpu)]


def run_fleet(gpus_text: str, argv: Sequence[str] | None = None) -> int:
    """Start ``hpsearch worker ... --gpu N`` for every GPU and wait; signals are passed on.

    Returns 0 when every worker exited 0, else the first non-zero exit code.
    """
    gpus = parse_gpus(gpus_text)
    argv = list(sys.argv[1:] if argv is None else argv)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    for gpu in gpus:
        # Workers sharing one terminal print lines: live views would overwrite each other.
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu), "HPSEARCH_PROGRESS": "lines"}
        # A session of its own: a terminal's Ctrl-C reaches the workers once, through forward().
        procs[gpu] = subprocess.Popen(
            [sys.executable, "-m", "hpsearch", *worker_argv(argv, gpu)], env=env, start_new_session=True
        )
        log.info("started worker pid=%d on GPU %d", procs[gpu].pid, gpu)

    def forward(signum: int, _frame: object) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while any(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    codes = [p.returncode for p in procs.values()]
    return next((c for c in codes if c != 0), 0)
