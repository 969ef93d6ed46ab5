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


def keep(embedding: torch.nn.Embedding) -> None:
    """Make ``embedding`` accumulate its weight's gradient in place (idempotent)."""
    if getattr(embedding, "_hscore_grad", False) is not False:
        return
    embedding._hscore_grad = None

    def forward(ids):
        if not (torch.is_grad_enabled() and embedding.weight.requires_grad):
            return F.embedding(ids, embedding.weight, embedding.padding_idx)
        return _Lookup.apply(ids, embedding.weight, embedding)

    embedding.forward = forward
