"""``engine: trainer``: a study run fine-tuned by the Hugging Face ``Trainer``, recorded by hscore's recorder.

``fine_tune_trainer`` takes what ``hscore.engine.train.fine_tune`` takes and returns what it returns (the
run's ``RunDynamics``, or None when not recording), so the study chooses the engine in one place
(``hscore.study.steps``) and everything downstream is unchanged. It keeps the built-in loop's procedure:

- **order**: the rows are visited in ``order`` (``training_order`` / ``subset_order``), the same
  permutation every epoch: the Trainer's DataLoader gets a sampler that yields it, and a generator of
  its own, so that iterating it draws nothing from torch's global random stream;
- **batches and loss**: the kind batches the rows (``TaskKind.collate``, the loop's padding; a
  padding-free model stays padding-free) and computes the loss (``TaskKind.step``); the loss of every
  micro-batch is divided by ``grad_accum``, as the loop divides it (``loss_is_scaled_for_ga``);
- **optimiser and schedule**: the loop's AdamW (fused) and linear warmup and decay
  (``schedule_steps``: the run's own update count, or ``fixed_schedule``), handed to the Trainer through
  its ``optimizers`` argument; ``max_grad_norm`` is the Trainer's own clipping (the same
  ``clip_grad_norm_``); an update after every ``grad_accum``-th micro-batch and after the last of an epoch;
- **seeds**: the model arrives initialised with ``seed`` (``PairData.fresh_model``); torch's generator
  is seeded with ``seed`` when training begins, as the loop seeds it, so dropout draws the same masks;
- **recording**: ``hscore.engine.recorder`` on the train-step outputs (the kind's rules, fp32, device
  buffers synchronised once per epoch); **checks**: the loop's ``LossWatch`` (NaN, divergence, the end).

On a CPU the word-embedding gradient is kept in one buffer as in the loop (``embedding_grad``).
Evaluation stays the study's (``TaskKind.evaluate_examples`` after training). One process, one device
(never DataParallel over several GPUs: the batch would change); mixed precision on a GPU as
``precision`` says (the Trainer's ``fp16``/``bf16``), fp32 on a CPU. With fp16, an update the loss
scaler skips does not advance the Trainer's schedule, whereas the loop's schedule advances anyway.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile

import numpy as np
import torch
import transformers
from tqdm import tqdm
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, get_linear_schedule_with_warmup

from ..config import PhaseConfig
from ..dynamics import RunDynamics
from . import embedding_grad
from .batches import predict_logits
from .kinds import Features, TaskKind
from .recorder import DynamicsRecorder, RecorderError, RecorderMixin, Rows
from .train import CHECK_EVERY, LossWatch, end_loss, schedule_steps, weight_norm

TARGETS = "__hscore_targets__"   # the batch key of the kind's targets (the model never sees it)


class _Rows(torch.utils.data.Dataset):
    """Row ``i`` of the tokenized training rows is ``{"row": i}``: the collator batches the rows themselves."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"row": int(i)}


class _FixedOrder(torch.utils.data.Sampler):
    """The same permutation every epoch."""

    def __init__(self, order: np.ndarray):
        self.order = [int(i) for i in order]

    def __iter__(self):
        return iter(self.order)

    def __len__(self):
        return len(self.order)


class _Collate:
    """The kind's batch of the rows (on the CPU: the Trainer moves it to the device) and their targets."""

    def __init__(self, kind: TaskKind, rows: Features, tokenizer):
        self.kind, self.rows, self.tokenizer = kind, rows, tokenizer

    def __call__(self, items):
        positions = np.array([item["row"] for item in items], dtype=np.int64)
        inputs, targets = self.kind.collate(self.rows, positions, self.tokenizer, torch.device("cpu"))
        return {**inputs, TARGETS: targets}


class StudyTrainer(Trainer):
    """The ``Trainer`` as the study runs it: the fixed order, the kind's loss, the loop's loss checks."""

    def __init__(self, *args, kind: TaskKind, order: np.ndarray, watch: LossWatch, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind, self.order, self.watch = kind, order, watch
        self.loss_is_scaled_for_ga = True   # compute_loss divides by grad_accum itself, as the loop does

    def get_train_dataloader(self):
        loader = torch.utils.data.DataLoader(
            self.train_dataset, batch_size=self.args.train_batch_size, sampler=_FixedOrder(self.order),
            collate_fn=self.data_collator, num_workers=0, generator=torch.Generator().manual_seed(0))
        return self.accelerator.prepare(loader)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop(TARGETS)
        outputs = model(**inputs)
        loss = self.kind.step(outputs, targets).loss
        self.watch.add(loss)
        loss = loss / self.args.gradient_accumulation_steps
        return (loss, outputs) if return_outputs else loss


class RecordingStudyTrainer(RecorderMixin, StudyTrainer):
    """The study's Trainer with the recorder (``hscore.engine.recorder``)."""


class _Progress(TrainerCallback):
    """The loop's progress bar and loss checks, per micro-batch (``on_substep_end``, ``on_step_end``)."""

    def __init__(self, watch: LossWatch, bar, micro: int, seed: int):
        self.watch, self.bar, self.micro, self.seed = watch, bar, micro, seed
        self.epoch, self.step = 0, 0

    def on_train_begin(self, args, state, control, **kwargs):
        torch.manual_seed(self.seed)   # dropout, as the loop seeds it

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch += 1
        self.step = 0

    def _micro_batch(self):
        self.step += 1
        self.bar.update(1)
        if self.step % CHECK_EVERY == 0 or self.step == self.micro:
            mean = self.watch.check(self.epoch)
            self.bar.set_postfix(epoch=self.epoch, loss=f"{mean:.3f}", refresh=False)

    def on_substep_end(self, args, state, control, **kwargs):
        self._micro_batch()

    def on_step_end(self, args, state, control, **kwargs):
        self._micro_batch()


class _EvalPass(TrainerCallback):
    """EL2N's checkpoint, as the loop records it: at the end of epoch ``epoch`` (1-based), the eval-mode
    logits of every training row (``hscore.engine.train.fine_tune``'s ``eval_pass``)."""

    def __init__(self, epoch: int, model, tokenizer, train: Features, device, precision: str):
        self.epoch, self.model, self.tokenizer, self.train, self.device, self.precision = (
            epoch, model, tokenizer, train, device, precision)
        self.seen, self.logits = 0, None

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seen += 1
        if self.seen == self.epoch:
            self.logits = predict_logits(self.model, self.tokenizer, self.train, self.device, self.precision)
            self.model.train()


def fine_tune_trainer(model, kind: TaskKind, tokenizer, train: Features, hp: PhaseConfig, *, seed: int,
                      order: np.ndarray, device: torch.device, precision: str = "fp32", record: bool = True,
                      num_logits: int = 0, desc: str = "fine-tuning", bar_position: int | None = None,
                      eval_pass: int | None = None):
    """``hscore.engine.train.fine_tune`` through the Hugging Face Trainer (see the module docstring)."""
    n = len(train)
    order = np.asarray(order, dtype=np.int64)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError("order must be a permutation of the training rows")
    micro = math.ceil(n / hp.batch_size)
    torch.manual_seed(seed)
    model.to(device).train()
    if device.type == "cpu":
        embedding_grad.keep(model.get_input_embeddings())
    optimizer = torch.optim.AdamW(model.parameters(), lr=hp.lr, betas=tuple(hp.adam_betas), eps=hp.adam_eps,
                                  weight_decay=hp.weight_decay, fused=True)
    warmup, total = schedule_steps(hp, micro)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total)
    watch = LossWatch(device, precision, hp, desc)
    start_norm = weight_norm(model)
    cuda = device.type == "cuda"
    transformers.logging.set_verbosity_error()
    bar = tqdm(total=micro * hp.epochs, desc=desc, unit="step", mininterval=2.0, position=bar_position,
               leave=bar_position is None)
    recorder = None
    with tempfile.TemporaryDirectory(prefix="hscore-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=hp.batch_size, gradient_accumulation_steps=hp.grad_accum,
            num_train_epochs=hp.epochs, learning_rate=hp.lr, max_grad_norm=hp.max_grad_norm, seed=seed,
            use_cpu=not cuda, fp16=cuda and precision == "fp16", bf16=cuda and precision == "bf16",
            report_to="none", save_strategy="no", logging_strategy="no", eval_strategy="no", disable_tqdm=True,
            dataloader_num_workers=0, dataloader_pin_memory=False, remove_unused_columns=False,
            average_tokens_across_devices=False)
        if args.n_gpu > 1:   # one device, as the loop: the Trainer would spread each batch over every visible GPU
            args._n_gpu = 1   # (DataParallel); the worker pool gives each worker one GPU, a lone process sees all
        passes = [_EvalPass(eval_pass, model, tokenizer, train, device, precision)] \
            if record and num_logits and eval_pass else []
        options = dict(model=model, args=args, train_dataset=_Rows(n), data_collator=_Collate(kind, train, tokenizer),
                       optimizers=(optimizer, scheduler), callbacks=[_Progress(watch, bar, micro, seed), *passes],
                       kind=kind, order=order, watch=watch)
        if record:
            trainer = RecordingStudyTrainer(**options)
            recorder = DynamicsRecorder(kind, rows=Rows.from_features(train), target_columns=((TARGETS,),),
                                        keep_logits=num_logits > 0, write=False).attach(trainer)
        else:
            trainer = StudyTrainer(**options)
        trainer.remove_callback(PrinterCallback)   # the Trainer's log lines: the progress bar says it
        try:
            trainer.train()
        finally:
            bar.close()
    model = trainer.model
    if n:
        watch.check_end(model, end_loss(model, kind, tokenizer, train, order[:hp.batch_size], device, precision),
                        start_norm)
    if recorder is None:
        return None
    dynamics: RunDynamics | None = recorder.dynamics()
    if dynamics is None or dynamics.correct.shape[0] != hp.epochs:
        raise RecorderError(f"{desc}: the Trainer recorded {0 if dynamics is None else dynamics.correct.shape[0]} "
                            f"of {hp.epochs} epochs")
    if not (recorder.orders() == order[None]).all():
        raise RecorderError(f"{desc}: the Trainer did not visit the rows in the run's fixed order")
    if dynamics.logits.shape[-1] != num_logits:
        raise RecorderError(f"{desc}: the Trainer recorded {dynamics.logits.shape[-1]} logits per row, not "
                            f"{num_logits}")
    if passes:
        dynamics = dataclasses.replace(dynamics, eval_logits=passes[0].logits)
    return dynamics
