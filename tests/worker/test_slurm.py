"""``hpsearch slurm``, ``--workers-per-gpu`` and where trials run; job arrays on a real single-node SLURM.

The tests marked ``slurm`` submit to a real cluster: the one ``SLURM_CONF`` names, else one that
``.ci/slurm-up`` starts for this session in a temporary folder (Debian's slurm-wlm and munge, as
root). Where none can start they skip, saying why; nothing is faked. Workers in the jobs train
with the fake trainer (signals, time limits) or a tiny BERT on the CPU (the array test). Waits are
bounded by progress (tests/fleet_helpers.py): log files and trainer records that grow.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.errors import UsageError
from hpsearch.store import (
    HOST_ATTR,
    PID_ATTR,
    SLURM_ARRAY_JOB_ATTR,
    SLURM_ARRAY_TASK_ATTR,
    SLURM_JOB_ATTR,
    claim_next,
    load_study,
    open_storage,
    read_storage_file,
    worker_attrs,
    worker_location,
)
from hpsearch.testing import read_record
from hpsearch.worker import SlurmJob, pin_gpu, render_script, run_fleet, submit_script
from tests.fleet_helpers import (
    assert_each_config_complete_once,
    config_name,
    done_counts,
    growth,
    has_started,
    learning_rates,
    make_study,
    trials,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-pw"


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from hpsearch.cli import app

    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def storage_file(tmp_path: Path, url: str, mode: int = 0o600) -> Path:
    path = tmp_path / "storage-url"
    path.write_text(url + "\n")
    path.chmod(mode)
    return path


# --- the script ---------------------------------------------------------------------------------


def test_the_script_asks_for_what_was_given_and_never_holds_the_storage_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}?password={PASSWORD}"  # SQLite ignores it; it must not leak
    make_study(url, "s", 2)
    secret = storage_file(tmp_path, url)
    out = tmp_path / "job.sh"
    code, output = cli(
        "slurm", "--study", "s", "--storage-file", str(secret), "-o", str(out), "--tasks", "4",
        "--gpus-per-task", "2", "--workers-per-gpu", "3", "--partition", "gpu", "--account", "lab",
        "--time", "8:00:00", "--mem", "32G", "--cpus-per-task", "8", "--sbatch-arg", "--qos=long",
        "--setup", "module load cuda; . venv/bin/activate", "--signal-margin", "120", "--requeue",
        "--worker-arg=--data-dir=/data",
    )  # fmt: skip
    assert code == 0, output
    script = out.read_text()
    assert PASSWORD not in script and PASSWORD not in output
    for line in (
        "#SBATCH --array=0-3",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --time=8:00:00",
        "#SBATCH --mem=32G",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --qos=long",
        "#SBATCH --signal=B:TERM@120",
        "#SBATCH --requeue",
        "module load cuda; . venv/bin/activate",
        f"export HPSEARCH_STORAGE_FILE={secret}",
        "hpsearch worker --study s --gpus all --workers-per-gpu 3 --data-dir=/data &",
    ):
        assert line in script.splitlines(), f"{line!r} not in:\n{script}"
    bash = subprocess.run(["bash", "-n", str(out)], capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr


def test_cpu_jobs_ask_for_no_gpu(tmp_path: Path) -> None:
    script = render_script(SlurmJob(studies=("s",), device="cpu", gpus_per_task=0))
    assert "--gres" not in script
    assert "hpsearch worker --study s --device cpu &" in script


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope"], "no study"),
        (["--study", "s", "--tasks", "0"], "--tasks must be >= 1"),
        (["--study", "s", "--device", "cpu", "--gpus-per-task", "1"], "--device cpu asks for no GPU"),
        (["--study", "s", "--sbatch-arg", "qos=long"], "--sbatch-arg takes one sbatch option"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 1)
    code, output = cli("slurm", "--storage", url, *args)
    assert code == 2
    assert message in output
    assert len(output.strip().splitlines()) == 1, output


def test_a_storage_file_others_may_read_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 1)
    secret = storage_file(tmp_path, url, mode=0o644)
    code, output = cli("slurm", "--study", "s", "--storage-file", str(secret))
    assert code == 2 and "chmod 600" in output and len(output.strip().splitlines()) == 1, output
    # Every command reads HPSEARCH_STORAGE_FILE the same way.
    code, output = cli("status", env={"HPSEARCH_STORAGE_FILE": str(secret), "HPSEARCH_STORAGE": ""})
    assert code == 2 and "chmod 600" in output and len(output.strip().splitlines()) == 1, output
    secret.chmod(0o600)
    assert read_storage_file(secret) == url
    code, output = cli("status", env={"HPSEARCH_STORAGE_FILE": str(secret), "HPSEARCH_STORAGE": ""})
    assert code == 0 and "s" in output, output


def test_submit_without_sbatch_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 1)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, output = cli("slurm", "--study", "s", "--storage", url, "--submit")
    assert code == 2 and "sbatch not found" in output and len(output.strip().splitlines()) == 1, output


def test_slurm_job_validates_on_construction() -> None:
    for bad in ({"tasks": 0}, {"workers_per_gpu": 0}, {"gpus_per_task": 0, "workers_per_gpu": 2}, {"time": "1 h"}):
        with pytest.raises(UsageError):
            SlurmJob(studies=("s",), **bad)  # type: ignore[arg-type]


# --- where trials run ---------------------------------------------------------------------------


def test_pin_gpu_keeps_the_gpus_slurm_assigned() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "3"}
    pin_gpu(0, env)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    env = {"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "3"}
    pin_gpu(0, env)
    assert env["CUDA_VISIBLE_DEVICES"] == "3"


def test_status_shows_where_a_running_trial_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 2)
    study, _ = load_study(open_storage(url), "s")
    trial = claim_next(study)
    assert trial is not None
    env = {"SLURM_JOB_ID": "44", "SLURM_ARRAY_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": "1"}
    for key, value in worker_attrs(env, "gpu-node-3", 1234).items():
        trial.set_user_attr(key, value)
    assert worker_location(trial.user_attrs) == "gpu-node-3 pid 1234 job 42_1"
    assert worker_location({HOST_ATTR: "laptop", PID_ATTR: 9}) == "laptop pid 9"
    code, output = cli("status", "--study", "s", "--storage", url)
    assert code == 0, output
    assert "gpu-node-3 pid 1234 job 42_1" in output


def test_a_worker_records_its_host_and_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 1, seeds=(1,))
    argv = ["--storage", url, "--study", "s", "--output-dir", str(tmp_path / "runs")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run([sys.executable, "-m", "hpsearch.testing._fake_trainer", *argv], env=env, check=True)
    assert done.returncode == 0
    (trial,) = trials(url, "s")
    assert trial.user_attrs[HOST_ATTR] == socket.gethostname()
    assert isinstance(trial.user_attrs[PID_ATTR], int)
    assert SLURM_JOB_ATTR not in trial.user_attrs


# --- --workers-per-gpu --------------------------------------------------------------------------

CHILD = """
import os, signal, sys, time
from pathlib import Path

out, args = Path(sys.argv[1]), sys.argv[2:]
gpu = args[args.index("--gpu") + 1]
runs = out / f"pid{os.getpid()}.run"
runs.write_text(f"{gpu} {os.environ['CUDA_VISIBLE_DEVICES']} {' '.join(args)}")
if args[args.index("--mode") + 1] == "crash-once" and not (out / "crashed").exists():
    (out / "crashed").write_text("")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_fleet_runs_k_workers_per_gpu_and_restarts_each(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    argv = ["worker", "--study", "s", "--gpus", "0,1", "--workers-per-gpu", "2", "--mode", "crash-once"]
    command = [sys.executable, str(script), str(tmp_path)]
    assert run_fleet("0,1", argv, command=command, restart_delay=0.1, workers_per_gpu=2) == 0
    runs = sorted(p.read_text() for p in tmp_path.glob("pid*.run"))
    assert len(runs) == 5  # 4 workers, one of them started again
    tail = "worker --study s --mode crash-once --gpu"
    assert sorted(set(runs)) == [f"0 0 {tail} 0", f"1 1 {tail} 1"]
    assert [r.split()[0] for r in runs].count("0") in (2, 3)


def test_fleet_of_two_fake_workers_per_gpu_drains_a_study(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 8, seeds=(1,))
    argv = ["--storage", url, "--study", "s", "--gpus", "0,1", "--workers-per-gpu", "2", "--seconds", "0.2"]
    argv += ["--output-dir", str(tmp_path / "runs")]
    command = [sys.executable, "-m", "hpsearch.testing._fake_trainer"]
    assert run_fleet("0,1", argv, command=command, workers_per_gpu=2) == 0
    assert_each_config_complete_once(url, "s", 8)
    summaries = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    assert sorted(s["cuda_visible_devices"] for s in summaries) == ["0", "0", "1", "1"]
    assert sum(s["completed"] for s in summaries) == 8


def test_workers_per_gpu_needs_gpus() -> None:
    code, output = cli("worker", "--study", "s", "--workers-per-gpu", "2")
    assert code == 2 and "--workers-per-gpu needs --gpus" in output


# --- a real SLURM -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sinfo_ok(env: dict[str, str]) -> str | None:
    """None when the cluster answers, else why not."""
    try:
        done = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if done.returncode == 0 and done.stdout.strip() else (done.stderr.strip() or "sinfo shows no node")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``SLURM_CONF`` of a running cluster: the environment's, else one started by ``.ci/slurm-up``."""
    conf = os.environ.get("SLURM_CONF")
    started: Path | None = None
    if conf:
        why = _sinfo_ok(dict(os.environ))
        if why:
            pytest.skip(f"SLURM could not start: SLURM_CONF={conf} is set but sinfo fails: {why}")
    else:
        missing = [tool for tool in ("slurmctld", "slurmd", "munged", "sbatch") if shutil.which(tool) is None]
        if missing:
            pytest.skip(f"SLURM could not start: {', '.join(missing)} not installed (apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            pytest.skip("SLURM could not start: .ci/slurm-up needs root")
        started = tmp_path_factory.mktemp("slurm")
        env = {**os.environ, "HPSEARCH_SLURMCTLD_PORT": str(_free_port()), "HPSEARCH_SLURMD_PORT": str(_free_port())}
        up = subprocess.run(
            ["bash", str(ROOT / ".ci" / "slurm-up"), str(started)], env=env, capture_output=True, text=True
        )
        lines = [line for line in up.stdout.splitlines() if line.startswith("SLURM_CONF=")]
        if up.returncode != 0 or not lines:
            subprocess.run(["bash", str(ROOT / ".ci" / "slurm-down"), str(started)], check=False)
            pytest.skip(f"SLURM could not start: {(up.stderr.strip() or up.stdout.strip())[-500:]}")
        conf = lines[-1].split("=", 1)[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", conf)
        yield conf
    if started is not None:
        subprocess.run(["bash", str(ROOT / ".ci" / "slurm-down"), str(started)], check=False)


WRAPPER = """
import sys
from hpsearch.store import storage_from_environment
from hpsearch.testing._fake_trainer import main

args = sys.argv[1:]
if "--device" in args:  # the fake trainer has none
    del args[args.index("--device") : args.index("--device") + 2]
sys.exit(main(["--storage", storage_from_environment(), *args]))
"""


def fake_job(tmp_path: Path, secret: Path, record: Path, seconds: float, **kw: object) -> SlurmJob:
    """A CPU job array of fake-trainer workers that read their storage from ``secret``."""
    wrapper = tmp_path / "fake_worker.py"
    wrapper.write_text(WRAPPER)
    worker_args = ("--seconds", str(seconds), "--record", str(record), "--output-dir", str(tmp_path / "runs"))
    options: dict[str, object] = {
        "studies": ("s",),
        "gpus_per_task": 0,
        "device": "cpu",
        "storage_file": secret,
        "command": (sys.executable, str(wrapper)),
        "worker_args": worker_args,
        "sbatch_args": (f"--chdir={tmp_path}",),
        **kw,
    }
    return SlurmJob(**options)  # type: ignore[arg-type]


def squeue(job_id: str) -> list[str]:
    done = subprocess.run(["squeue", "--noheader", "--jobs", job_id, "--format=%i %T"], capture_output=True, text=True)
    return done.stdout.split("\n") if done.returncode == 0 and done.stdout.strip() else []


def wait_done(job_id: str, tmp_path: Path, *extra: Path) -> None:
    """Until the job has left the queue, while its logs, records or run folders grow."""
    wait_for(lambda: not squeue(job_id), f"job {job_id} to finish", progress=growth(tmp_path, *extra), poll=0.5)


def task_logs(tmp_path: Path, job_id: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob(f"hpsearch-{job_id}_*.out")))


@pytest.mark.slurm
@pytest.mark.slow
def test_a_two_task_array_trains_every_configuration_once_and_names_its_task(
    slurm_cluster: str, tmp_path: Path, tiny_bert: Path, sample_data: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    code, output = cli(
        "create", "--model", str(tiny_bert), "--lr", "5e-3", "--lr", "1e-2", "--batch-size", "8",
        "--epochs", "1", "--seeds", "1,2", "--data-dir", str(sample_data), "--storage", url, "--study", "tiny",
    )  # fmt: skip
    assert code == 0, output
    secret = storage_file(tmp_path, url)
    bin_dir = Path(sys.executable).parent
    code, output = cli(
        "slurm", "--study", "tiny", "--storage-file", str(secret), "--tasks", "2", "--device", "cpu",
        "--setup", f"export PATH={bin_dir}:$PATH HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1",
        "--sbatch-arg", f"--chdir={tmp_path}", "--worker-arg=--keep-models=none",
        f"--worker-arg=--data-dir={sample_data}", f"--worker-arg=--output-dir={tmp_path / 'runs'}", "--submit",
    )  # fmt: skip
    assert code == 0, output
    job_id = output.strip()
    assert job_id.isdigit(), output
    wait_done(job_id, tmp_path)
    logs = task_logs(tmp_path, job_id)
    assert logs.count("workers exited with code 0") == 2, logs
    assert_each_config_complete_once(url, "tiny", 2)
    for trial in trials(url, "tiny"):
        assert trial.user_attrs[SLURM_ARRAY_JOB_ATTR] == job_id, trial.user_attrs
        assert trial.user_attrs[SLURM_ARRAY_TASK_ATTR] in ("0", "1")
        assert trial.user_attrs[SLURM_JOB_ATTR].isdigit()
        assert trial.user_attrs[HOST_ATTR] == socket.gethostname()


@pytest.mark.slurm
def test_scancel_term_hands_the_trial_back_and_a_second_array_finishes_the_study(
    slurm_cluster: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    make_study(url, "s", 2, seeds=(1, 2, 3))
    secret, record = storage_file(tmp_path, url), tmp_path / "record.jsonl"
    job_id = submit_script(render_script(fake_job(tmp_path, secret, record, seconds=2)))
    first = config_name(learning_rates(2)[0])
    wait_for(lambda: has_started(record, first, 2), "seed 2 to start", progress=growth(tmp_path), poll=0.2)
    subprocess.run(["scancel", "--batch", "--signal=TERM", f"{job_id}_0"], check=True)
    wait_done(job_id, tmp_path)
    assert "workers exited with code 0" in task_logs(tmp_path, job_id)
    by_number = {t.number: t for t in trials(url, "s")}
    assert by_number[0].state.name == "FAIL" and by_number[0].user_attrs["fail_reason"].startswith("interrupted")
    copy = by_number[2]
    assert copy.state.name == "WAITING"
    assert "seed:1" in copy.user_attrs and "seed:3" not in copy.user_attrs

    again = submit_script(render_script(fake_job(tmp_path, secret, record, seconds=0.1)))
    wait_done(again, tmp_path)
    assert_each_config_complete_once(url, "s", 2)
    assert set(done_counts(record).values()) == {1}, done_counts(record)  # no seed trained twice
    resumed = {t.user_attrs["config"]: t for t in trials(url, "s") if t.state.name == "COMPLETE"}[first]
    assert resumed.user_attrs[SLURM_ARRAY_JOB_ATTR] == again


@pytest.mark.slurm
def test_a_task_at_its_time_limit_hands_its_trial_back(slurm_cluster: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    # SLURM sends the warning signal up to 60 s before the asked margin (its event resolution), so the
    # job runs 3 minutes with a 60 s margin: the signal comes 60-120 s in, after several 4 s seeds.
    make_study(url, "s", 1, seeds=tuple(range(1, 61)))  # 60 seeds of 4 s: longer than the limit
    secret, record = storage_file(tmp_path, url), tmp_path / "record.jsonl"
    job = fake_job(tmp_path, secret, record, seconds=4, time="3", signal_margin=60)
    job_id = submit_script(render_script(job))
    wait_done(job_id, tmp_path)
    logs = task_logs(tmp_path, job_id)
    assert "SIGTERM: stopping the workers" in logs and "workers exited with code 0" in logs, logs
    (interrupted, copy) = trials(url, "s")
    assert interrupted.user_attrs["fail_reason"].startswith("interrupted"), interrupted.user_attrs
    kept = {e["seed"] for e in read_record(record) if e["event"] == "done"}
    assert kept and all(f"seed:{seed}" in copy.user_attrs for seed in kept)

    again = submit_script(render_script(fake_job(tmp_path, secret, record, seconds=0.1)))
    wait_done(again, tmp_path)
    assert_each_config_complete_once(url, "s", 1)
    assert set(done_counts(record).values()) == {1}, done_counts(record)
