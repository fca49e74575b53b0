"""One worker process per GPU (or K per GPU), each pinned with CUDA_VISIBLE_DEVICES, supervised by this process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from hpsearch.errors import SpecError
from hpsearch.worker._faults import WORKER_FAULT_EXIT

log = logging.getLogger("hpsearch.worker")


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
    """This command's arguments with ``--gpus X`` replaced by ``--gpu N`` (and ``--workers-per-gpu K`` left out).

    Raises:
        SpecError: ``--gpu`` is given as well.
    """
    args: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--gpu" or arg.startswith("--gpu="):
            raise SpecError("give either --gpu N (one worker) or --gpus LIST (one worker per GPU), not both.")
        if arg in ("--gpus", "--workers-per-gpu"):
            skip = True
            continue
        if arg.startswith(("--gpus=", "--workers-per-gpu=")):
            continue
        args.append(arg)
    return [*args, "--gpu", str(gpu)]


def run_fleet(
    gpus_text: str,
    argv: Sequence[str] | None = None,
    *,
    command: Sequence[str] | None = None,
    max_restarts: int = 3,
    restart_delay: float = 5.0,
    workers_per_gpu: int = 1,
) -> int:
    """Start ``hpsearch worker ... --gpu N`` for every GPU and supervise them until all have exited.

    SIGINT and SIGTERM are passed on to every worker: the first stops them (their trials are
    re-queued), a second one at once. A worker that crashes (killed, or exit code other than 0, 2
    and ``WORKER_FAULT_EXIT``: a machine that cannot run trials stays stopped) is started again
    after ``restart_delay`` seconds, at most ``max_restarts`` times per worker;
    the trial it held is re-queued by the others once its heartbeat is stale.

    Args:
        gpus_text: ``"0,1,3"`` or ``"all"``.
        argv: This command's arguments; ``sys.argv[1:]`` unless given.
        command: What starts a worker, before its arguments; ``python -m hpsearch`` unless given.
        workers_per_gpu: Workers sharing each GPU (``--workers-per-gpu``), each supervised alike.

    Returns:
        0 when every worker exited 0, else the first other exit code (128 + N for signal N).

    Raises:
        SpecError: a malformed ``--gpus``, ``all`` without GPUs, ``--gpu`` given too, or ``workers_per_gpu < 1``.
    """
    if workers_per_gpu < 1:
        raise SpecError(f"--workers-per-gpu must be >= 1, but got {workers_per_gpu}.")
    gpus = parse_gpus(gpus_text)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = list(command or [sys.executable, "-m", "hpsearch"])
    worker_argv(argv, gpus[0])  # validates before anything starts
    slots = [(gpu, k) for gpu in gpus for k in range(workers_per_gpu)]  # (GPU, its k-th worker)
    procs: dict[tuple[int, int], subprocess.Popen[bytes]] = {}
    codes: dict[tuple[int, int], int] = {}  # slots whose worker has exited for good
    restart_at: dict[tuple[int, int], tuple[float, int]] = {}  # slot: (when, exit code of the crashed worker)
    restarts = dict.fromkeys(slots, 0)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    def start(slot: tuple[int, int]) -> None:
        gpu = slot[0]
        # Workers sharing one terminal print lines: live views would overwrite each other.
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu), "HPSEARCH_PROGRESS": "lines"}
        # A session of its own: a terminal's Ctrl-C reaches the workers once, through forward().
        proc = subprocess.Popen([*command, *worker_argv(argv, gpu)], env=env, start_new_session=True)
        procs[slot] = proc
        if stopping:  # a signal came while it started
            proc.terminate()
        log.info("started worker pid=%d on GPU %d%s", proc.pid, gpu, _nth(slot, workers_per_gpu))

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for slot in slots:
            start(slot)
        while len(codes) < len(slots):
            time.sleep(0.2)
            for slot, proc in list(procs.items()):
                if proc.poll() is None:
                    continue
                del procs[slot]
                code = exit_code(proc.returncode)
                if code in (0, 2, WORKER_FAULT_EXIT) or stopping or restarts[slot] >= max_restarts:
                    if code == WORKER_FAULT_EXIT:
                        log.error(
                            "worker pid=%d on GPU %d%s cannot run trials on this machine (exit code %d); not restarted",
                            proc.pid,
                            slot[0],
                            _nth(slot, workers_per_gpu),
                            code,
                        )
                    codes[slot] = code
                    continue
                restarts[slot] += 1
                log.warning(
                    "worker pid=%d on GPU %d%s exited with code %d; restarting it in %.0f s (restart %d of %d)",
                    proc.pid,
                    slot[0],
                    _nth(slot, workers_per_gpu),
                    code,
                    restart_delay,
                    restarts[slot],
                    max_restarts,
                )
                restart_at[slot] = (time.monotonic() + restart_delay, code)
            for slot, (when, code) in list(restart_at.items()):
                if stopping:
                    del restart_at[slot]
                    codes[slot] = code
                elif time.monotonic() >= when:
                    del restart_at[slot]
                    start(slot)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return next((codes[slot] for slot in slots if codes[slot] != 0), 0)


def _nth(slot: tuple[int, int], workers_per_gpu: int) -> str:
    return f" (worker {slot[1] + 1} of {workers_per_gpu})" if workers_per_gpu > 1 else ""


def exit_code(returncode: int) -> int:
    """A child's exit status as a shell shows it: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode
