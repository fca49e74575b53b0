"""The baseline: the published recipe's training loop as a plain Flair script (no hpsearch).

Usage: python benchmarks/_recipe_plain.py MODEL DATA_DIR OUT_DIR LR BATCH_SIZE EPOCHS SEED [SEED ...]
It stages DATA_DIR's AjMC-en files where Flair's downloader would have put them, as a lab
without network would, and otherwise follows the recipe line by line.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import flair
import torch
from flair import set_seed
from flair.data import MultiCorpus
from flair.datasets import NER_HIPE_2022
from flair.embeddings import TransformerWordEmbeddings
from flair.models import SequenceTagger
from flair.trainers import ModelTrainer


def prepare_ajmc_corpus(file_in, file_out, eos_marker, document_separator, add_document_separator):
    NER_HIPE_2022._prepare_corpus(file_in, file_out, eos_marker, document_separator, add_document_separator)
    lines = Path(file_out).read_text(encoding="utf-8").split("\n")
    out = []
    for line in lines:
        token, sep, rest = line.partition("\t")
        out.append(token.replace("ſ", "s") + sep + rest)
    Path(file_out).write_text("\n".join(out), encoding="utf-8")


def load_corpora(base_path):
    corpus_list = [
        NER_HIPE_2022(
            dataset_name="ajmc",
            language="en",
            add_document_separator=True,
            base_path=base_path,
            preproc_fn=prepare_ajmc_corpus,
        )
    ]
    return MultiCorpus(corpora=corpus_list, sample_missing_splits=False)


def run_experiment(seed, batch_size, epoch, learning_rate, hf_model, base_path, out_dir):
    set_seed(seed)
    corpora = load_corpora(base_path)
    label_dictionary = corpora.make_label_dictionary(label_type="ner")
    embeddings = TransformerWordEmbeddings(
        model=hf_model, layers="-1", subtoken_pooling="first", fine_tune=True, use_context=False
    )
    tagger = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=label_dictionary,
        tag_type="ner",
        use_crf=False,
        use_rnn=False,
        reproject_embeddings=False,
    )
    trainer = ModelTrainer(tagger, corpora)
    return trainer.fine_tune(
        f"{out_dir}/hipe2022-flert-fine-tune-ajmc/en-model-bs{batch_size}-wsFalse-e{epoch}-lr{learning_rate}-layers-1-crfFalse-{seed}",
        learning_rate=learning_rate,
        mini_batch_size=batch_size,
        max_epochs=epoch,
        shuffle=True,
        embeddings_storage_mode="none",
        weight_decay=0.0,
        use_final_model_for_eval=False,
    )


def stage_ajmc_en(data_dir: Path, base: Path) -> None:
    """Put a HIPE-2022-data copy's AjMC-en files where Flair's downloader would have put them under ``base``."""
    original = base / "ner_hipe_2022" / "v2.1" / "ajmc" / "en" / "original"
    original.mkdir(parents=True)
    for path in (data_dir / "data" / "v2.1" / "ajmc" / "en").glob("*.tsv"):
        shutil.copy(path, original / path.name)


def main() -> None:
    model, data_dir, out_dir, lr, bs, epochs, *seeds = sys.argv[1:]
    flair.device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as base:
        stage_ajmc_en(Path(data_dir), Path(base))
        for seed in seeds:
            # The recipe's folder cache: every seed after the first finds the preprocessed files.
            started = time.perf_counter()
            run_experiment(int(seed), int(bs), int(epochs), float(lr), model, base, out_dir)
            print(f"plain seed {seed}: {time.perf_counter() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
