"""Recorded runs for the multi-process test: run under ``accelerate launch --multi_gpu --num_processes 2`` on a
machine without CUDA (torchrun, gloo), or as one process with the same global batch (``--batch 8``). Writes
``<out>/n<rows>/`` per training set size, and with ``--resume`` ``<out>/n40-resumed/``: a run killed after
step 3 and resumed from its checkpoint of step 2 (every process saved its own records into it).

No dropout, so two runs that see the same global batches differ only by floating-point rounding (per-rank
batches of 4 against one batch of 8; gradients averaged across processes). ``average_tokens_across_devices``
is off: with it on (the default), transformers 5.23 multiplies the loss of a model that accepts loss kwargs
by the number of processes, and BERT's classification loss ignores ``num_items_in_batch``, so a 2-process
run steps with twice the gradient of a 1-process run (Adam nearly hides it; gradient clipping does not).
That is the Trainer's behaviour with or without the recorder."""

from __future__ import annotations

import argparse
import json
import os

import torch

torch.set_num_threads(1)

from transformers import DataCollatorWithPadding, TrainerCallback  # noqa: E402

import trainer_fixtures as tf  # noqa: E402
from hscore.engine.recorder import DynamicsRecorder, RecordingTrainer  # noqa: E402


class Interrupt(Exception):
    pass


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt


def one(folder: str, n: int, batch: int, callbacks=(), resume=None, **argkw):
    trainer = RecordingTrainer(
        model=tf.tiny_model(seed=0, dropout=0.0), args=tf.args(os.path.join(folder, "trainer"),
                                                                per_device_train_batch_size=batch,
                                                                average_tokens_across_devices=False, **argkw),
        train_dataset=tf.classification_data(n), data_collator=DataCollatorWithPadding(tf.tokenizer()),
        processing_class=tf.tokenizer(), callbacks=list(callbacks),
        dynamics=DynamicsRecorder("classification", id_column="idx", output_dir=folder))
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def run(out: str, batch: int = 4, rows=(40, 42), resume: bool = False) -> None:
    if resume:  # killed after step 3, resumed from the checkpoint of step 2 (inside epoch 1)
        folder = os.path.join(out, f"n{rows[0]}-resumed")
        try:
            one(folder, rows[0], batch, [StopAt(3)], save_strategy="steps", save_steps=2)
        except Interrupt:
            pass
        one(folder, rows[0], batch, resume=True, save_strategy="steps", save_steps=2)
    for n in rows:
        folder = os.path.join(out, f"n{n}")
        trainer = one(folder, n, batch)
        if trainer.is_world_process_zero():
            with open(os.path.join(folder, "world.json"), "w") as f:
                json.dump({"world_size": trainer.accelerator.num_processes,
                           "backend": str(torch.distributed.get_backend()) if torch.distributed.is_initialized()
                           else None}, f)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rows", type=int, nargs="+", default=[40, 42])
    p.add_argument("--resume", action="store_true", help="also a run killed after step 3 and resumed")
    a = p.parse_args()
    run(a.out, a.batch, a.rows, a.resume)
