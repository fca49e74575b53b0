"""Linear layers that skip the padding give what the padded model gives, with the same random numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hpsearch.training import packable, skip_padding

TEXTS = ["Hector sees Achilles", "the wrath of Peleus' son, which brought countless woes upon the Achaeans", "Troy"]


def load(path: Path, model_type: str | None = None) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """A saved tiny model, or one of ``model_type`` with random weights, and a padded batch for it."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))
    assert not bool(batch["attention_mask"].all()), "the batch must be padded"
    if model_type is None:
        config = AutoConfig.from_pretrained(path)
        return (T5EncoderModel if config.model_type == "t5" else AutoModel).from_pretrained(path), batch
    torch.manual_seed(0)
    if model_type == "t5-gated":  # T5 v1.1 and its successors: a gated GELU feed-forward
        saved_config = AutoConfig.from_pretrained(path)
        derived = ("is_gated_act", "dense_act_fn")  # T5Config derives these from feed_forward_proj
        config = {k: v for k, v in saved_config.to_dict().items() if k not in derived}
        model = T5EncoderModel(type(saved_config)(**config | {"feed_forward_proj": "gated-gelu"}))
        assert type(model.encoder.block[0].layer[1].DenseReluDense).__name__ == "T5DenseGatedActDense"
        return model, batch
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    extra = {"embedding_size": 16} if model_type == "electra" else {}  # ELECTRA projects its embeddings
    config = AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **sizes, **extra
    )
    return AutoModel.from_config(config), batch


def forward_backward(model: torch.nn.Module, batch: dict[str, torch.Tensor], pack: bool) -> tuple:
    """Hidden states of the real positions, every gradient, and the random state after, from a training step."""
    model.train()  # dropout on: it must draw the same numbers for the same shapes
    model.zero_grad()
    torch.manual_seed(7)
    with skip_padding(model) if pack else torch.enable_grad() as packed:
        hidden = model(**batch).last_hidden_state
    assert packed is True or not pack
    real = hidden[batch["attention_mask"].bool()]
    real.sin().sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return real.detach(), grads, torch.get_rng_state()


@pytest.mark.parametrize(
    ("saved", "model_type"),
    [
        ("tiny_bert", None),
        ("tiny_t5", None),
        ("tiny_t5", "t5-gated"),
        ("tiny_bert", "electra"),
        ("tiny_bert", "roberta"),
        ("tiny_bert", "xlm-roberta"),
    ],
)
def test_packed_model_gives_the_padded_models_outputs_and_gradients(
    saved: str, model_type: str | None, request: pytest.FixtureRequest
) -> None:
    model, batch = load(request.getfixturevalue(saved), model_type)
    assert packable(model)
    hidden, grads, rng = forward_backward(model, batch, pack=False)
    packed_hidden, packed_grads, packed_rng = forward_backward(model, batch, pack=True)
    assert torch.equal(rng, packed_rng)  # same dropout draws
    torch.testing.assert_close(packed_hidden, hidden, rtol=1e-5, atol=1e-5)
    assert packed_grads.keys() == grads.keys()
    for name, grad in grads.items():
        # A key bias gets no gradient in exact arithmetic (softmax ignores a constant added to a row):
        # both are rounding noise, so they are compared against the largest gradient of the model.
        scale = max(g.abs().max().item() for g in grads.values())
        torch.testing.assert_close(packed_grads[name], grad, rtol=1e-4, atol=1e-6 * scale, msg=name)


def test_linear_layers_compute_real_rows_only(tiny_bert: Path) -> None:
    model, batch = load(tiny_bert)
    real = batch["attention_mask"].reshape(-1).bool()
    rows_seen: list[int] = []
    original = torch.nn.functional.linear

    def counting_linear(x: torch.Tensor, *args: object) -> torch.Tensor:
        rows_seen.append(x.reshape(-1, x.shape[-1]).shape[0])
        return original(x, *args)

    linears = sum(isinstance(m, torch.nn.Linear) for m in model.encoder.modules())
    with pytest.MonkeyPatch.context() as mp, skip_padding(model):
        mp.setattr(torch.nn.functional, "linear", counting_linear)
        model(**batch)
    assert rows_seen.count(int(real.sum())) == linears  # every encoder layer: real rows only
    assert int(real.sum()) < real.numel()


def test_the_model_is_left_as_it_was(tiny_bert: Path) -> None:
    model, _ = load(tiny_bert)
    with skip_padding(model):
        pass
    assert not any("forward" in vars(m) for m in model.modules())
    assert not model._forward_pre_hooks and not model._forward_hooks


def test_a_batch_without_padding_runs_as_usual(tiny_bert: Path) -> None:
    model, batch = load(tiny_bert)
    model.eval()
    full = {k: v[:1, : int(batch["attention_mask"][0].sum())] for k, v in batch.items()}
    with torch.no_grad(), skip_padding(model):
        packed = model(**full).last_hidden_state
    with torch.no_grad():
        plain = model(**full).last_hidden_state
    assert torch.equal(packed, plain)


def test_convbert_is_not_packed() -> None:
    """ConvBERT's convolutions read neighbouring positions, padded ones too: packing would change it."""
    from transformers import ConvBertConfig, ConvBertModel

    model = ConvBertModel(ConvBertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2))
    assert not packable(model)
    with skip_padding(model) as packed:
        assert packed is False
        assert not any("forward" in vars(m) for m in model.modules())
