"""The word-embedding gradient accumulated in place, in one buffer kept for the whole run.

The backward pass of a word-embedding lookup builds a fresh dense gradient the size of the whole
vocabulary table (30,522 x 384 floats, 47 MB, for MiniLM) at every step, though only the batch's
few hundred tokens touch it. On a CPU the fresh allocation is the cost: the memory comes back from
the operating system page by page (15-30 ms a step here, against 2 ms to zero memory already
held, about 15% of a MiniLM training step). ``keep(embedding)`` makes the lookup's backward add
the batch's rows into one buffer that is zeroed and handed back as ``weight.grad`` whenever the
optimiser dropped it (``zero_grad(set_to_none=True)``); with gradient accumulation it adds to the
gradient already there. The gradient is the same sum, up to the order of float additions. GPUs
keep freed memory in PyTorch's caching allocator, so the training loop uses it on the CPU only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _Lookup(torch.autograd.Function):
    """``F.embedding`` whose backward adds into ``weight.grad`` itself and returns no gradient."""

    @staticmethod
    def forward(ctx, ids, weight, embedding):
        ctx.save_for_backward(ids)
        ctx.embedding = embedding
        return F.embedding(ids, weight, embedding.padding_idx)

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        embedding = ctx.embedding
        weight = embedding.weight
        if weight.grad is None:
            buffer = embedding._hscore_grad
            weight.grad = buffer.zero_() if buffer is not None else torch.zeros_like(weight)
            embedding._hscore_grad = weight.grad
        ids, grad = ids.reshape(-1), grad.reshape(-1, grad.shape[-1])
        if embedding.padding_idx is not None:  # as F.embedding: the padding row gets no gradient
            real = ids != embedding.padding_idx
            ids, grad = ids[real], grad[real]
        weight.grad.index_add_(0, ids, grad.to(weight.grad.dtype))
        return None, None, None


def _forward(self, ids):
    """The lookup of a kept embedding: ``_Lookup`` while a gradient is wanted, else the plain one."""
    if not (torch.is_grad_enabled() and self.weight.requires_grad):
        return F.embedding(ids, self.weight, self.padding_idx)
    return _Lookup.apply(ids, self.weight, self)


_KEPT: dict[type, type] = {}   # an embedding class -> its kept subclass, made once per class


def keep(embedding: torch.nn.Embedding) -> None:
    """Make ``embedding`` accumulate its weight's gradient in place (idempotent).

    The module's class becomes a subclass whose ``forward`` is ``_forward``; nothing refers back to
    the module from its own attributes (a closure set as ``embedding.forward`` would, and that
    reference cycle kept every finished run's embedding and gradient buffer alive until the cyclic
    garbage collector happened to run)."""
    cls = type(embedding)
    if cls in _KEPT.values():
        return
    if cls not in _KEPT:
        _KEPT[cls] = type(f"Kept{cls.__name__}", (cls,), {"forward": _forward, "__module__": __name__})
    embedding._hscore_grad = None
    embedding.__class__ = _KEPT[cls]
