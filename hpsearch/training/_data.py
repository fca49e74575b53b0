"""HIPE-2022 corpora: Flair's downloader, or a local copy of the HIPE-2022-data layout.

Both sources go through Flair's own ``NER_HIPE_2022`` reader: the original TSV files are staged
where that reader expects its download cache, so a local copy yields exactly the sentences,
documents and labels that Flair's loader gives.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.errors import DataError
from hpsearch.search import HIPE_VERSION, DatasetRef

if TYPE_CHECKING:
    from flair.data import Corpus, Dictionary

HUB_URL = "https://github.com/hipe-eval/HIPE-2022-data/raw/main/data"


def hipe_file_name(dataset: DatasetRef, split: str) -> str:
    return f"HIPE-2022-{HIPE_VERSION}-{dataset.name}-{split}-{dataset.language}.tsv"


def local_files(data_dir: Path, dataset: DatasetRef) -> dict[str, Path]:
    """The dataset's split files under a HIPE-2022-data checkout.

    Raises:
        DataError: a split file is missing.
    """
    folder = data_dir / "data" / HIPE_VERSION / dataset.name / dataset.language
    files = {split: folder / hipe_file_name(dataset, split) for split in dataset.splits}
    for path in files.values():
        if not path.is_file():
            raise DataError(
                f"--data-dir {data_dir} lacks {path.relative_to(data_dir)}; it must hold the HIPE-2022-data layout "
                f"data/{HIPE_VERSION}/<dataset>/<lang>/HIPE-2022-{HIPE_VERSION}-<dataset>-<split>-<lang>.tsv."
            )
    return files


def check_hipe_file(path: Path) -> None:
    """Check that the file is UTF-8, has sentences, and every data line has the header's number of columns.

    Raises:
        DataError: naming the file and line of the first malformed line (or undecodable byte), or
            the split that has no sentences.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({e.reason}); HIPE-2022 files are UTF-8.") from None
    tokens = 0
    with io.StringIO(text, newline=None) as f:
        header = f.readline().rstrip("\n").split("\t")
        if not header or header[0] != "TOKEN":
            raise DataError(f"{path}:1: expected a HIPE-2022 header starting with TOKEN, got {header[0]!r}.")
        for number, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#") or line.startswith(" \t"):
                continue
            columns = line.split("\t")
            if len(columns) != len(header):
                raise DataError(
                    f"{path}:{number}: malformed line: {len(columns)} tab-separated columns, expected {len(header)}."
                )
            tokens += 1
    if not tokens:
        parts = path.stem.split("-")  # HIPE-2022-v2.1-<dataset>-<split>-<lang>
        split = {"train": "training"}.get(parts[-2], parts[-2]) if len(parts) > 2 else "a"
        raise DataError(f"{split} split has no sentences: {path}")


def download_files(dataset: DatasetRef) -> dict[str, Path]:
    """Fetch the dataset's split files with Flair's downloader (cached in Flair's cache root)."""
    import flair
    from flair.file_utils import cached_path

    cache = flair.cache_root / "datasets" / "ner_hipe_2022" / HIPE_VERSION / dataset.name / dataset.language
    url = f"{HUB_URL}/{HIPE_VERSION}/{dataset.name}/{dataset.language}"
    files: dict[str, Path] = {}
    for split in dataset.splits:
        try:
            files[split] = cached_path(f"{url}/{hipe_file_name(dataset, split)}", cache / "original")
        except Exception as e:  # noqa: BLE001 - network errors come in many types
            raise DataError(
                f"cannot download {dataset.key} ({type(e).__name__}); without network, pass --data-dir with a "
                "local copy of the HIPE-2022-data repository."
            ) from None
    return files


def load_dataset(dataset: DatasetRef, data_dir: Path | None, *, normalize_long_s: bool = True) -> Corpus:
    """One HIPE-2022 dataset as Flair's ``NER_HIPE_2022`` reads it, with document separators.

    For AjMC the recipe replaces the long s (ſ) with s in tokens.
    """
    from flair.datasets import NER_HIPE_2022

    files = local_files(data_dir, dataset) if data_dir is not None else download_files(dataset)
    for path in files.values():
        check_hipe_file(path)
    long_s = normalize_long_s and dataset.name == "ajmc"
    with tempfile.TemporaryDirectory(prefix="hpsearch-hipe-") as tmp:
        original = Path(tmp) / "ner_hipe_2022" / HIPE_VERSION / dataset.name / dataset.language / "original"
        original.mkdir(parents=True)
        for path in files.values():
            (original / path.name).symlink_to(path.resolve())
        return NER_HIPE_2022(
            dataset_name=dataset.name,
            language=dataset.language,
            base_path=tmp,
            version=HIPE_VERSION,
            add_document_separator=True,
            preproc_fn=_prepare_replacing_long_s if long_s else None,
        )


def _prepare_replacing_long_s(
    file_in: Path, file_out: Path, eos_marker: str, document_separator: str, add_document_separator: bool
) -> None:
    from flair.datasets import NER_HIPE_2022

    NER_HIPE_2022._prepare_corpus(file_in, file_out, eos_marker, document_separator, add_document_separator)
    lines = file_out.read_text(encoding="utf-8").split("\n")
    fixed = []
    for line in lines:
        token, sep, rest = line.partition("\t")
        fixed.append(token.replace("ſ", "s") + sep + rest)
    file_out.write_text("\n".join(fixed), encoding="utf-8")


def load_corpus(datasets: Sequence[DatasetRef], data_dir: Path | None) -> Corpus:
    """The training corpus: one dataset, or the union of several as the recipe's ``MultiCorpus``."""
    from flair.data import MultiCorpus

    corpora = [load_dataset(d, data_dir) for d in datasets]
    return MultiCorpus(corpora=corpora, sample_missing_splits=False)


def label_dictionary(corpus: Corpus) -> Dictionary:
    return corpus.make_label_dictionary(label_type="ner")


def check_data_dir(data_dir: Path, datasets: Sequence[DatasetRef]) -> None:
    """Check a ``--data-dir`` before a study relies on it: every split file present and well-formed.

    Raises:
        DataError: naming the missing file, or the file and line that is malformed.
    """
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir} does not exist; point it at a copy of the HIPE-2022-data repository.")
    for dataset in datasets:
        for path in local_files(data_dir, dataset).values():
            check_hipe_file(path)
