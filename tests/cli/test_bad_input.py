"""The bad-input suite (issue 13): every command, every class of bad input, one table.

Each case asserts what README promises: exit code 2, exactly one line on stderr, no traceback, no
password in the output, and every SQLite file in the test's folder unchanged (each table's rows,
the journal mode, and no file created). A subset runs on PostgreSQL as well.

Cases that need the store/worker part of issue 13 are ``xfail(strict=True)``: they flip to passing
when that part lands, and the strict mark then asks for the mark to go.
"""

# ruff: noqa: E501 - one case per line reads best as a table

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app

runner = CliRunner()

PASSWORD = "S3cretPw"
PG_DOWN = f"postgresql+psycopg://hps:{PASSWORD}@127.0.0.1:1/test"
"""A PostgreSQL URL with a password and nothing listening: every command must refuse it without printing it."""

PART_B = "issue 13 part B: "
DATA = "data/v2.1/ajmc/en"
TRAIN = f"{DATA}/HIPE-2022-v2.1-ajmc-train-en.tsv"
HEADER = "TOKEN\tNE-COARSE-LIT\tNE-COARSE-METO\tNE-FINE-LIT\tNE-FINE-METO\tNE-FINE-COMP\tNE-NESTED\tNEL-LIT\tNEL-METO\tMISC\n"
TOML_HEAD = 'model = "bert"\n[space]\nbatch_sizes = [4]\n'
GOOD_LOG = (
    "2024-01-01 10:00:00,000 - compute on device: cpu\n"
    "2024-01-01 10:00:01,000 DEV : loss 0.1 - f1-score (micro avg)  {dev}\n"
    "2024-01-01 10:00:02,000 Results:\n- F-score (micro) 0.5\n"
)
RUN = "runs/hipe2022-flert-fine-tune-ajmc/en-bert-bs8-wsFalse-e10-lr5e-05-1"


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (``{url}``, ``{tmp}`` and ``{data}`` filled in), a part of the
    expected error line, and the files the test folder gets first (text, or bytes as they are)."""

    args: tuple[str, ...]
    message: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    data_files: dict[str, str | bytes] = field(default_factory=dict)
    part_b: str = ""


def c(*args: str, message: str, **kwargs: object) -> Case:
    return Case(tuple(args), message, **kwargs)  # type: ignore[arg-type]


CREATE = ("create", "--storage", "{url}")
BERT = (*CREATE, "--model", "bert")

CASES: dict[str, Case] = {
    # --- create: values (item 5) ---------------------------------------------------------------
    "lr-zero": c(*BERT, "--lr", "0", message="learning rate must be > 0"),
    "lr-negative": c(*BERT, "--lr", "-3e-5", message="learning rate must be > 0"),
    "lr-inf": c(*BERT, "--lr", "inf", message="learning rate must be > 0 and finite"),
    "lr-minus-inf": c(*BERT, "--lr", "-inf", message="learning rate must be > 0"),
    "lr-nan": c(*BERT, "--lr", "nan", message="learning rate must be > 0 and finite"),
    "lr-text": c(*BERT, "--lr", "fast", message="Invalid value for '--lr'"),
    "batch-zero": c(*BERT, "--batch-size", "0", message="batch size must be >= 1"),
    "batch-negative": c(*BERT, "--batch-size", "-8", message="batch size must be >= 1"),
    "batch-huge": c(*BERT, "--batch-size", "5000", message="<= 4096"),
    "batch-text": c(*BERT, "--batch-size", "8.5", message="Invalid value for '--batch-size'"),
    "epochs-zero": c(*BERT, "--epochs", "0", message="epochs must be >= 1"),
    "epochs-huge": c(*BERT, "--epochs", "1001", message="<= 1000"),
    "context-negative": c(*BERT, "--context-size", "-1", message="context size must be >= 0"),
    "context-huge": c(*BERT, "--context-size", "100000", message="<= 4096"),
    "seeds-empty": c(*BERT, "--seeds", "", message="no seeds given"),
    "seeds-comma": c(*BERT, "--seeds", ",", message="no seeds given"),
    "seeds-reversed": c(*BERT, "--seeds", "5-1", message="reversed"),
    "seeds-word": c(*BERT, "--seeds", "one", message="seeds are written like"),
    "seeds-twice": c(*BERT, "--seeds", "1,1", message="seeds must be distinct"),
    "seeds-negative": c(*BERT, "--seeds", "-1", message="seeds must be >= 0"),
    "seeds-too-many": c(*BERT, "--seeds", "1-200000", message="at most 100 seeds"),
    "seeds-101": c(*BERT, "--seeds", ",".join(map(str, range(101))), message="at most 100 seeds"),
    "seeds-huge": c(*BERT, "--seeds", "99999999999", message="<= 4294967295"),
    "seeds-open-range": c(*BERT, "--seeds", "1-", message="seeds are written like"),
    "dataset-unknown": c(*BERT, "--dataset", "nosuch/en", message="unknown HIPE-2022 dataset 'nosuch'"),
    "dataset-language": c(*BERT, "--dataset", "ajmc/xx", message="dataset 'ajmc' has no language 'xx'"),
    "dataset-no-slash": c(*BERT, "--dataset", "ajmc", message="a dataset is written DATASET/LANG"),
    "dataset-twice": c(*BERT, "--dataset", "ajmc/en", "--dataset", "ajmc/en", message="datasets must be distinct"),
    "n-trials-zero": c(*BERT, "--space", "wide", "--n-trials", "0", message="--n-trials >= 1"),
    "n-trials-huge": c(*BERT, "--space", "wide", "--n-trials", "100001", message="<= 100,000"),
    "n-trials-grid": c(*BERT, "--n-trials", "5", message="--n-trials sets the budget of a sampled space"),
    "grid-too-big": c(
        *BERT,
        *(a for lr in range(1, 60) for a in ("--lr", f"{lr}e-5")),
        *(a for bs in range(1, 60) for a in ("--batch-size", str(bs))),
        *(a for e in range(1, 31) for a in ("--epochs", str(e))),
        message="at most 100,000 points",
    ),
    "pruner-unknown": c(*BERT, "--pruner", "sometimes", message="unknown pruner 'sometimes'"),
    "name-inner-parent": c(*BERT, "--study", "a/../../x", message="a study name holds only letters"),
    "space-unknown": c(*BERT, "--space", "narrow", message="--space takes paper, wide or a .toml file"),
    "space-missing-file": c(*BERT, "--space", "{tmp}/nope.toml", message="does not exist"),
    "space-with-lr": c(*BERT, "--space", "wide", "--lr", "1e-5", message="go with --space paper"),
    "if-exists-unknown": c(*BERT, "--if-exists", "maybe", message="Invalid value for '--if-exists'"),
    "model-unknown-preset": c(*CREATE, "--model", "roberta", message="unknown model preset 'roberta'"),
    "model-missing-folder": c(*CREATE, "--model", "/no/such/model", message="model folder /no/such/model does not exist"),
    "model-and-config": c(*BERT, "--config", "studies/bert.toml", message="give either --model"),
    "model-nor-config": c(*CREATE, message="give either --model"),
    "unknown-option": c(*BERT, "--learning-rate", "1e-5", message="No such option"),
    # --- create: study names (item 3) ----------------------------------------------------------
    "name-parent": c(*BERT, "--study", "../../x", message="a study name must not start with '.'"),
    "name-absolute": c(*BERT, "--study", "/abs/path", message="a study name holds only letters"),
    "name-glob": c(*BERT, "--study", "x*", message="but 'x*' holds '*'"),
    "name-question": c(*BERT, "--study", "x?", message="a study name holds only letters"),
    "name-markup-close": c(*BERT, "--study", "a[/]b", message="'a[/]b'"),
    "name-markup-red": c(*BERT, "--study", "[red]x", message="'[red]x'"),
    "name-empty": c(*BERT, "--study", "", message="the study name is empty"),
    "name-dot": c(*BERT, "--study", ".hidden", message="must not start with '.'"),
    "name-dotdot": c(*BERT, "--study", "..", message="must not start with '.'"),
    "name-long": c(*BERT, "--study", "a" * 101, message="at most 100 characters"),
    "name-5000": c(*BERT, "--study", "b" * 5000, message="at most 100 characters"),
    "name-space": c(*BERT, "--study", "a b", message="a study name holds only letters"),
    "name-slash": c(*BERT, "--study", "a/b", message="a study name holds only letters"),
    "name-backslash": c(*BERT, "--study", "a\\b", message="a study name holds only letters"),
    "name-newline": c(*BERT, "--study", "a\nb", message="a study name holds only letters"),
    "name-non-ascii": c(*BERT, "--study", "étude", message="a study name holds only letters"),
    # --- create: config files (items 4, 5) -----------------------------------------------------
    "config-missing": c(*CREATE, "--config", "nope.toml", message="config file nope.toml does not exist"),
    "config-bad-toml": c(*CREATE, "--config", "{tmp}/c.toml", message="not valid TOML", files={"c.toml": 'model = "bert"\n[space\n'}),
    "config-no-space": c(*CREATE, "--config", "{tmp}/c.toml", message="missing key(s) space", files={"c.toml": 'model = "bert"\n'}),
    "config-unknown-key": c(
        *CREATE, "--config", "{tmp}/c.toml", message="unknown key(s) foo",
        files={"c.toml": 'model = "bert"\nfoo = 1\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[4]\n'},
    ),
    "config-types": c(
        *CREATE, "--config", "{tmp}/c.toml", message="must list int",
        files={"c.toml": 'model = "bert"\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=["4"]\n'},
    ),
    "config-recipe-incomplete": c(
        *CREATE, "--config", "{tmp}/c.json", message="missing key(s) batch_sizes",
        files={"c.json": '{"seeds": [1], "hf_model": "a/b"}'},
    ),
    "config-yaml": c(*CREATE, "--config", "{tmp}/c.yaml", message="unknown config format", files={"c.yaml": "a: 1\n"}),
    "config-latin1": c(
        *CREATE, "--config", "{tmp}/c.toml", message="c.toml:2: not UTF-8",
        files={"c.toml": 'model = "bert"\nlabel = "caf\xe9"\n'.encode("latin-1")},
    ),
    "config-binary-json": c(
        *CREATE, "--config", "{tmp}/c.json", message="c.json:1: not UTF-8", files={"c.json": b"\x89PNG\r\n\x1a\n\x00\xff"}
    ),
    "config-json-list": c(*CREATE, "--config", "{tmp}/c.json", message="expected a JSON object", files={"c.json": "[1, 2]"}),
    "config-json-deep": c(
        *CREATE, "--config", "{tmp}/c.json", message="not valid JSON", files={"c.json": "[" * 100_000 + "]" * 100_000}
    ),
    "config-json-infinity": c(
        *CREATE, "--config", "{tmp}/c.json", message="learning rate must be > 0 and finite",
        files={"c.json": '{"seeds": [1], "batch_sizes": [8], "hf_model": "a/b", "epochs": [10], '
               '"learning_rates": [Infinity], "hipe_datasets": ["ajmc/en"]}'},
    ),
    "config-json-nan": c(
        *CREATE, "--config", "{tmp}/c.json", message="learning rate must be > 0 and finite",
        files={"c.json": '{"seeds": [1], "batch_sizes": [8], "hf_model": "a/b", "epochs": [10], '
               '"learning_rates": [NaN], "hipe_datasets": ["ajmc/en"]}'},
    ),
    "config-json-seeds-twice": c(
        *CREATE, "--config", "{tmp}/c.json", message="seeds must be distinct",
        files={"c.json": '{"seeds": [1, 1], "batch_sizes": [8], "hf_model": "a/b", "epochs": [10], '
               '"learning_rates": [5e-5], "hipe_datasets": ["ajmc/en"]}'},
    ),
    "config-json-datasets-twice": c(
        *CREATE, "--config", "{tmp}/c.json", message="datasets must be distinct",
        files={"c.json": '{"seeds": [1], "batch_sizes": [8], "hf_model": "a/b", "epochs": [10], '
               '"learning_rates": [5e-5], "hipe_datasets": ["ajmc/en", "ajmc/en"]}'},
    ),
    "config-toml-inf": c(
        *CREATE, "--config", "{tmp}/c.toml", message="learning rate must be > 0 and finite",
        files={"c.toml": TOML_HEAD + "learning_rates = [inf]\n"},
    ),
    "config-toml-nan": c(
        *CREATE, "--config", "{tmp}/c.toml", message="learning rate must be > 0 and finite",
        files={"c.toml": TOML_HEAD + "learning_rates = [nan]\n"},
    ),
    "config-toml-epochs": c(
        *CREATE, "--config", "{tmp}/c.toml", message="epochs must be >= 1 and <= 1000",
        files={"c.toml": TOML_HEAD + "learning_rates = [5e-5]\nepochs = [2000]\n"},
    ),
    "config-toml-seeds-empty": c(
        *CREATE, "--config", "{tmp}/c.toml", message="'seeds' must be a non-empty list",
        files={"c.toml": 'model = "bert"\nseeds = []\n[space]\nbatch_sizes = [4]\nlearning_rates = [5e-5]\n'},
    ),
    "config-toml-seeds-negative": c(
        *CREATE, "--config", "{tmp}/c.toml", message="seeds must be >= 0",
        files={"c.toml": 'model = "bert"\nseeds = [-1]\n[space]\nbatch_sizes = [4]\nlearning_rates = [5e-5]\n'},
    ),
    "config-toml-range-inf": c(
        *CREATE, "--config", "{tmp}/c.toml", message="learning rate must be > 0 and finite",
        files={"c.toml": 'model = "bert"\nn_trials = 3\n[space]\nkind = "sampled"\n'
               "batch_size = [4]\nlearning_rate = {low = 1e-5, high = inf}\n"},
    ),
    "config-toml-n-trials": c(
        *CREATE, "--config", "{tmp}/c.toml", message="<= 100,000",
        files={"c.toml": 'model = "bert"\nn_trials = 200000\n[space]\nkind = "sampled"\n'
               "batch_size = [4]\nlearning_rate = {low = 1e-5, high = 1e-4}\n"},
    ),
    "config-with-seeds": c(*CREATE, "--config", "studies/bert.toml", "--seeds", "", message="grid options"),
    "space-file-latin1": c(
        *BERT, "--space", "{tmp}/s.toml", message="s.toml:1: not UTF-8",
        files={"s.toml": '# caf\xe9\n[space]\nkind = "sampled"\n'.encode("latin-1")},
    ),
    # --- create: data (items 4, 10) ------------------------------------------------------------
    "data-missing": c(*BERT, "--data-dir", "{tmp}/nope", message="does not exist"),
    "data-empty": c(*BERT, "--data-dir", "{tmp}", message="lacks"),
    "data-malformed": c(*BERT, "--data-dir", "{data}", message="train-en.tsv:2: malformed", data_files={TRAIN: HEADER + "Ajax B-pers\n"}),
    "data-binary": c(*BERT, "--data-dir", "{data}", message="train-en.tsv:1: not UTF-8", data_files={TRAIN: b"\x00\xff\xfe" * 10}),
    "data-latin1": c(
        *BERT, "--data-dir", "{data}", message="train-en.tsv:2: not UTF-8",
        data_files={TRAIN: (HEADER + "caf\xe9" + "\tO" * 9 + "\n").encode("latin-1")},
    ),
    "data-header-only": c(*BERT, "--data-dir", "{data}", message="training split has no sentences", data_files={TRAIN: HEADER}),
    "data-no-header": c(*BERT, "--data-dir", "{data}", message="expected a HIPE-2022 header", data_files={TRAIN: ""}),
    # --- storage URLs (item 1) -----------------------------------------------------------------
    "url-not-a-url": c("create", "--model", "bert", "--storage", "not a url", message="malformed storage URL"),
    "url-mysql": c("create", "--model", "bert", "--storage", "mysql://root@127.0.0.1/test", message="unsupported storage"),
    "url-missing-folder": c("create", "--model", "bert", "--storage", "sqlite:////no/such/folder/x.db", message="does not exist"),
    "url-pg-down-create": c("create", "--model", "bert", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-status": c("status", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-report": c("report", "--study", "s", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-best": c("best", "--study", "s", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-worker": c("worker", "--study", "s", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-plot": c("plot", "--study", "s", "-o", "{tmp}/p.png", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-dashboard": c("dashboard", "--port", "0", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-list": c("list", "--storage", PG_DOWN, message="cannot open storage"),
    "url-pg-down-import": c("import-logs", "{tmp}/runs/*", "--storage", PG_DOWN, message="cannot open storage",
                            files={f"{RUN}/training.log": GOOD_LOG.format(dev="0.5")}),
    "url-bad-port": c(
        "status", "--storage", f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:notaport/db", message="malformed storage URL",
    ),
    "url-broken-ipv6": c(
        "status", "--storage", f"postgresql+psycopg://u:{PASSWORD}@[::1/db", message="storage URL",
    ),
    "url-at-in-password": c(
        "status", "--storage", f"postgresql+psycopg://u:{PASSWORD}@x@127.0.0.1:1/db", message="storage",
    ),
    # --- worker (item 5) -----------------------------------------------------------------------
    "worker-no-study-option": c("worker", "--storage", "{url}", message="Missing option '--study'"),
    "worker-missing-study": c("worker", "--study", "nope", "--storage", "{url}", message="no study named 'nope'"),
    "worker-markup-study": c("worker", "--study", "[red]x", "--storage", "{url}", message="no study matches '[red]x'"),
    "worker-glob-none": c("worker", "--study", "zz-*", "--storage", "{url}", message="no study matches 'zz-*'"),
    "worker-no-storage": c("worker", "--study", "s", "--storage", "sqlite:///{tmp}/none.db", message="no storage at"),
    "worker-max-retries": c("worker", "--study", "s", "--max-retries", "-1", "--storage", "{url}", message="--max-retries must be >= 0"),
    "worker-timeout-negative": c("worker", "--study", "s", "--timeout", "-5", "--storage", "{url}", message="--timeout must be > 0"),
    "worker-timeout-zero": c("worker", "--study", "s", "--timeout", "0", "--storage", "{url}", message="--timeout must be > 0"),
    "worker-timeout-nan": c("worker", "--study", "s", "--timeout", "nan", "--storage", "{url}", message="--timeout must be > 0"),
    "worker-n-trials": c("worker", "--study", "s", "--n-trials", "0", "--storage", "{url}", message="--n-trials must be >= 1"),
    "worker-heartbeat": c("worker", "--study", "s", "--heartbeat", "0", "--storage", "{url}", message="grace period"),
    "worker-grace": c("worker", "--study", "s", "--grace", "10", "--storage", "{url}", message="grace period"),
    "worker-keep-models": c("worker", "--study", "s", "--keep-models", "some", "--storage", "{url}", message="Invalid value for '--keep-models'"),
    "worker-device": c("worker", "--study", "s", "--device", "tpu", "--storage", "{url}", message="Invalid value for '--device'"),
    "worker-per-gpu": c("worker", "--study", "s", "--workers-per-gpu", "2", "--storage", "{url}", message="--workers-per-gpu needs --gpus"),
    # --- status, report, best, plot, list (items 2, 5) -----------------------------------------
    "status-missing-study": c("status", "--study", "nope", "--storage", "{url}", message="no study named 'nope'"),
    "status-markup-study": c("status", "--study", "[red]x", "--storage", "{url}", message="no study named '[red]x'"),
    "status-close-tag": c("status", "--study", "a[/]b", "--storage", "{url}", message="no study named 'a[/]b'"),
    "status-no-storage": c("status", "--storage", "sqlite:///{tmp}/none.db", message="no storage at"),
    "report-missing-study": c("report", "--study", "nope", "--storage", "{url}", message="no study named 'nope'"),
    "report-markup-study": c("report", "--study", "[red]x", "--storage", "{url}", message="no study named '[red]x'"),
    "report-no-target": c("report", "--storage", "{url}", message="give either --study NAME or --studies PATTERN"),
    "report-both-targets": c("report", "--study", "s", "--studies", "s*", "--storage", "{url}", message="give either"),
    "report-format": c("report", "--studies", "s*", "-f", "pdf", "--storage", "{url}", message="Invalid value for '--format'"),
    "report-alpha": c("report", "--study", "s", "--alpha", "2", "--storage", "{url}", message="alpha"),
    "report-budget": c("report", "--studies", "s*", "--budget", "0", "--storage", "{url}", message="budget"),
    "report-glob-none": c("report", "--studies", "zz-*", "--storage", "{url}", message="no study matches 'zz-*'"),
    "best-missing-study": c("best", "--study", "nope", "--storage", "{url}", message="no study named 'nope'"),
    "best-markup-study": c("best", "--study", "[bold]x", "--storage", "{url}", message="no study named '[bold]x'"),
    "best-no-complete": c("best", "--study", "s", "--storage", "{url}", message="has no complete trial yet"),
    "plot-missing-folder": c("plot", "--study", "s", "-o", "{tmp}/no/such/p.png", "--storage", "{url}", message="does not exist"),
    "plot-folder": c("plot", "--study", "s", "-o", "{tmp}", "--storage", "{url}", message="is a folder"),
    "plot-suffix": c("plot", "--study", "s", "-o", "{tmp}/p.txt", "--storage", "{url}", message="plot file must end in"),
    "plot-no-target": c("plot", "-o", "{tmp}/p.png", "--storage", "{url}", message="give either"),
    "plot-missing-study": c("plot", "--study", "nope", "-o", "{tmp}/p.png", "--storage", "{url}", message="no study named 'nope'"),
    "list-no-storage": c("list", "--storage", "sqlite:///{tmp}/none.db", message="no storage at"),
    "extend-missing-study": c("extend", "--study", "nope", "--lr", "1e-5", "--storage", "{url}", message="no study named 'nope'"),
    "extend-lr-inf": c("extend", "--study", "s", "--lr", "inf", "--storage", "{url}", message="learning rate must be > 0"),
    "delete-missing-study": c("delete", "--study", "nope", "--yes", "--storage", "{url}", message="no study named 'nope'"),
    "export-missing-study": c("export", "--study", "nope", "--storage", "{url}", message="no study named 'nope'"),
    "logs-missing-study": c("logs", "--study", "nope", "--trial", "0", "--storage", "{url}", message="no study named 'nope'"),
    # --- dashboard (item 5) --------------------------------------------------------------------
    "dashboard-port-huge": c("dashboard", "--port", "99999", "--storage", "{url}", message="--port must be"),
    "dashboard-port-negative": c("dashboard", "--port", "-1", "--storage", "{url}", message="--port must be"),
    "dashboard-port-text": c("dashboard", "--port", "http", "--storage", "{url}", message="Invalid value for '--port'"),
    "dashboard-host": c("dashboard", "--host", "256.0.0.1", "--port", "1", "--storage", "{url}", message="cannot listen on"),
    "dashboard-missing-study": c("dashboard", "--study", "nope", "--port", "0", "--storage", "{url}", message="no study named 'nope'"),
    "dashboard-markup-study": c("dashboard", "--study", "[red]x", "--port", "0", "--storage", "{url}", message="'[red]x'"),
    # --- parse-logs, import-logs (items 4, 10) -------------------------------------------------
    "parse-logs-none": c("parse-logs", "{tmp}/nothing-*", message="no Flair run folders match"),
    "parse-logs-latin1": c(
        "parse-logs", "{tmp}/runs/*", message="training.log:2: not UTF-8",
        files={f"{RUN}/training.log": b"2024-01-01 10:00:00,000 start\ncaf\xe9\n"},
    ),
    "import-logs-none": c("import-logs", "{tmp}/nothing-*", "--storage", "{url}", message="no Flair run folders match"),
    "import-logs-no-log": c("import-logs", "{tmp}/runs/*", "--storage", "{url}", message="has a training.log", files={f"{RUN}/x.txt": ""}),
    "import-logs-bad-name": c(
        "import-logs", "{tmp}/runs/*", "--study", "../x", "--storage", "{url}", message="a study name must not start with '.'",
        files={f"{RUN}/training.log": GOOD_LOG.format(dev="0.5")},
    ),
    "import-logs-glob-name": c(
        "import-logs", "{tmp}/runs/*", "--study", "x*", "--storage", "{url}", message="a study name holds only letters",
        files={f"{RUN}/training.log": GOOD_LOG.format(dev="0.5")},
    ),
    "import-logs-latin1": c(
        "import-logs", "{tmp}/runs/*", "--storage", "{url}", message="not UTF-8",
        files={f"{RUN}/training.log": b"\xe9\n"},
    ),
    "import-logs-outside-grid": c(
        "import-logs", "{tmp}/runs/*", "--study", "s", "--storage", "{url}", message="not among the study's seeds",
        files={"runs/hipe2022-flert-fine-tune-ajmc/en-bert-bs8-wsFalse-e10-lr5e-05-9/training.log": GOOD_LOG.format(dev="0.5")},
    ),
    # --- slurm ---------------------------------------------------------------------------------
    "slurm-output-and-submit": c("slurm", "--study", "s", "-o", "{tmp}/job.sh", "--submit", message="give either -o FILE"),
    "slurm-no-study": c("slurm", message="Missing option '--study'"),
    # --- read-only commands on a file that is not an hpsearch storage (item 7) -----------------
    "foreign-status": c("status", "--storage", "sqlite:///{tmp}/foreign.db", message="not an hpsearch storage"),
    "foreign-report": c("report", "--studies", "*", "--storage", "sqlite:///{tmp}/foreign.db", message="not an hpsearch storage"),
    "foreign-best": c("best", "--study", "s", "--storage", "sqlite:///{tmp}/foreign.db", message="not an hpsearch storage"),
    "foreign-plot": c("plot", "--studies", "*", "-o", "{tmp}/p.png", "--storage", "sqlite:///{tmp}/foreign.db",
                      message="not an hpsearch storage"),
    "foreign-dashboard": c("dashboard", "--port", "0", "--study", "s", "--storage", "sqlite:///{tmp}/foreign.db", message="not an hpsearch storage"),
    "foreign-list": c("list", "--storage", "sqlite:///{tmp}/foreign.db", message="not an hpsearch storage"),
}  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, object]:
    """Every SQLite file under ``folder``: its tables' rows (sorted) and journal mode; other files by name."""
    state: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.endswith(("-wal", "-shm", "-journal")):
            continue  # SQLite's side files come and go with readers; the rows below are what counts
        if path.suffix != ".db":
            state[str(path)] = None
            continue
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            rows = {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in sorted(tables)}
            rows["journal_mode"] = db.execute("PRAGMA journal_mode").fetchall()
        db.close()
        state[str(path)] = rows
    return state


def run(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def check_refused(args: list[str], message: str) -> None:
    """Exit 2, one line on stderr holding ``message``, no traceback, no password."""
    code, stdout, stderr = run(args)
    output = stdout + stderr
    assert code == 2, (code, output)
    assert "Traceback" not in output
    assert PASSWORD not in output
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, stderr
    assert message in lines[0], lines[0]


def fill(args: tuple[str, ...], **values: str) -> list[str]:
    out = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage with one study ``s`` (the bert preset, nothing run), copied for each case."""
    path = tmp_path_factory.mktemp("template") / "hpsearch.db"
    code, stdout, stderr = run(["create", "--model", "bert", "--study", "s", "--storage", f"sqlite:///{path}"])
    assert code == 0, stdout + stderr
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the file itself, for copying
    db.close()
    return path


def test_the_suite_has_at_least_120_cases() -> None:
    assert len(CASES) >= 120


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=name, marks=pytest.mark.xfail(strict=True, reason=PART_B + case.part_b))
        if case.part_b
        else pytest.param(case, id=name)
        for name, case in CASES.items()
    ],
)
def test_bad_input_is_refused_in_one_line_and_changes_nothing(
    case: Case, template: Path, tmp_path: Path, sample_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # studies/*.toml resolve; nothing is written here
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(template, work / "hpsearch.db")
    foreign = work / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('mine')")
    db.close()
    write_files(work, case.files)
    data = tmp_path / "data"
    if case.data_files:
        shutil.copytree(sample_data, data)
        write_files(data, case.data_files)
    before = snapshot(work)
    args = fill(case.args, url=f"sqlite:///{work / 'hpsearch.db'}", tmp=str(work), data=str(data))
    check_refused(args, case.message)
    assert snapshot(work) == before


# --- PostgreSQL: a subset, the storage compared table by table ----------------------------------


PG_CASES = [
    "lr-inf",
    "seeds-empty",
    "name-parent",
    "name-markup-close",
    "worker-max-retries",
    "worker-missing-study",
    "status-markup-study",
    "report-no-target",
    "best-no-complete",
    "dashboard-port-huge",
    "plot-missing-folder",
    "import-logs-bad-name",
]


def pg_snapshot(url: str) -> dict[str, list[str]]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sqlalchemy.inspect(conn).get_table_names()
            return {t: sorted(map(repr, conn.execute(sqlalchemy.text(f'SELECT * FROM "{t}"')))) for t in tables}
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("name", PG_CASES)
def test_bad_input_leaves_postgresql_unchanged(name: str, pg_url: str, tmp_path: Path) -> None:
    case = CASES[name]
    code, stdout, stderr = run(["create", "--model", "bert", "--study", "s", "--storage", pg_url])
    assert code == 0, stdout + stderr
    write_files(tmp_path, case.files)
    before = pg_snapshot(pg_url)
    check_refused(fill(case.args, url=pg_url, tmp=str(tmp_path), data=str(tmp_path / "data")), case.message)
    assert pg_snapshot(pg_url) == before


@pytest.mark.postgres
def test_status_on_an_empty_postgresql_database_creates_nothing(pg_url: str) -> None:
    check_refused(["status", "--storage", pg_url], "not an hpsearch storage")
    assert pg_snapshot(pg_url) == {}


def test_concurrent_creates_of_one_name_never_give_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'hpsearch.db'}"
    command = [sys.executable, "-m", "hpsearch", "create", "--model", "bert", "--study", "s", "--storage", url]
    for _ in range(3):
        (tmp_path / "hpsearch.db").unlink(missing_ok=True)
        procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        assert sorted(code for code, _, _ in results) == [0, 2, 2, 2], results
        assert all("Traceback" not in out + err for _, out, err in results)
