"""Phase-1 throughput of the study's loop against the Hugging Face Trainer, side by side, one run.

Both train the same model (same seed, same initialisation of the new head) on the same tokenized
rows in the same fixed order, with the same batch, learning rate, clipping and epochs, and both
keep every training step's logits (the Trainer through ``compute_loss``, as the official code
does); the Trainer pads each batch to its longest row (``DataCollatorWithPadding``). The contenders
alternate (A B C A B C ...) for ``--rounds`` rounds so that the machine's drift hits all alike; the
script prints the median examples/s of each and its ratio to the Trainer's, and appends a JSON
record to ``benchmarks/results.jsonl``.

Contenders: ``trainer``; ``ours`` (``hscore.engine.train.fine_tune`` as the study runs it: padding-free
when the profile's ``padding_free`` says so, torch's default threads); ``ours-padded`` (the same
loop on padded batches); ``ours-1thread``; ``ours-2proc``: two runs at once in two processes with
one thread each, as ``hscore run --jobs 2`` runs phase 1 on a 2-core CPU (its examples/s count
both runs).
Needs ``accelerate`` for the Trainer (``pip install -r benchmarks/requirements.txt``).

    python benchmarks/engine.py [--profile default] [--pair minilm/rotten_tomatoes] [--examples 480] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from hscore import config
from hscore.engine.device import describe_device, pick_device, versions
from hscore.engine.prepared import prepare
from hscore.engine.train import fine_tune, training_order


def _prepare(profile: str, pair: str | None, examples: int, precision: str | None = None,
             batch_size: int | None = None):
    model_id, task = config.parse_pair(pair) if pair else config.pairs(profile)[0]
    cfg = replace(config.pair_config(profile, model_id, task), train_cap=examples, require_gpu=False)
    cfg = replace(cfg, precision=precision or cfg.precision,
                  phase1=replace(cfg.phase1, batch_size=batch_size or cfg.phase1.batch_size))
    return cfg, prepare(cfg)


def _ours(cfg, data, seed: int, unpadded: bool | None = None) -> float:
    """Seconds of one epoch of ``fine_tune`` (recording, as phase 1), padding-free as ``cfg`` says
    (``unpadded`` overrides it)."""
    device = pick_device()
    model, _ = data.fresh_model(seed, unpadded)
    hp = replace(cfg.phase1, epochs=1)
    start = time.perf_counter()
    fine_tune(model, data.kind, data.tokenizer, data.train, hp, seed=seed, order=training_order(len(data.train), seed),
              device=device, precision=cfg.precision, num_logits=data.num_logits, desc="ours")
    return time.perf_counter() - start


def _trainer(cfg, data, seed: int) -> float:
    """Seconds of one epoch of the Hugging Face Trainer, recording every step's logits."""
    import datasets
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    model, _ = data.fresh_model(seed, unpadded=False)  # the Trainer computes on padded batches
    order = training_order(len(data.train), seed)
    rows = {"input_ids": [data.train.input_ids[i] for i in order], "labels": data.train.targets[order].tolist()}
    if data.train.token_type_ids is not None:
        rows["token_type_ids"] = [data.train.token_type_ids[i] for i in order]
    dataset = datasets.Dataset.from_dict(rows)
    kept = []

    class Recording(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
            kept.append(outputs.logits.detach())
            return (loss, outputs) if return_outputs else loss

        def _get_train_sampler(self, *args, **kwargs):  # the fixed order, as the study's
            return torch.utils.data.SequentialSampler(self.train_dataset)

    hp = cfg.phase1
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=hp.batch_size, learning_rate=hp.lr,
                                 num_train_epochs=1, max_grad_norm=hp.max_grad_norm, weight_decay=hp.weight_decay,
                                 lr_scheduler_type="linear", warmup_steps=0, seed=seed, report_to=[],
                                 save_strategy="no", logging_strategy="no", disable_tqdm=True,
                                 dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
                                 fp16=torch.cuda.is_available() and cfg.precision == "fp16",
                                 bf16=torch.cuda.is_available() and cfg.precision == "bf16")
        trainer = Recording(model=model, args=args, train_dataset=dataset,
                            data_collator=DataCollatorWithPadding(data.tokenizer))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    assert sum(len(k) for k in kept) == len(order)
    return seconds


def _ours_1thread(cfg, data, seed: int) -> float:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _ours(cfg, data, seed)
    finally:
        torch.set_num_threads(threads)


def _worker(args) -> tuple[float, float]:
    """One run in a fresh process with one thread; waits for its sibling before the timed epoch."""
    profile, pair, examples, seed, barrier = args
    torch.set_num_threads(1)
    cfg, data = _prepare(profile, pair, examples)
    _ours(cfg, replace(data, train=data.train.take(range(16))), seed)  # warm-up
    barrier.wait()
    start = time.time()
    _ours(cfg, data, seed)
    return start, time.time()


def _ours_2proc(profile, pair, examples, seed) -> float:
    """Wall seconds for two runs at once (per run: the same epoch as the others)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        spans = pool.map(_worker, [(profile, pair, examples, seed + k, barrier) for k in range(2)])
    return (max(e for _, e in spans) - min(s for s, _ in spans)) / 2  # seconds per run's epoch


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--pair", default=None, help="MODEL/TASK (default: the profile's first pair)")
    parser.add_argument("--examples", type=int, default=480)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="contenders to run (default: all)")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default=None,
                        help="on a GPU (default: the profile's; the CPU always trains in fp32)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's phase-1 batch size")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.jsonl"),
                        help="the JSON-lines file the record is appended to")
    args = parser.parse_args(argv)
    cfg, data = _prepare(args.profile, args.pair, args.examples, args.precision, args.batch_size)
    contenders = {"trainer": lambda s: _trainer(cfg, data, s), "ours": lambda s: _ours(cfg, data, s),
                  "ours-padded": lambda s: _ours(cfg, data, s, unpadded=False),
                  "ours-1thread": lambda s: _ours_1thread(cfg, data, s),
                  "ours-2proc": lambda s: _ours_2proc(args.profile, args.pair, args.examples, s)}
    contenders = {k: v for k, v in contenders.items() if args.only is None or k in args.only}
    _ours(cfg, replace(data, train=data.train.take(range(16))), 0)  # warm-up
    seconds = {name: [] for name in contenders}
    for r in range(args.rounds):
        for name, run in contenders.items():
            seconds[name].append(run(100 + r))
            print(f"round {r + 1} {name}: {len(data.train) / seconds[name][-1]:.1f} examples/s", flush=True)
    rates = {name: len(data.train) / statistics.median(s) for name, s in seconds.items()}
    base = rates.get("trainer")
    for name, rate in rates.items():
        print(f"{name:>14}: {rate:6.1f} examples/s" + (f"   {rate / base:.2f}x the Trainer" if base else ""))
    record = {"benchmark": "engine", "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pair": f"{cfg.model}/{cfg.task}",
              "examples": len(data.train), "batch_size": cfg.phase1.batch_size, "max_length": cfg.max_length,
              "lr": cfg.phase1.lr, "padding_free": cfg.padding_free, "rounds": args.rounds,
              "device": describe_device(pick_device()),
              "precision": cfg.precision if torch.cuda.is_available() else "fp32",
              "examples_per_second": {k: round(v, 2) for k, v in rates.items()},
              "seconds": seconds, "versions": versions()}
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
