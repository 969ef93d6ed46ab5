"""The fine-tuning loop, plain and explicit, recording training dynamics at no extra forward pass.

It knows no task kind: a kind (``hscore.engine.kinds``) batches the rows, computes a step's loss and
says, per row, whether the step's prediction was right. As in the official code, the rows are
visited in one fixed order, the same in every epoch (``training_order``); the optimiser is AdamW
with linear warmup and linear decay to zero, the gradient norm clipped at ``max_grad_norm``
(the Hugging Face Trainer's defaults: no warmup, no weight decay, clipping at 1.0). With gradient
accumulation every micro-batch is a forward pass whose outputs are recorded, and the optimiser
steps after every ``grad_accum``-th micro-batch, ``(step + 1) % grad_accum == 0``, and after the
last micro-batch of an epoch. On a CPU the word-embedding gradient is kept in one buffer
(``embedding_grad``); a padding-free model (``padding_free``) trains here unchanged. The logits a
training step computes anyway (train mode, dropout on, before that step's update) give, for each
row of the batch, whether it was right and the probability of its target: that is the whole
recording. At the end of every run, however short, the trained model's loss on its first batch and
its weights are checked (``LossWatch.check_end``): a learning rate that wrecks a model in a run of
one step is caught too. With ``eval_pass`` set, one more thing is recorded: at the end of that epoch,
an eval-mode pass (dropout off, no gradient, no update) over every training row, whose logits EL2N
ranks by as its authors compute it; it draws no random numbers and changes no weight, so the run's
training is the same with or without it.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from ..config import PhaseConfig
from ..dynamics import RunDynamics
from ..errors import DivergenceError, NonFiniteLossError
from . import embedding_grad
from .batches import autocast, predict_logits
from .kinds import Features, TaskKind

CHECK_EVERY = 25  # micro-batches between host-device synchronisations (loss checks, progress-bar loss)
DIVERGED = 10.0   # a window's mean loss above max(10 x, 10 +) the first step's loss: the run diverged


def training_order(n: int, seed: int) -> np.ndarray:
    """The fixed row order of a run: a seeded permutation, as in the official code."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()


def subset_order(n_full: int, positions: np.ndarray, seed: int) -> np.ndarray:
    """The order of a phase-2 run on a subset, as the official ``phase2.sh``: the full training set's
    permutation of ``seed`` filtered to the subset. Returned as positions into ``positions``."""
    positions = np.asarray(positions)
    where = np.full(n_full, -1, dtype=np.int64)
    where[positions] = np.arange(len(positions))
    mapped = where[training_order(n_full, seed)]
    return mapped[mapped >= 0]


def schedule_steps(hp: PhaseConfig, micro_batches_per_epoch: int) -> tuple[int, int]:
    """(warmup, total) optimizer updates: the hard-coded pair when given, else from the run itself."""
    if hp.fixed_schedule is not None:
        return hp.fixed_schedule
    total = math.ceil(micro_batches_per_epoch / hp.grad_accum) * hp.epochs
    return int(math.ceil(hp.warmup_ratio * total)), total


def diverged(loss: float, first: float) -> bool:
    """A loss far above the first step's: ``DIVERGED`` times it, and ``DIVERGED`` more (a loss near ln C
    that merely stalls is not divergence)."""
    return loss > max(DIVERGED * first, first + DIVERGED)


class LossWatch:
    """Catches a run going wrong, with one host-device sync per check, not per step.

    A NaN or infinite loss stops the run; so does divergence, which no NaN check sees (with lr 1e3
    the loss stays finite at 1e4-1e5): the mean loss of the steps since the last check far above
    the first step's loss (``DIVERGED``). Training that merely stalls (loss near ln C) is not
    divergence. The advice names the setting to change and fits the device and precision."""

    def __init__(self, device: torch.device, precision: str, hp: PhaseConfig, desc: str):
        self.device, self.precision, self.hp, self.desc = device, precision, hp, desc
        self.first = None
        self.window = torch.zeros((), dtype=torch.float32, device=device)
        self.bad = torch.zeros((), dtype=torch.bool, device=device)
        self.count = 0

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        if self.first is None:
            self.first = loss.clone()
        self.window += loss
        self.bad |= ~torch.isfinite(loss)
        self.count += 1

    def advice(self) -> str:
        advice = f"Lower the learning rate (phase1.lr / phase2.lr in study.yaml; {self.hp.lr:g} here)"
        if self.hp.max_grad_norm == 0:
            advice += ", or clip the gradient norm (max_grad_norm: 1.0)"
        if self.device.type == "cuda" and self.precision == "fp16":
            advice += ", or train in bf16 or fp32 (precision)"
        return advice

    def check(self, epoch: int) -> float:
        """Raise if the run went wrong since the last check; return the window's mean loss."""
        bad, total, first = torch.stack([self.bad.float(), self.window, self.first]).tolist()
        mean = total / max(self.count, 1)
        self.window.zero_()
        self.count = 0
        advice = self.advice()
        if bad:
            raise NonFiniteLossError(f"{self.desc}: the training loss became NaN or infinite in epoch {epoch}. "
                                     f"{advice}; finished steps are kept.")
        if diverged(mean, first):
            raise DivergenceError(f"{self.desc}: the run diverged in epoch {epoch}: mean training loss {mean:.3g} "
                                  f"over the last steps against {first:.3g} at the first step. {advice}; "
                                  "finished steps are kept.")
        return mean

    def check_end(self, model, loss: float, start_norm: float) -> None:
        """After the last update: the weights finite and not grown ``DIVERGED`` times over (fine-tuning
        moves them by a few percent; lr 1e3 by orders of magnitude in one update), and the loss the
        trained model gives the run's first batch (eval mode) not far above the first step's. A run of
        a few steps is too short for the checks during training to see a learning rate that wrecked
        the model, and its loss can even look fine when a subset holds one class."""
        first = float(self.first)
        norm = weight_norm(model)
        if not math.isfinite(norm) or not math.isfinite(loss):
            raise NonFiniteLossError(f"{self.desc}: the model's weights or loss became NaN or infinite by the end of "
                                     f"training. {self.advice()}; finished steps are kept.")
        if norm > DIVERGED * start_norm:
            raise DivergenceError(f"{self.desc}: the run diverged: its weights' norm grew from {start_norm:.3g} to "
                                  f"{norm:.3g} in training. {self.advice()}; finished steps are kept.")
        if diverged(loss, first):
            raise DivergenceError(f"{self.desc}: the run diverged: after training, the loss on its first batch is "
                                  f"{loss:.3g} against {first:.3g} at the first step. {self.advice()}; finished "
                                  "steps are kept.")


def weight_norm(model) -> float:
    """The L2 norm of all the model's weights (one host-device sync)."""
    with torch.no_grad():
        return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.detach().float())
                                                           for p in model.parameters()])))


def fine_tune(model, kind: TaskKind, tokenizer, train: Features, hp: PhaseConfig, *, seed: int, order: np.ndarray,
              device: torch.device, precision: str = "fp32", record: bool = True, num_logits: int = 0,
              desc: str = "fine-tuning", bar_position: int | None = None, eval_pass: int | None = None,
              updates: int | None = None):
    """Fine-tune ``model`` in place on ``train``, visiting its rows in ``order`` every epoch; return
    the run's ``RunDynamics`` (or None when not recording). ``bar_position``: the terminal line of
    the run's progress bar (each worker process has its own). ``eval_pass``: the epoch (1-based) at
    whose end the eval-mode logits of every training row are recorded (``eval_logits``; recording
    runs with logits only). ``updates``: train for exactly this many optimizer updates, the schedule
    spread over them, as many epochs as they take (the last one cut short), instead of ``hp.epochs``
    (the ``equal_steps`` arm: a subset trained for as many updates as the full set)."""
    torch.manual_seed(seed)  # dropout
    n = len(train)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of the training rows")
    micro = math.ceil(n / hp.batch_size)
    model.to(device).train()
    if device.type == "cpu":
        embedding_grad.keep(model.get_input_embeddings())

    optimizer = torch.optim.AdamW(model.parameters(), lr=hp.lr, betas=tuple(hp.adam_betas), eps=hp.adam_eps,
                                  weight_decay=hp.weight_decay, fused=True)
    warmup, total = schedule_steps(hp, micro)
    epochs = hp.epochs
    if updates is not None:
        if hp.fixed_schedule is not None or updates < 1:
            raise ValueError("updates needs a positive count and no fixed_schedule")
        per_epoch = math.ceil(micro / hp.grad_accum)
        warmup, total, epochs = int(math.ceil(hp.warmup_ratio * updates)), updates, math.ceil(updates / per_epoch)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and precision == "fp16")
    done = 0   # optimizer updates so far
    correct_seen = torch.zeros((epochs, n if record else 0), dtype=torch.bool, device=device)
    prob_seen = torch.zeros((epochs, n if record else 0), dtype=torch.float32, device=device)
    logits_seen = torch.zeros((epochs, n if record else 0, num_logits), dtype=torch.float32, device=device)
    watch = LossWatch(device, precision, hp, desc)
    start_norm = weight_norm(model)
    eval_logits = np.zeros((n, 0), dtype=np.float32)

    steps = micro * epochs if updates is None else min(micro * epochs, total * hp.grad_accum)  # micro-batches
    bar = tqdm(total=steps, desc=desc, unit="step", mininterval=2.0, position=bar_position,
               leave=bar_position is None)
    for epoch in range(epochs):
        for step in range(micro):
            if done == total and updates is not None:   # the last epoch of an ``updates`` run, cut short
                break
            positions = order[step * hp.batch_size:(step + 1) * hp.batch_size]
            inputs, targets = kind.collate(train, positions, tokenizer, device)

            # Forward pass in train mode; its outputs are what we record.
            with autocast(device, precision):
                outputs = model(**inputs)
            out = kind.step(outputs, targets)
            if record:
                index = torch.as_tensor(positions, device=device)
                correct_seen[epoch, index] = out.correct
                prob_seen[epoch, index] = out.gold_prob.float()
                if num_logits:
                    logits_seen[epoch, index] = out.logits.float()

            # Backward pass; an update every grad_accum micro-batches and at the end of the epoch.
            scaler.scale(out.loss / hp.grad_accum).backward()
            if (step + 1) % hp.grad_accum == 0 or step + 1 == micro:
                if hp.max_grad_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                done += 1

            watch.add(out.loss)
            bar.update(1)
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == micro:
                try:
                    mean = watch.check(epoch + 1)
                except (NonFiniteLossError, DivergenceError):
                    bar.close()
                    raise
                bar.set_postfix(epoch=epoch + 1, loss=f"{mean:.3f}", refresh=False)
        if record and num_logits and eval_pass == epoch + 1:   # EL2N's checkpoint: the whole set, eval mode
            eval_logits = predict_logits(model, tokenizer, train, device, precision)
            model.train()
    bar.close()
    if n:
        watch.check_end(model, end_loss(model, kind, tokenizer, train, order[:hp.batch_size], device, precision),
                        start_norm)
    if not record:
        return None
    return RunDynamics(example_id=train.example_id, feature=train.feature, label=train.labels, target=train.targets,
                       order=np.asarray(order), correct=correct_seen.cpu().numpy(),
                       gold_prob=prob_seen.cpu().numpy(), logits=logits_seen.cpu().numpy(), eval_logits=eval_logits)


def end_loss(model, kind: TaskKind, tokenizer, train: Features, positions: np.ndarray, device: torch.device,
             precision: str) -> float:
    """The loss of the trained model (eval mode, no gradient) on the rows at ``positions``; the model
    is back in train mode after."""
    model.eval()
    try:
        with torch.no_grad():
            inputs, targets = kind.collate(train, positions, tokenizer, device)
            with autocast(device, precision):
                outputs = model(**inputs)
            return float(kind.step(outputs, targets).loss)
    finally:
        model.train()


class Timer:
    """Wall time of a block, in seconds."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
