"""Data: the local HIPE-2022 layout read through Flair's own reader, checks, the long-s fix."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from hpsearch.errors import DataError
from hpsearch.search import DatasetRef
from hpsearch.training import check_data_dir, label_dictionary, load_corpus, load_dataset
from tests.conftest import SHARED_DATA

AJMC_EN = DatasetRef("ajmc", "en")


def stats(corpus) -> dict[str, object]:
    out: dict[str, object] = {}
    for split in ("train", "dev", "test"):
        sentences = list(getattr(corpus, split))
        out[split] = {
            "sentences": len(sentences),
            "tokens": sum(len(s) for s in sentences),
            "documents": sum(1 for s in sentences if s.to_tokenized_string().startswith("-DOCSTART-")),
            "labels": Counter(label.value for s in sentences for label in s.get_labels("ner")),
            "text": [s.to_tokenized_string() for s in sentences],
        }
    return out


def flair_reference(data_dir: Path, dataset: DatasetRef, tmp_path: Path):
    """Flair's NER_HIPE_2022 fed the same files, placed where its downloader would have put them."""
    from flair.datasets import NER_HIPE_2022

    original = tmp_path / "ner_hipe_2022" / "v2.1" / dataset.name / dataset.language / "original"
    original.mkdir(parents=True)
    for path in (data_dir / "data/v2.1" / dataset.name / dataset.language).glob("*.tsv"):
        shutil.copy(path, original / path.name)
    return NER_HIPE_2022(dataset.name, dataset.language, base_path=tmp_path, add_document_separator=True)


def test_sample_matches_flair_reader(sample_data: Path, tmp_path: Path) -> None:
    ours = load_dataset(AJMC_EN, sample_data, normalize_long_s=False)
    assert stats(ours) == stats(flair_reference(sample_data, AJMC_EN, tmp_path))


def test_long_s_is_replaced_in_tokens(sample_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    train = data / "data/v2.1/ajmc/en/HIPE-2022-v2.1-ajmc-train-en.tsv"
    train.write_text(train.read_text().replace("\nthe\t", "\nſuch\t", 1))
    corpus = load_dataset(AJMC_EN, data)
    tokens = [t.text for s in corpus.train for t in s]
    assert "such" in tokens
    assert not any("ſ" in t for t in tokens)


def test_several_datasets_train_on_their_union(sample_data: Path, tmp_path: Path) -> None:
    from hpsearch.demo import write_sample_hipe

    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    write_sample_hipe(data, DatasetRef("ajmc", "de"), seed=1)
    single = load_corpus([AJMC_EN], data)
    union = load_corpus([AJMC_EN, DatasetRef("ajmc", "de")], data)
    assert len(union.train) > len(single.train)
    assert set(label_dictionary(union).get_items()) >= set(label_dictionary(single).get_items())


def test_data_dir_checks(tmp_path: Path, sample_data: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        check_data_dir(tmp_path / "nope", [AJMC_EN])
    with pytest.raises(DataError, match=r"lacks data/v2\.1/ajmc/de/HIPE-2022-v2\.1-ajmc-train-de\.tsv"):
        check_data_dir(sample_data, [DatasetRef("ajmc", "de")])
    check_data_dir(sample_data, [AJMC_EN])


def test_malformed_line_names_file_and_line(sample_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    test_file = data / "data/v2.1/ajmc/en/HIPE-2022-v2.1-ajmc-test-en.tsv"
    lines = test_file.read_text().splitlines()
    lines[9] += "\textra"
    test_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"HIPE-2022-v2.1-ajmc-test-en.tsv:10: malformed line: 11 tab-separated"):
        load_dataset(AJMC_EN, data)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"the real AjMC data is not at {SHARED_DATA}")
def test_real_ajmc_matches_flair_loader(tmp_path: Path) -> None:
    check_data_dir(SHARED_DATA, [AJMC_EN])
    ours = stats(load_dataset(AJMC_EN, SHARED_DATA, normalize_long_s=False))
    assert ours == stats(flair_reference(SHARED_DATA, AJMC_EN, tmp_path))
    assert [ours[s]["sentences"] for s in ("train", "dev", "test")] == [1214, 266, 251]
    assert set(ours["train"]["labels"]) == {"scope", "pers", "work", "loc", "date", "object"}
