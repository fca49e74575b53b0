"""``hpsearch demo``: a complete small search, offline, on the embedded SQLite storage."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hpsearch.dashboard import try_update_study_note
from hpsearch.demo._sample import sample_texts, write_sample_hipe
from hpsearch.demo._tiny_models import build_tiny_bert
from hpsearch.search import DatasetRef, GridSpace, StudySpec
from hpsearch.store import create_study, load_study, open_storage, study_results
from hpsearch.worker import WorkerOptions, run_worker

STUDY = "ajmc-en-tiny-bert"


def demo_spec(model: Path, data: Path) -> StudySpec:
    """Two learning rates × two batch sizes × 2 seeds × 3 epochs on a tiny model: about a minute on 2 cores."""
    return StudySpec(
        model=str(model.resolve()),
        label="tiny-bert",
        space=GridSpace(learning_rates=(5e-3, 1e-2), batch_sizes=(4, 8), epochs=(3,)),
        datasets=(DatasetRef("ajmc", "en"),),
        seeds=(1, 2),
        data_dir=str(data.resolve()),
    )


def run_demo(directory: Path, console: Console) -> None:
    from hpsearch.results import recipe_sections, trials_table
    from hpsearch.worker import configure_logging

    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "hpsearch.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    console.print(f"[bold]1/4[/] writing a synthetic HIPE-2022 sample to {directory / 'data'}")
    data = write_sample_hipe(directory / "data", sentences={"train": 200, "dev": 50, "test": 50})
    model = directory / "tiny-bert"
    if not (model / "config.json").is_file():
        console.print(f"[bold]2/4[/] building a tiny BERT (random weights, WordPiece trained here) in {model}")
        build_tiny_bert(model, sample_texts(data))
    url = f"sqlite:///{db}"
    spec = demo_spec(model, data)
    storage = open_storage(url)
    create_study(spec, storage, STUDY)
    try_update_study_note(load_study(storage, STUDY)[0])
    console.print(f"[bold]3/4[/] study {STUDY} in {url}: {spec.n_configs} configurations × {len(spec.seeds)} seeds")
    configure_logging()
    run_worker(
        url,
        [STUDY],
        WorkerOptions(output_dir=directory / "runs", device="cpu", keep_models="best"),
    )
    results = study_results(*load_study(open_storage(url, must_exist=True), STUDY))
    console.print("[bold]4/4[/] results\n")
    console.print(trials_table(results))
    console.print(recipe_sections(results.configs))
    console.print(
        "\nNext:\n"
        f"  hpsearch status --storage {url}\n"
        f"  hpsearch report --study {STUDY} --storage {url}\n"
        f"  hpsearch dashboard --storage {url}     # then open http://127.0.0.1:8080\n",
        highlight=False,
        soft_wrap=True,
    )
