"""Batches of rows as tensors, and the tensor work every kind shares: padding, mixed precision,
classification steps and eval-mode logits. The kinds (``hscore.engine.kinds``) import this module
where a model runs."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .kinds.features import Features, StepOutputs


def as_targets(targets: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(targets, device=device)


def pad(seqs: list[list[int]], value: int, side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token sequences to the longest: (ids [B, L], attention mask [B, L])."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        span = slice(width - len(s), width) if side == "left" else slice(0, len(s))
        ids[row, span] = torch.tensor(s, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


def pad_batch(rows: Features, positions, tokenizer, device: torch.device, side: str | None = None) -> dict:
    """Model inputs of the rows at ``positions``, padded to their longest sequence.

    Multiple-choice rows (a list of sequences each) become [B, options, L] tensors."""
    side = side or tokenizer.padding_side
    seqs = [rows.input_ids[i] for i in positions]
    types = None if rows.token_type_ids is None else [rows.token_type_ids[i] for i in positions]
    nested = bool(seqs) and bool(seqs[0]) and isinstance(seqs[0][0], list)
    if nested:
        options = len(seqs[0])
        seqs = [s for row in seqs for s in row]
        types = None if types is None else [t for row in types for t in row]
    ids, mask = pad(seqs, tokenizer.pad_token_id, side)
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = pad(types, 0, side)[0]
    if nested:
        batch = {k: v.view(len(positions), options, -1) for k, v in batch.items()}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def autocast(device: torch.device, precision: str):
    """Mixed precision on a GPU (fp16 or bf16); the CPU always computes in fp32."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.float16 if precision == "fp16" else torch.bfloat16)


def by_length(rows: Features) -> np.ndarray:
    """Row positions sorted by length (stable): evaluation batches waste little padding."""
    return np.argsort(rows.lengths(), kind="stable")


def classify_step(logits: torch.Tensor, targets: torch.Tensor) -> StepOutputs:
    """Cross-entropy over the last axis; correct = argmax == target; gold_prob = softmax at the target."""
    logits = logits.float()
    loss = torch.nn.functional.cross_entropy(logits, targets)
    detached = logits.detach()
    gold = torch.softmax(detached, dim=-1).gather(1, targets[:, None])[:, 0]
    return StepOutputs(loss, detached.argmax(-1) == targets, gold, detached)


@torch.inference_mode()
def predict_logits(model, tokenizer, rows: Features, device: torch.device, precision: str,
                   batch_size: int = 128) -> np.ndarray:
    """Eval-mode logits of every row, in the order of ``rows`` (batched by length)."""
    model.to(device).eval()
    order = by_length(rows)
    out = None
    for start in range(0, len(rows), batch_size):
        positions = order[start:start + batch_size]
        with autocast(device, precision):
            logits = model(**pad_batch(rows, positions, tokenizer, device)).logits.float().cpu().numpy()
        if out is None:
            out = np.empty((len(rows), logits.shape[-1]), dtype=np.float32)
        out[positions] = logits
    return out


