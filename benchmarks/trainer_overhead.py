"""Recording overhead in a user's own Trainer run: the same run with hscore's recorder and without it.

A user's script, as the book's page *Score your own Trainer run* shows it: a ``datasets.Dataset`` of the
pair's training examples (text columns, label, id, and the tokens), ``DataCollatorWithPadding``, the
pretrained model with a new head (padded: the Trainer's own model, no hscore engine), the pair's phase-1
batch size and learning rate. ``plain``: ``transformers.Trainer``; ``recorder``:
``hscore.engine.recorder.RecordingTrainer`` with a ``DynamicsRecorder`` writing the run's files. The two
alternate (plain first in odd rounds, the recorder first in even ones) for ``--rounds`` rounds.

Measured: the median optimiser-step time of each (a callback's ``on_step_begin`` to ``on_step_end``:
forward, recording, backward, update), the whole ``train()`` wall time (the collator wrapper, the
epoch-end gather and the files included), their ratios; the recorder's own work timed in isolation, which
the noise of a shared machine does not blur: per micro-batch (``DynamicsRecorder.record`` on a real batch's
outputs) and per run and epoch (reading the rows and the data fingerprint, an epoch's merge, the files);
and that both end with the same training loss (the recorder does not change training). Target: under 3% of
the step time. Appends a JSON record to ``benchmarks/results.jsonl``::

    python benchmarks/trainer_overhead.py [--profile default] [--pair minilm/rotten_tomatoes] [--examples 320]
                                          [--epochs 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import datasets
import torch
import transformers
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

from hscore import config
from hscore.engine.device import describe_device, pick_device, versions
from hscore.engine.models import load_model
from hscore.engine.prepared import prepare
from hscore.engine.recorder import POSITION, DynamicsRecorder, RecordingTrainer, Rows


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self.start = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)


def user_dataset(data, max_length: int):
    """The pair's training examples as a user's script holds them: texts, label, id, tokens."""
    split = data.splits["train"]
    columns = {"idx": split.ids.tolist(), "text": list(split.text_a), "label": split.labels.tolist()}
    if split.text_b is not None:
        columns["text_pair"] = list(split.text_b)
    texts = (columns["text"],) if split.text_b is None else (columns["text"], columns["text_pair"])
    return datasets.Dataset.from_dict({**columns, **data.tokenizer(*texts, truncation=True, max_length=max_length)})


def one_run(record: bool, cfg, data, train, folder: str, epochs: int, seed: int = 0):
    model = load_model(cfg.checkpoint, data.head, data.num_logits, seed, data.tokenizer.pad_token_id)
    timer = StepTimer()
    args = TrainingArguments(output_dir=f"{folder}/trainer", per_device_train_batch_size=cfg.phase1.batch_size,
                             learning_rate=cfg.phase1.lr, num_train_epochs=epochs, seed=seed, report_to="none",
                             save_strategy="no", logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0,
                             use_cpu=not torch.cuda.is_available())
    options = dict(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(data.tokenizer),
                   processing_class=data.tokenizer, callbacks=[timer])
    if record:
        trainer = RecordingTrainer(**options, dynamics=DynamicsRecorder("classification", output_dir=f"{folder}/run"))
    else:
        trainer = Trainer(**options)
    trainer.remove_callback(transformers.PrinterCallback)
    start = time.perf_counter()
    out = trainer.train()
    wall = time.perf_counter() - start
    return statistics.median(timer.times[1:]), wall, out.training_loss, trainer


def isolated_record_cost(trainer, repeats: int = 200) -> float:
    """Seconds per call of the recorder's per-micro-batch work on a real batch's outputs."""
    recorder = trainer._hscore_recorder
    loader = trainer.get_train_dataloader()
    inputs = next(iter(loader))
    positions = inputs.pop(POSITION)
    model = trainer.model.train()
    targets = recorder.batch_targets(inputs)
    with torch.no_grad():
        outputs = model(**inputs)
    recorder.begin_train(trainer.args, trainer.state, loader)
    recorder.buffer.reserve((repeats + 10) * len(positions))
    for _ in range(10):
        recorder.record(outputs, targets, positions)
    start = time.perf_counter()
    for _ in range(repeats):
        recorder.record(outputs, targets, positions)
    return (time.perf_counter() - start) / repeats


def fixed_costs(trainer, train) -> dict[str, float]:
    """Seconds of the recorder's once-per-run and once-per-epoch work: the rows and the data fingerprint,
    one epoch's merge (N records, on the host), the run's files."""
    recorder = trainer._hscore_recorder
    start = time.perf_counter()
    Rows.from_dataset(train, "classification", None, recorder.target_columns, trainer.processing_class)
    rows = time.perf_counter() - start
    loader = trainer.get_train_dataloader()
    trainer.state.global_step = 0
    recorder.begin_train(trainer.args, trainer.state, loader)
    recorder.begin_epoch(trainer.args, trainer.state, loader)
    model = trainer.model.train()
    with torch.no_grad():
        for inputs in loader:
            positions = inputs.pop(POSITION)
            recorder.record(model(**inputs), recorder.batch_targets(inputs), positions)
    control = type("Control", (), {"should_training_stop": False})()
    start = time.perf_counter()
    recorder.end_epoch(trainer.args, trainer.state, control)
    merge = time.perf_counter() - start
    start = time.perf_counter()
    recorder.finish(trainer.args, trainer.state)
    files = time.perf_counter() - start
    return {"rows_and_fingerprint": rows, "epoch_merge": merge, "files": files}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--pair", default=None, help="MODEL/TASK (default: the profile's first pair)")
    parser.add_argument("--examples", type=int, default=320)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.jsonl"),
                        help="the JSON-lines file the record is appended to")
    args = parser.parse_args(argv)
    model_id, task = config.parse_pair(args.pair) if args.pair else config.pairs(args.profile)[0]
    cfg = replace(config.pair_config(args.profile, model_id, task), train_cap=args.examples, require_gpu=False)
    data = prepare(cfg)
    if data.kind.name != "classification":
        parser.error("the overhead benchmark runs a classification pair (a user's text-and-label script)")
    train = user_dataset(data, cfg.max_length)
    transformers.logging.set_verbosity_error()
    print(f"{cfg.pair}: {len(train)} examples, batch {cfg.phase1.batch_size}, {args.epochs} epoch(s), "
          f"{describe_device(pick_device())}, {args.rounds} rounds alternating", flush=True)
    steps, walls, losses, last = {False: [], True: []}, {False: [], True: []}, {False: [], True: []}, None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for record in ((False, True) if r % 2 == 0 else (True, False)):
                step, wall, loss, trainer = one_run(record, cfg, data, train, f"{tmp}/{r}-{int(record)}", args.epochs)
                steps[record].append(step)
                walls[record].append(wall)
                losses[record].append(loss)
                print(f"  round {r + 1} {'recorder' if record else 'plain   '}: median step {step * 1e3:7.1f} ms, "
                      f"train() {wall:6.2f} s, loss {loss:.6f}", flush=True)
                if record:
                    last = trainer
        per_call = isolated_record_cost(last)
        fixed = fixed_costs(last, train)
    plain_step, rec_step = statistics.median(steps[False]), statistics.median(steps[True])
    paired = statistics.median(r / p for r, p in zip(steps[True], steps[False], strict=True))
    record = {"benchmark": "trainer_overhead", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pair": cfg.pair,
              "examples": len(train), "epochs": args.epochs, "batch_size": cfg.phase1.batch_size,
              "rounds": args.rounds, "device": describe_device(pick_device()), "threads": torch.get_num_threads(),
              "median_step_s": {"plain": plain_step, "recorder": rec_step},
              "step_ratio": rec_step / plain_step, "paired_step_ratio": paired,
              "train_s": {"plain": walls[False], "recorder": walls[True]},
              "train_ratio_best": min(walls[True]) / min(walls[False]),
              "record_call_s": per_call, "record_call_share_of_step": per_call / plain_step,
              "fixed_s": fixed, "same_loss": sorted(round(x, 6) for x in losses[False])
              == sorted(round(x, 6) for x in losses[True]),
              "losses": {"plain": losses[False], "recorder": losses[True]}, "versions": versions()}
    print(f"median step: plain {plain_step * 1e3:.1f} ms, recorder {rec_step * 1e3:.1f} ms, ratio "
          f"{record['step_ratio']:.4f} (median of the rounds' paired ratios {paired:.4f}); train() best of "
          f"{args.rounds}: ratio {record['train_ratio_best']:.4f}")
    print(f"the recorder's own work per micro-batch (isolated): {per_call * 1e6:.0f} us = "
          f"{100 * record['record_call_share_of_step']:.3f}% of a plain step; fixed: "
          + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in fixed.items())
          + f"; same training loss with and without: {record['same_loss']}")
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
