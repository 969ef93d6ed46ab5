"""The fine-tuning loop, plain and explicit, recording training dynamics at no extra forward pass.

As in the official code, the examples are visited in one seeded permutation
(``torch.randperm(N, generator=Generator().manual_seed(seed))``), the same in every epoch; the
optimiser is AdamW with a linear decay to zero, no warmup and no weight decay (the Hugging Face
Trainer's defaults). The logits that a training step computes anyway (train mode, dropout on,
before that step's update) give, for each example of the batch, whether it was classified
correctly and the probability of its gold label: that is the whole recording.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from .dynamics import RunDynamics
from .errors import NonFiniteLossError
from .tasks import Split

CHECK_EVERY = 25  # steps between host-device synchronisations (NaN check, progress-bar loss)


@dataclass(frozen=True)
class Encoded:
    """A tokenized split: token ids per example (unpadded), gold labels and example ids."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, positions) -> "Encoded":
        """The examples at these positions, in this order."""
        positions = np.asarray(positions, dtype=np.int64)
        return Encoded([self.input_ids[i] for i in positions],
                       None if self.token_type_ids is None else [self.token_type_ids[i] for i in positions],
                       self.labels[positions], self.ids[positions])


def encode(split: Split, tokenizer, max_length: int) -> Encoded:
    """Tokenize a split once, truncating to ``max_length``; padding happens per batch."""
    args = (split.text_a,) if split.text_b is None else (split.text_a, split.text_b)
    enc = tokenizer(*args, truncation=True, max_length=max_length)
    return Encoded(enc["input_ids"], enc.get("token_type_ids"), split.labels, split.ids)


def collate(data: Encoded, positions, pad_id: int, padding_side: str, device: torch.device) -> dict:
    """Pad the examples at ``positions`` to the longest of them: input_ids, attention_mask (, token_type_ids)."""
    seqs = [data.input_ids[i] for i in positions]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    types = None if data.token_type_ids is None else torch.zeros((len(seqs), width), dtype=torch.long)
    for row, (i, s) in enumerate(zip(positions, seqs)):
        span = slice(width - len(s), width) if padding_side == "left" else slice(0, len(s))
        ids[row, span] = torch.tensor(s)
        mask[row, span] = 1
        if types is not None:
            types[row, span] = torch.tensor(data.token_type_ids[i])
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = types
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _autocast(device: torch.device, precision: str):
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.float16 if precision == "fp16" else torch.bfloat16)


def training_order(n: int, seed: int) -> np.ndarray:
    """The fixed example order of a run: a seeded permutation, as in the official code."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()


def fine_tune(model, tokenizer, train: Encoded, *, epochs: int, lr: float, batch_size: int, seed: int,
              device: torch.device, precision: str = "fp32", record: bool = True, desc: str = "fine-tuning"):
    """Fine-tune ``model`` in place; return the run's ``RunDynamics`` (or None when not recording)."""
    torch.manual_seed(seed)  # dropout
    n = len(train)
    order = training_order(n, seed)
    steps_per_epoch = math.ceil(n / batch_size)
    model.to(device).train()

    # Trainer defaults: AdamW(betas=(0.9, 0.999), eps=1e-8), weight decay 0, linear decay, no warmup.
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=device.type == "cuda")
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps_per_epoch * epochs)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and precision == "fp16")

    labels = torch.as_tensor(train.labels, device=device)
    logits_seen = torch.zeros((epochs, n if record else 0, model.config.num_labels), dtype=torch.float32, device=device)
    bad_loss = torch.zeros((), dtype=torch.bool, device=device)

    bar = tqdm(total=steps_per_epoch * epochs, desc=desc, unit="step", mininterval=2.0)
    for epoch in range(epochs):
        for step in range(steps_per_epoch):
            positions = order[step * batch_size:(step + 1) * batch_size]
            batch = collate(train, positions, tokenizer.pad_token_id, tokenizer.padding_side, device)
            index = torch.as_tensor(positions, device=device)

            # Forward pass in train mode; its logits are what we record.
            with _autocast(device, precision):
                logits = model(**batch).logits
            loss = F.cross_entropy(logits.float(), labels[index])
            if record:
                logits_seen[epoch, index] = logits.detach().float()

            # Backward pass and update.
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            bad_loss |= ~torch.isfinite(loss.detach())
            bar.update(1)
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps_per_epoch:
                if bad_loss.item():
                    bar.close()
                    raise NonFiniteLossError(
                        f"{desc}: the training loss became NaN or infinite in epoch {epoch + 1}. Lower the "
                        "learning rate, or use precision bf16/fp32 in study.yaml; finished steps are kept.")
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    if not record:
        return None
    logits_np = logits_seen.cpu().numpy()
    probs = torch.softmax(torch.from_numpy(logits_np), dim=-1).numpy()
    gold = train.labels
    return RunDynamics(
        example_id=train.ids, label=gold, order=order,
        correct=logits_np.argmax(-1) == gold[None, :],
        gold_prob=np.take_along_axis(probs, gold[None, :, None], axis=-1)[..., 0].astype(np.float32),
        logits=logits_np,
    )


@torch.inference_mode()
def predict(model, tokenizer, data: Encoded, device: torch.device, batch_size: int = 128,
            precision: str = "fp32") -> np.ndarray:
    """Argmax predictions in eval mode, in the order of ``data`` (batched by length for speed)."""
    model.to(device).eval()
    by_length = np.argsort([len(s) for s in data.input_ids], kind="stable")
    out = np.empty(len(data), dtype=np.int64)
    for start in range(0, len(data), batch_size):
        positions = by_length[start:start + batch_size]
        batch = collate(data, positions, tokenizer.pad_token_id, tokenizer.padding_side, device)
        with _autocast(device, precision):
            out[positions] = model(**batch).logits.argmax(-1).cpu().numpy()
    return out


def evaluate(model, tokenizer, splits: dict[str, Encoded], metric, device: torch.device,
             precision: str = "fp32") -> dict[str, float]:
    """The task metric (a percentage) on each evaluation split."""
    return {name: metric(predict(model, tokenizer, data, device, precision=precision), data.labels)
            for name, data in splits.items()}


class Timer:
    """Wall time of a block, in seconds."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
