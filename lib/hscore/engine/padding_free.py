"""Padding-free training: the encoder layers compute on a batch's real tokens only.

A batch of rows of unequal length is padded to its longest row, and a padded forward spends its
matrix products on the padding too (about 40% of the tokens of a Rotten Tomatoes batch of 8 in the
fixed order of the method, which rules out sorting by length). ``enable(model)`` makes a BERT-style
encoder (``bert``, ``roberta``, ``xlm-roberta``, ``electra``) skip them, with two public extension
points of transformers and no model code of our own:

- forward hooks on the encoder: before it, the padded hidden states ``[B, L, H]`` (the embeddings,
  computed padded as before) are packed into one row of their ``T`` real tokens ``[1, T, H]``;
  after it, the result is scattered back to ``[B, L, H]`` with zeros at the padding, so the pooler
  and the task head run unchanged;
- an attention function registered with ``transformers.AttentionInterface``: attention is the one
  operation that must see the rows apart, so it scatters the packed queries, keys and values back
  to ``[B, heads, L, d]``, runs ``scaled_dot_product_attention`` with the padding mask, and packs
  the result again. Attention costs what it cost padded; every linear layer, layer norm,
  activation and dropout of the encoder costs ``T`` rows instead of ``B x L``.

Same numbers up to float rounding in eval mode: a real token's hidden state does not depend on
the padding (tests check it for every task kind). What changes is the padding's own hidden state
(zero here, the pad token's context in a padded forward), which only the extractive-QA head reads
(a start or end logit at a position past the window, equal to the head's bias here); and, in
training, dropout's random stream, which draws masks for ``T`` rows instead of ``B x L``: runs are
as random as before, not the same draws (``benchmarks/README.md`` compares the H-scores with
those of the padded loop). Models of other architectures (OPT, a decoder) run padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ATTENTION = "hscore_padding_free"
SUPPORTED = ("bert", "roberta", "xlm-roberta", "electra")


@dataclass
class Packing:
    """Where a batch's real tokens are: ``index`` into the flattened ``[B x L]`` positions."""

    index: torch.Tensor   # [T] long
    key_mask: torch.Tensor  # [B, 1, 1, L] bool, True at real tokens
    batch: int
    length: int

    @classmethod
    def of(cls, attention_mask: torch.Tensor) -> Packing:
        mask = attention_mask.reshape(-1, attention_mask.shape[-1]).bool()
        return cls(mask.flatten().nonzero().squeeze(1), mask[:, None, None, :], *mask.shape)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L, ...] -> [T, ...]"""
        return x.reshape(self.batch * self.length, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """[T, ...] -> [B, L, ...], zeros at the padding."""
        out = x.new_zeros(self.batch * self.length, *x.shape[1:]).index_copy(0, self.index, x)
        return out.view(self.batch, self.length, *x.shape[1:])


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
              is_causal: bool | None = None, hscore_packing: Packing | None = None, **kwargs):
    """Scaled dot-product attention for packed rows (``[1, heads, T, d]``), each row attending to
    itself only; without packing (a batch without padding), plain ``sdpa``."""
    if hscore_packing is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    p = hscore_packing
    q, k, v = (p.unpack(t[0].transpose(0, 1)).transpose(1, 2) for t in (query, key, value))  # [B, heads, L, d]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=p.key_mask, dropout_p=dropout, scale=scaling)
    return p.pack(out.transpose(1, 2)).unsqueeze(0), None  # [1, T, heads, d]


AttentionInterface.register(ATTENTION, attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def supported(model) -> bool:
    """Whether ``enable`` can make this model padding-free."""
    base = getattr(model, "base_model", None)
    return (getattr(model.config, "model_type", None) in SUPPORTED and base is not None
            and hasattr(base, "encoder") and not model.config.is_decoder)


def enable(model) -> bool:
    """Make ``model`` padding-free in place (for training and evaluation alike); False, and the
    model unchanged, when its architecture is not one of ``SUPPORTED``. Idempotent."""
    if getattr(model, "_hscore_padding_free", False):
        return True
    if not supported(model):
        return False
    base = model.base_model
    state: dict = {}

    def remember_mask(module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if mask is None and len(args) > 1:
            mask = args[1]
        state["mask"] = mask

    def pack(module, args, kwargs):
        mask = state.pop("mask", None)
        hidden = args[0] if args else kwargs.pop("hidden_states")
        if mask is None or bool(mask.all()):
            state["packing"] = None
            return (hidden, *args[1:]), kwargs
        packing = Packing.of(mask)
        state["packing"] = packing
        kwargs.update(attention_mask=None, hscore_packing=packing)
        return (packing.pack(hidden).unsqueeze(0),), kwargs

    def unpack(module, args, kwargs, output):
        packing = state.pop("packing", None)
        if packing is not None:
            output.last_hidden_state = packing.unpack(output.last_hidden_state[0])
        return output

    base.register_forward_pre_hook(remember_mask, with_kwargs=True)
    base.encoder.register_forward_pre_hook(pack, with_kwargs=True)
    base.encoder.register_forward_hook(unpack, with_kwargs=True)
    model.set_attn_implementation(ATTENTION)
    model._hscore_padding_free = True
    return True
