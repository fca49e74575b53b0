"""Linear layers of a transformer that skip the padding of a batch.

A batch of sentences is padded to its longest one (on AjMC-en, half of a training batch of 8 is
padding), and every linear layer of the transformer computes its padded rows too. In the
architectures listed in ``PACKABLE_MODEL_TYPES`` positions meet only in attention, where padded
keys get a weight of exactly zero, so the padded rows change nothing that a real token sees: the
linear layers can compute the real rows only and leave zeros in the padded ones. Everything else
(dropout, attention, normalisation) still runs on the padded batch, so the same random numbers are
drawn for the same shapes as without this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PACKABLE_MODEL_TYPES = frozenset({"bert", "electra", "roberta", "xlm-roberta", "t5"})
"""Architectures whose positions meet only in masked attention. Not ConvBERT: its convolutions
run over neighbouring positions, padded ones included."""


class _Rows:
    """The flat indices of the current batch's real positions, while the model runs."""

    def __init__(self) -> None:
        self.index: torch.Tensor | None = None
        self.shape: tuple[int, ...] = ()
        """(batch, length) of the attention mask."""


def packable(model: Any) -> bool:
    """Whether ``model`` (a Hugging Face model) mixes positions only through masked attention."""
    return getattr(getattr(model, "config", None), "model_type", None) in PACKABLE_MODEL_TYPES


@contextmanager
def skip_padding(model: Any) -> Iterator[bool]:
    """Make the linear layers of ``model`` compute the real rows of each batch only; yields whether it could.

    The model must be called with an ``attention_mask`` (Flair passes one); a batch without
    padding, or a linear layer fed anything but the ``(batch, length, features)`` hidden states,
    runs as usual.
    """
    import torch

    if not packable(model):
        yield False
        return
    rows = _Rows()

    def find_rows(module: Any, args: tuple, kwargs: dict) -> None:
        mask = kwargs.get("attention_mask")
        rows.index = None
        if mask is not None and mask.dim() == 2 and not bool(mask.all()):
            rows.index = mask.reshape(-1).nonzero().squeeze(1)
            rows.shape = tuple(mask.shape)

    def forget_rows(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        rows.index = None

    # Plain linear layers only: a subclass or an already wrapped forward may compute something else.
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear and "forward" not in vars(m)]
    handles = [
        model.register_forward_pre_hook(find_rows, with_kwargs=True),
        model.register_forward_hook(forget_rows, with_kwargs=True, always_call=True),
    ]
    for linear in linears:
        linear.forward = _packed_forward(linear, rows)
    try:
        yield True
    finally:
        for handle in handles:
            handle.remove()
        for linear in linears:
            del linear.forward


def _packed_forward(linear: torch.nn.Linear, rows: _Rows) -> Any:
    import torch.nn.functional as F  # noqa: N812

    def forward(x: torch.Tensor) -> torch.Tensor:
        index = rows.index
        if index is None or x.dim() != 3 or tuple(x.shape[:2]) != rows.shape:
            return F.linear(x, linear.weight, linear.bias)
        flat = x.reshape(-1, x.shape[-1])
        packed = F.linear(flat.index_select(0, index), linear.weight, linear.bias)
        out = packed.new_zeros(flat.shape[0], packed.shape[1]).index_copy(0, index, packed)
        return out.view(x.shape[0], x.shape[1], -1)

    return forward
