"""Tiny encoders with random weights and tokenizers trained on the spot, for the demo and the tests.

They load through the same code path as the real zoo models: a BERT-style WordPiece model and a
T5 encoder with a sentencepiece ``spiece.model``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(path: Path, texts: Sequence[str], *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A 2-layer BERT with a WordPiece vocabulary trained on ``texts``; saved to ``path``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=False)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def build_tiny_t5(path: Path, texts: Sequence[str], *, d_model: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A 2-layer T5 encoder with a sentencepiece ``spiece.model`` trained on ``texts``."""
    import sentencepiece as spm
    import torch
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(path / "spiece"),
            vocab_size=200,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            character_coverage=1.0,
            hard_vocab_limit=False,
            minloglevel=2,
        )
    (path / "spiece.vocab").unlink(missing_ok=True)
    tokenizer = T5Tokenizer(vocab_file=str(path / "spiece.model"), extra_ids=0, legacy=True)
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=d_model,
        d_kv=16,
        d_ff=d_model * 2,
        num_layers=layers,
        num_heads=2,
        decoder_start_token_id=0,
    )
    T5EncoderModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
